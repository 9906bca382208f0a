"""``highseas init`` never overwrites a file without ``--force``, and the
``$schema`` modeline it writes resolves to a schema in the project."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from highseas import codes
from highseas.cli import main

CSV = "quick-order.new-rep-customers.csv"


def init(directory: Path, company: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["init", "--archetype", "quick-order", "--company",
                                       company, *extra, str(directory)])
    return result.exit_code, result.output


def test_two_companies_share_an_unedited_csv(tmp_path: Path) -> None:
    assert init(tmp_path, "acme")[0] == 0
    assert init(tmp_path, "beta")[0] == 0
    assert (tmp_path / "beta.yaml").is_file()


def test_an_edited_shared_csv_is_not_overwritten(tmp_path: Path) -> None:
    assert init(tmp_path, "acme")[0] == 0
    shared = tmp_path / CSV
    edited = shared.read_text(encoding="utf-8") + "# edited by hand\n"
    shared.write_text(edited, encoding="utf-8")
    code, output = init(tmp_path, "beta")
    assert code == 2 and codes.INIT_FILE_EXISTS in output and CSV in output
    assert shared.read_text(encoding="utf-8") == edited
    assert not (tmp_path / "beta.yaml").exists(), "nothing is written when refused"
    code, _ = init(tmp_path, "beta", "--force")
    assert code == 0 and shared.read_text(encoding="utf-8") != edited


def test_the_schema_modelines_resolve(tmp_path: Path) -> None:
    assert init(tmp_path, "acme")[0] == 0
    for name in ("acme.yaml", "acme.tests.yaml"):
        first = (tmp_path / name).read_text(encoding="utf-8").splitlines()[0]
        match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
        assert match, first
        target = tmp_path / match.group(1)
        assert target.is_file(), f"{name}: {match.group(1)} does not resolve"
        assert json.loads(target.read_text(encoding="utf-8"))["$schema"].startswith("https://")
