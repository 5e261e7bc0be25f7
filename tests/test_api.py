"""The Python API: a light `import edgelat`, every CLI verb a function, results with attributes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import edgelat as el
from edgelat.errors import EdgelatError

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"

IMPORT_PROBE = """
import json, os, sys, time
env, meta, fd2 = dict(os.environ), list(sys.meta_path), os.fstat(2)
t = time.perf_counter()
import edgelat
took = time.perf_counter() - t
same_fd = os.fstat(2).st_ino == fd2.st_ino and os.fstat(2).st_dev == fd2.st_dev
print(json.dumps({"s": took, "tf": "tensorflow" in sys.modules, "env": dict(os.environ) == env,
                  "meta": list(sys.meta_path) == meta, "fd2": same_fd, "api": "edgelat.api" in sys.modules}))
"""


def test_import_edgelat_is_fast_imports_no_tensorflow_and_leaves_the_process_alone():
    env = {"PATH": "/usr/bin:/bin"}  # no TF_CPP_MIN_LOG_LEVEL: importing must not set one
    res = subprocess.run([sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    probe = json.loads(res.stdout)
    assert probe["s"] < 0.3 and not probe["tf"] and not probe["api"]  # the API itself loads on first use
    assert probe["env"] and probe["meta"] and probe["fd2"]


def test_every_cli_verb_has_a_function():
    from edgelat.cli import cli

    verbs = set(cli.commands) - {"demo", "farm-resources"}  # the demo is the CLI's own; farm-resources prints for Ray
    assert verbs <= {name for name in el.API if callable(getattr(el, name))}


def test_fit_predict_evaluate_return_results_with_attributes(tmp_path):
    model = el.fit(DATA / "pixel1_mbconv.csv", kind="linear", output=tmp_path / "p1.json")
    assert Path(model.path).is_file() and 0.9 < model.cv_.spearman <= 1.0
    assert repr(model).startswith("Model(linear, ") and "cv Spearman" in repr(model)
    p = model.predict("mbconv-i56-c24-o24-e6-k5-s1-se0-relu6-fp32")
    lo, hi = p.interval_ms
    assert lo < p.latency_ms < hi and p["latency_ms"] == p.latency_ms
    assert "latency_ms=" in repr(p) and repr(p).startswith("prediction(")
    with pytest.raises(AttributeError, match="has no 'nope'; it has block, latency_ms"):
        _ = p.nope
    loaded = el.load(tmp_path / "p1.json")
    assert loaded.predict("mbconv-i56-c24-o24-e6-k5-s1-se0-relu6-fp32").latency_ms == p.latency_ms
    assert loaded.cv_.spearman == model.cv_.spearman and "cv Spearman" in repr(loaded)  # from the file
    report = el.evaluate(model, DATA / "pixel4_mbconv.csv")
    assert report.n == 1788 and report.spearman > 0.9


def test_errors_are_edgelat_errors_with_the_cli_message(tmp_path):
    with pytest.raises(EdgelatError, match="exactly one of block=, arch= or tflite="):
        el.predict(tmp_path / "none.json")
    with pytest.raises(EdgelatError, match="new_device=True"):
        el.suggest()
    with pytest.raises(EdgelatError, match="target-ms"):
        el.search(target_ms=-1)


def test_search_and_devices_are_subpackages_and_verbs():
    import edgelat.devices.catalog as catalog
    import edgelat.search.workflow as workflow

    assert el.search.workflow is workflow and el.devices.catalog is catalog  # still the packages
    assert callable(el.search) and callable(el.devices)  # and the API's verbs
    with pytest.raises(EdgelatError, match="evaluations"):
        el.search(evaluations=0)


def test_the_catalog_and_a_device_for_deploy():
    names = {d.name for d in el.devices()}
    assert {"host", "pixel1"} <= names
    assert el.get_device("host").kind == "host"
