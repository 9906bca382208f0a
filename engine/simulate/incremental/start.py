"""The engine state a replay starts from: rotation positions, relays in
progress and the relay history, read once from the rewound copy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from highseas.nightly.plan import RelayStateRow
from highseas.ruleset.model import Ruleset

if TYPE_CHECKING:
    import duckdb


@dataclass
class EngineStart:
    """What the nightly run keeps between runs, as of the first replayed day."""

    #: (allocation id, pool or region key) -> the last salesperson served.
    rotation: dict[tuple[str, str], str | None]
    #: customer -> its relay in progress.
    relays: dict[str, RelayStateRow]
    #: Relay events so far: customer -> [(day, relay id, action, from, to)].
    relay_events: dict[str, list[tuple[date, str, str, str | None, str | None]]]
    #: Relays in progress whose holder already made contact before the first day.
    contacted_before: set[str]


def read_start(con: duckdb.DuckDBPyConnection, ruleset: Ruleset, first: date) -> EngineStart:
    company = ruleset.company.id
    rotation = {(a, p): r for a, p, r in con.execute(
        "SELECT allocation_id, pool_id, last_rep_id FROM rotation_state WHERE company_id = ?",
        [company]).fetchall()}
    relays = {
        customer_id: RelayStateRow(customer_id, relay_id, int(round_), rep_id, started_on,
                                   deadline, tuple(tried or ()))
        for customer_id, relay_id, round_, rep_id, started_on, deadline, tried in con.execute(
            "SELECT customer_id, relay_id, round, rep_id, started_on, deadline, reps_tried "
            "FROM relay_state WHERE company_id = ?", [company]).fetchall()
    }
    relay_ids = [relay.id for relay in ruleset.relays]
    relay_events: dict[str, list[tuple[date, str, str, str | None, str | None]]] = {}
    if relay_ids:
        for customer_id, as_of, rule_id, action, from_rep, to_rep in con.execute(
            "SELECT customer_id, as_of, rule_id, action, from_rep_id, to_rep_id "
            "FROM ownership_events WHERE company_id = ? "
            "AND rule_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY as_of, \"at\", event_id",
            [company, relay_ids]).fetchall():
            relay_events.setdefault(customer_id, []).append(
                (as_of, rule_id, action, from_rep, to_rep))
    contacted_before = {
        row[0] for row in con.execute(
            "SELECT s.customer_id FROM relay_state s WHERE s.company_id = ? AND EXISTS ("
            "SELECT 1 FROM activities a WHERE a.company_id = s.company_id "
            "AND a.customer_id = s.customer_id AND a.rep_id = s.rep_id "
            "AND a.\"at\" >= s.started_on AND a.\"at\" < ?)",
            [company, first]).fetchall()
    } if relays else set()
    return EngineStart(rotation, relays, relay_events, contacted_before)
