"""Every pointer to the docs in edgelat's messages names a page that exists; none points at the README."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for p in ROOT.rglob("*.py") if not {".venv", "tests", "runs", "benchmarks"} & set(p.parts)]


def test_docs_pages_named_in_the_code_exist():
    named = {(p.relative_to(ROOT), page) for p in SOURCES for page in re.findall(r"docs/[\w/.-]+\.md", p.read_text())}
    assert named, "no message points at the docs"
    missing = [f"{src}: {page}" for src, page in named if not (ROOT / page).is_file()]
    assert not missing


def test_no_message_points_at_a_readme_section():
    stale = [str(p.relative_to(ROOT)) for p in SOURCES if re.search(r"see (the )?README", p.read_text())]
    assert not stale
