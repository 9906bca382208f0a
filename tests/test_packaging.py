"""The installed package holds every module of the source folder.

``engine/`` installs as ``highseas`` through an explicit package list in
pyproject.toml; a new sub-package missing from that list works in an
editable install and breaks ``pip install .`` (the README's first command).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_of_the_source_folder_is_installed() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(("highseas", *init.parent.relative_to(ROOT / "engine").parts))
        for init in (ROOT / "engine").rglob("__init__.py")
    }
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - found == {"highseas.schemas", "highseas.rulesets"}


def test_the_data_folders_ship_their_files() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    data = config["tool"]["setuptools"]["package-data"]
    assert (ROOT / "schemas" / "ruleset.schema.json").exists()
    assert "*.json" in data["highseas.schemas"]
    assert {"*.yaml", "*.csv"} <= set(data["highseas.rulesets"])
