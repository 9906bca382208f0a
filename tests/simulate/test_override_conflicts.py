"""Two overrides of one path are refused (HS709): which would win is nowhere said."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from highseas import codes
from highseas.cli import main
from highseas.errors import InvalidInputError
from highseas.simulate.overrides import build_scenarios

ROOT = Path(__file__).resolve().parents[2]
REGIONAL = ROOT / "rulesets" / "regional-trading.yaml"


@pytest.mark.parametrize(("sets", "idle_period", "sweeps"), [
    ((), "90d", ("idle-period=30d,60d",)),
    (("caps.cooldown=10d",), None, ("caps.cooldown=20d,30d",)),
    (("caps.cooldown=10d", "caps.cooldown=20d"), None, ()),
    ((), None, ("idle-period=30d,60d", "idle-period=90d,120d")),
    (("caps.private.veteran.max=10",), None, ("caps.private.veteran=1,2",)),
])
def test_conflicting_overrides_are_refused(sets: tuple[str, ...], idle_period: str | None,
                                           sweeps: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInputError) as raised:
        build_scenarios(REGIONAL, sets, idle_period, sweeps)
    assert raised.value.first.code == codes.CONFLICTING_OVERRIDES
    assert raised.value.exit_code == 2


def test_distinct_paths_still_combine() -> None:
    scenarios = build_scenarios(REGIONAL, ("caps.cooldown=10d",), None, ("idle-period=30d,60d",))
    assert [s.name for s in scenarios] == [
        "baseline", "caps.cooldown=10d, idle-period=30d", "caps.cooldown=10d, idle-period=60d"]


def test_cli_reports_the_code(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [
        "simulate", "--ruleset", str(REGIONAL), "--db", str(tmp_path / "absent.duckdb"),
        "--from", "2026-01-01", "--to", "2026-01-31",
        "--idle-period", "90d", "--sweep", "idle-period=30d,60d",
    ])
    assert result.exit_code == 2, result.output
    assert codes.CONFLICTING_OVERRIDES in result.output
    assert "--idle-period 90d and --sweep idle-period=... both set idle-period" in result.output
