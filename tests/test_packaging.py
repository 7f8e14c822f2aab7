"""The distribution ships every module and every shipped diffusers config."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPED = {"layerbridge.daemon": ROOT / "daemon", "layerbridge.desktop": ROOT / "desktop"}


def _packages_on_disk() -> set[str]:
    """Every folder that holds Python modules or data, as the dotted name it installs under.
    Folders whose names cannot be imported (`sd15-inpaint`) travel as package data instead."""
    found = set()
    for name, base in MAPPED.items():
        for folder in [base, *(p for p in base.rglob("*") if p.is_dir())]:
            parts = folder.relative_to(base).parts
            if "__pycache__" in parts or not all(part.isidentifier() for part in parts):
                continue
            if any(child.is_file() for child in folder.iterdir()):
                found.add(".".join([name, *parts]))
    return found


def test_every_package_and_config_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {k: v.name for k, v in MAPPED.items()}
    listed = set(config["packages"])
    on_disk = _packages_on_disk()
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages"
    assert listed - on_disk == set(), "these are listed but gone"
