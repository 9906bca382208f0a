"""Step 3 of the nightly run: release rules.

In ruleset order, the first rule that matches (its ``when`` holds and its
``unless`` exemption does not) releases the customer. Exemptions beat
everything for their rule; customers in a relay are not released by release
rules. Selected and written in SQL.
"""

from __future__ import annotations

from highseas.nightly.events import RuleReleased
from highseas.nightly.ledger import UNCHANGED, RunLedger, arrow
from highseas.store.db import registered


def releases(ledger: RunLedger) -> None:
    """Step 3: release the owned customers each release rule matches."""
    import pyarrow as pa

    con = ledger.con
    evaluation = ledger.evaluation
    for rule in ledger.ruleset.release_rules:
        name = f"release:{rule.id}"
        expression, params = evaluation.where(name)
        pool_sql, pool_params = ledger.pool_sql(rule.target)
        columns = evaluation.columns(name)
        quoted = ledger.quoted(columns)
        aliased = "".join(f", {q} AS c{i}" for i, q in enumerate(quoted))
        ledger.sync()
        con.execute(
            "CREATE OR REPLACE TEMP TABLE hs_selected AS "
            f"SELECT f.customer_id, f.owner_rep_id, f.name, {pool_sql} AS pool{aliased} "
            f"FROM {ledger.facts_table} f WHERE ({expression}) AND f.owner_rep_id IS NOT NULL "
            f"AND {UNCHANGED}",
            [*pool_params, *params],
        )
        # Customers with equal values in the columns the rule reads get the
        # same reason: describe each distinct pattern once (the explainer's
        # words are memoised per leaf and value) and join the sentences back.
        keys = [f"c{i}" for i in range(len(quoted))]
        patterns = arrow(con, "SELECT DISTINCT "
                         + (", ".join(keys) if keys else "1 AS hs_one")
                         + " FROM hs_selected")
        if not patterns.num_rows:
            continue
        sentences = [
            evaluation.describe(name, dict(zip(columns, values, strict=True)))
            for values in zip(*(patterns.column(key).to_pylist() for key in keys),
                              strict=True)
        ] if keys else [evaluation.describe(name, {})]
        reasons = patterns.append_column("hs_reason", pa.array(sentences, pa.string()))
        on = " AND ".join(f"p.{k} IS NOT DISTINCT FROM s.{k}" for k in keys) or "TRUE"
        with registered(con, "hs_reasons", reasons):
            ledger.insert_batch(
                "SELECT s.customer_id, 'release', ?, "
                "p.hs_reason || ': ' || s.name || ' returns to ' || s.pool, "
                "s.owner_rep_id, NULL, NULL, s.pool, s.name, NULL, NULL, NULL, NULL "
                f"FROM hs_selected s JOIN hs_reasons p ON {on}",
                [rule.id],
            )
        ledger.observer.notice(RuleReleased(rule.id))
