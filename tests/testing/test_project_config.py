"""The project configuration (highseas.toml or [tool.highseas]) is found from
the current directory upward and says which files are rulesets and tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from highseas import codes
from highseas.cli import main
from highseas.errors import InvalidInputError
from highseas.ruleset.project import find_config


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    assert CliRunner().invoke(main, ["init", "--archetype", "quick-order", "--company", "acme",
                                     str(tmp_path / "rules")]).exit_code == 0
    (tmp_path / "mkdocs.yml").write_text("site_name: docs\nnav: []\n", encoding="utf-8")
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "other.tests.yaml").write_text("bogus\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.highseas]\n'
        'rulesets = ["**/*.yaml", "*.yml"]\ntests = ["**/*.tests.yaml"]\n'
        'exclude = ["vendor/**", "mkdocs.yml"]\nstrict = true\nmin_coverage = 100\n',
        encoding="utf-8")
    return tmp_path


def test_found_from_a_nested_directory(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nested = project / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    config = find_config()
    assert config is not None and config.source == project / "pyproject.toml"
    assert config.strict and config.min_coverage == 100
    assert config.ruleset_files() == [project / "rules" / "acme.yaml"]
    assert config.test_files() == [project / "rules" / "acme.tests.yaml"]
    result = CliRunner().invoke(main, ["test"])
    assert result.exit_code == 0, result.output
    assert "10 passed" in result.output and "vendor" not in result.output


def test_highseas_toml_comes_first(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "highseas.toml").write_text('tests = ["none/*.tests.yaml"]\n', encoding="utf-8")
    monkeypatch.chdir(project)
    config = find_config()
    assert config is not None and config.source.name == "highseas.toml"
    result = CliRunner().invoke(main, ["test"])
    assert result.exit_code == 2 and codes.NO_TEST_FILES in result.output


def test_an_unknown_key_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "highseas.toml").write_text('test = ["*.tests.yaml"]\n', encoding="utf-8")
    with pytest.raises(InvalidInputError) as raised:
        find_config(tmp_path)
    assert raised.value.first.code == codes.PROJECT_CONFIG_INVALID
    assert "tests" in raised.value.first.hint


def test_none_without_a_configuration(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert find_config(tmp_path) is None
