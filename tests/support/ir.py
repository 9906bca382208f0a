"""Shared helpers for the compiler / IR / durable evaluation tests."""

from __future__ import annotations

from datetime import date

from highseas.ruleset import model
from highseas.ruleset.durations import Duration

AS_OF = date(2026, 11, 23)
TODAY = AS_OF.toordinal()


def d(text: str) -> Duration:
    return Duration.parse(text)


def make_ruleset(
    release_rules: tuple[model.ReleaseRule, ...] = (),
    relays: tuple[model.ActivationRelay, ...] = (),
    protects: tuple[tuple[str, model.Condition], ...] = (),
    custom_fields: tuple[model.CustomField, ...] = (),
) -> model.Ruleset:
    """A minimal valid ruleset around the given conditions."""
    return model.Ruleset(
        version=1,
        company=model.Company("acme", "ACME", "UTC"),
        tiers=(model.Tier("new"), model.Tier("veteran")),
        custom_fields=custom_fields,
        release_rules=release_rules,
        relays=relays,
        caps=model.Caps(
            private=tuple(model.PrivateCap(tier, 10, protect=cond) for tier, cond in protects)
        ),
        content_hash="sha256:test",
    )


def one_rule(
    when: model.Condition,
    unless: model.Condition | None = None,
    custom_fields: tuple[model.CustomField, ...] = (),
    rule_id: str = "r",
) -> model.Ruleset:
    """A ruleset with a single release rule."""
    return make_ruleset(
        release_rules=(model.ReleaseRule(rule_id, when=when, unless=unless),),
        custom_fields=custom_fields,
    )


def fact(k: int, **columns: object) -> dict[str, object]:
    """A derived-facts row with defaults for the NOT NULL columns."""
    row: dict[str, object] = {"k": k, "customer_id": f"C{k}", "contacted": True,
                              "open_orders": 0, "tags": []}
    row.update(columns)
    return row
