"""Function-level imports only where they keep a heavy or optional dependency out of a light path.

An import inside a function is allowed when what it imports loads TensorFlow, Ray or another heavy or
optional library as it is imported (seen from the modules' top-level imports), or when the line says why
with a `# lazy: reason` comment. Anything else belongs at the top of its module. The timing runners are
left out: they are self-contained scripts copied to boards."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = {"tensorflow", "keras", "ray", "matplotlib", "optuna", "pymoo", "xgboost", "sklearn", "scipy", "paramiko",
         "ai_edge_litert", "tflite_runtime", "tflite_micro", "pandas", "usb1", "adb_shell"}
LIBRARY = ["core", "devices", "profiler", "predictors", "search", "cli"]


def _module(path: Path) -> str:
    parts = ["edgelat", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return []


def _library() -> list[Path]:
    files = [p for d in LIBRARY for p in (ROOT / d).rglob("*.py") if "runners" not in p.parts]
    return files + [ROOT / "api.py", ROOT / "demo.py", ROOT / "__init__.py"]


def _graph() -> tuple[dict[str, set[str]], list[tuple[Path, int, list[str]]]]:
    """Each module's top-level imports, and every import inside a function (path, line, targets)."""
    top, inner = {}, []
    for path in _library():
        tree = ast.parse(path.read_text())
        top[_module(path)] = {t for node in tree.body for t in _targets(node)}
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                inner += [(path, n.lineno, _targets(n)) for n in ast.walk(fn) if _targets(n)]
    return top, inner


def _heavy(name: str, top: dict[str, set[str]], seen: set[str]) -> bool:
    if name.split(".")[0] in HEAVY:
        return True
    module = name if name in top else name.rsplit(".", 1)[0]
    if module in seen or module not in top:
        return False
    seen.add(module)
    return any(_heavy(t, top, seen) for t in top[module])


def _says_why(path: Path, line: int) -> bool:
    lines = path.read_text().splitlines()
    return "# lazy:" in lines[line - 1] or "# lazy:" in lines[line - 2]


def test_every_function_level_import_is_heavy_or_says_why():
    top, inner = _graph()
    bad = [f"{path.relative_to(ROOT)}:{line} {targets[0]}" for path, line, targets in inner
           if not any(_heavy(t, top, set()) for t in targets) and not _says_why(path, line)]
    assert not bad, "import these at the top of the module, or say why not with '# lazy: ...':\n" + "\n".join(bad)


def test_the_rule_sees_heavy_modules_through_edgelat_ones():
    top = {"edgelat.a": {"edgelat.b"}, "edgelat.b": {"tensorflow"}, "edgelat.c": {"numpy"}}
    assert _heavy("edgelat.a", top, set()) and _heavy("edgelat.a.thing", top, set())
    assert not _heavy("edgelat.c", top, set()) and not _heavy("json", top, set())
