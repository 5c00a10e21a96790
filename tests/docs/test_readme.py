"""The configuration table (docs/CONFIGURATION.md) stays true to what settings.py reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Every way settings.py reads a variable: its typed helpers, and the bare read of VAR_DIR.
READS = re.compile(
    r"""(?:_typed|_strict_bool|_required_in_production|\.str)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
)


def documented_variables() -> set[str]:
    table = (ROOT / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", table, flags=re.MULTILINE))


def test_it_documents_every_variable_settings_reads() -> None:
    read = set(READS.findall((ROOT / "inventory_sync" / "settings.py").read_text("utf-8")))
    assert {"DEBUG", "DATABASE_URL", "REDIS_URL", "VAR_DIR"} <= read  # the pattern still matches
    assert read - documented_variables() == set(), "add these to docs/CONFIGURATION.md"


def test_it_documents_only_variables_something_reads() -> None:
    sources = [
        ROOT / "inventory_sync" / "settings.py",
        ROOT / "Makefile",
        ROOT / "scripts" / "run.py",
        ROOT / "docker-compose.yml",
        ROOT / "tests" / "conftest.py",
        ROOT / "marketplaces" / "management" / "commands" / "setup_demo.py",
    ]
    text = "\n".join(path.read_text(encoding="utf-8") for path in sources)
    stale = {name for name in documented_variables() if name not in text}
    assert stale == set(), "docs/CONFIGURATION.md documents variables nothing reads"
