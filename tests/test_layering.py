"""Imports point downward only: core <- devices <- profiler <- predictors <- search <- api <- cli."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["core", "devices", "profiler", "predictors", "search", "api", "cli"]  # a folder, or a module (api.py)


def edgelat_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("edgelat."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.ImportFrom) and node.module == "edgelat":  # from edgelat import search
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("edgelat.")}
    return found


@pytest.mark.parametrize("layer", ORDER[:-1])
def test_no_upward_imports(layer):
    above = set(ORDER[ORDER.index(layer) + 1 :])
    paths = list((ROOT / layer).rglob("*.py")) or [ROOT / f"{layer}.py"]
    for path in paths:
        bad = edgelat_imports(path) & above
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)} from a layer above {layer}"


def test_timing_runner_is_self_contained():
    assert edgelat_imports(ROOT / "devices" / "runners" / "litert_timer.py") == set()


def test_every_import_form_is_seen(tmp_path):
    snippet = tmp_path / "m.py"
    snippet.write_text("import edgelat.search.workflow\nfrom edgelat import predictors, __version__\n"
                       "def f():\n    from edgelat.cli import main\n")
    assert edgelat_imports(snippet) >= {"search", "predictors", "cli"}
