"""Language versions of a ruleset: which keys need ``version: 1.1``.

``version: 1`` files stay valid unchanged. Version 1.1 (written ``1.1`` or
``"1.1"``) adds the keys and values listed in docs/rulesets.md ("Language
versions"); a file that uses one under ``version: 1`` gets HS328 naming the
key, so the author learns to declare 1.1 rather than that the key is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from highseas import codes
from highseas.errors import Diagnostic
from highseas.ruleset.yaml_loader import nearest_position

#: The newest language version, as the model stores it.
LATEST = "1.1"


def language_version(value: Any) -> str:
    """The declared ``version`` as text: ``"1"`` or ``"1.1"``."""
    return LATEST if is_latest(value) else "1"


def _items(data: dict[str, Any], key: str) -> Iterator[tuple[int, dict[str, Any]]]:
    value = data.get(key)
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def _mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def newer_features(data: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(json path, what) of every 1.1 key or value in a schema-valid document."""
    for i, tier in _items(data, "tiers"):
        if tier.get("tenure") == {}:
            yield f"$.tiers[{i}].tenure", "a catch-all tier (`tenure: {}`)"
    for i, pool in _items(data, "pools"):
        if pool.get("regions") == []:
            yield f"$.pools[{i}].regions", "a pool that covers no region (`regions: []`)"
    for i, cap in _items(_mapping(data, "caps"), "private"):
        excess = cap.get("excess_to")
        path = f"$.caps.private[{i}].excess_to"
        if isinstance(excess, list):
            yield path, "a list of `excess_to` targets"
        elif isinstance(excess, dict) and "when" in excess:
            yield f"{path}.when", "`when` on `excess_to`"
    for i, allocation in _items(data, "allocation"):
        path = f"$.allocation[{i}]"
        for key in ("when", "capacity_per_rep"):
            if key in allocation:
                yield f"{path}.{key}", f"`{key}` on an allocation"
        if allocation.get("capacity_per_30d") == 0:
            yield f"{path}.capacity_per_30d", "`capacity_per_30d: 0`"
        weights = allocation.get("weights")
        if isinstance(weights, dict):
            for kind in ("tiers", "reps"):
                for name, weight in (weights.get(kind) or {}).items():
                    if weight == 0:
                        yield f"{path}.weights.{kind}.{name}", "a weight of 0"
    for i, relay in _items(data, "activation_relay"):
        for key in ("region_match", "max_per_rep_per_run", "lapsed_cooldown"):
            if key in relay:
                yield f"$.activation_relay[{i}].{key}", f"`{key}` on a relay"


def version_diagnostics(
    data: Any, positions: dict[str, tuple[int, int]], file: str
) -> list[Diagnostic]:
    """HS328 for every 1.1 feature of a document declaring an older version."""
    if not isinstance(data, dict) or is_latest(data.get("version")):
        return []
    found = []
    for path, what in newer_features(data):
        line, column = nearest_position(positions, path)
        found.append(Diagnostic(
            code=codes.NEWER_LANGUAGE_KEY,
            message=f"{what} needs language version {LATEST}; this file declares version "
            f"{data.get('version')}",
            file=file, line=line, column=column, json_path=path,
            hint=f"declare `version: {LATEST}` at the top of the file",
        ))
    return found


def is_latest(value: Any) -> bool:
    """Whether a declared ``version`` is 1.1."""
    return value in (1.1, "1.1") and not isinstance(value, bool)
