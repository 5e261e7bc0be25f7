"""Every verb, given bad input: one line on stderr naming the file, field or value, exit code 2, and no file
touched. One table, one row per case; `{in}` is the folder of inputs made below, `{out}` an empty one."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from conftest import run_cli

pytestmark = pytest.mark.slow  # each row runs the CLI in a subprocess, some convert or search

DATA = Path(__file__).resolve().parent.parent / "data"
GOOD_BLOCK = "mbconv-i56-c24-o24-e6-k5-s1-se0-relu6-fp32"
SP_ARCH = "single-path:" + "0" * 22
SMALL = ("--space", "single-path", "--resolution", "32", "--width", "0.35")  # a search that prices quickly
ONE_BLOCK_CSV = ("input_hw,cin,cout,expand,kernel,stride,se,act,latency_ms\n"
                 "56,24,24,6,5,1,0,relu6,1.5\n56,24,32,6,3,2,0,relu6,1.0\n")

# (id, argv with {in}/{out} placeholders, text the one-line error must contain)
CASES = [
    # models: corrupt, empty, not TFLite, missing
    ("deploy-empty-model", ["deploy", "{in}/empty.tflite"], "empty.tflite"),
    ("deploy-corrupt-model", ["deploy", "{in}/corrupt.tflite"], "corrupt.tflite"),
    ("deploy-text-model", ["deploy", "{in}/notes.tflite"], "notes.tflite"),
    ("deploy-missing-model", ["deploy", "{in}/missing.tflite"], "missing.tflite"),
    ("predict-corrupt-tflite", ["predict", "--predictor", "{in}/lut.json", "--tflite", "{in}/corrupt.tflite"],
     "corrupt.tflite"),
    ("predict-empty-tflite", ["predict", "--predictor", "{in}/lut.json", "--tflite", "{in}/empty.tflite"],
     "empty.tflite"),
    # tables: malformed CSV, JSON, YAML; a store that is not one
    ("fit-csv-missing-columns", ["fit", "--table", "{in}/no_columns.csv", "--kind", "lut", "-o", "{out}/m.json"],
     "no_columns.csv"),
    ("fit-csv-empty", ["fit", "--table", "{in}/empty.csv", "--kind", "lut", "-o", "{out}/m.json"], "empty.csv"),
    ("fit-csv-text-latency", ["fit", "--table", "{in}/text_latency.csv", "--kind", "lut", "-o", "{out}/m.json"],
     "text_latency.csv"),
    ("fit-json-malformed", ["fit", "--table", "{in}/broken.json", "--kind", "lut", "-o", "{out}/m.json"],
     "broken.json"),
    ("fit-yaml-malformed", ["fit", "--table", "{in}/broken.yaml", "--kind", "lut", "-o", "{out}/m.json"],
     "broken.yaml"),
    ("fit-store-not-sqlite", ["fit", "--table", "{in}/garbage.sqlite", "--kind", "lut", "-o", "{out}/m.json"],
     "garbage.sqlite"),
    ("fit-missing-table", ["fit", "--table", "{in}/absent.csv", "--kind", "lut", "-o", "{out}/m.json"],
     "absent.csv"),
    ("fit-transfer-without-source", ["fit", "--table", "{in}/ok.csv", "--kind", "transfer", "-o", "{out}/m.json"],
     "--source"),
    ("fit-network-table-bad-op", ["fit", "--table", "{in}/bad_ops.csv", "--space", "fbnet", "--kind", "lut",
                                  "-o", "{out}/m.json"], "bad_ops.csv"),
    ("evaluate-malformed-table", ["evaluate", "--predictor", "{in}/lut.json", "--table", "{in}/no_columns.csv"],
     "no_columns.csv"),
    ("evaluate-predictor-not-json", ["evaluate", "--predictor", "{in}/broken.json", "--table", "{in}/ok.csv"],
     "broken.json"),
    # predictor files: newer schema, wrong kind of file
    ("evaluate-newer-schema", ["evaluate", "--predictor", "{in}/future.json", "--table", "{in}/ok.csv"], "future.json"),
    ("predict-newer-schema", ["predict", "--predictor", "{in}/future.json", "--block", GOOD_BLOCK], "future.json"),
    ("predict-bad-block-key", ["predict", "--predictor", "{in}/lut.json", "--block", "mbconv-nonsense"],
     "mbconv-nonsense"),
    ("predict-arch-wrong-length", ["predict", "--predictor", "{in}/fbnet.json", "--arch", "fbnet:012"], "fbnet:012"),
    # a wrong --space for a predictor; a suggestions file of another space
    ("predict-arch-of-another-space", ["predict", "--predictor", "{in}/fbnet.json", "--arch", SP_ARCH], "fbnet"),
    ("suggest-wrong-space", ["suggest", "--predictor", "{in}/fbnet.json", "--space", "single-path"], "single-path"),
    ("search-wrong-space-predictor", ["search", *SMALL, "--predictor", "{in}/fbnet.json",
                                      "--target-ms", "5", "--accuracy", "params", "--out", "{out}/s"], "fbnet"),
    ("profile-suggestions-of-another-space", ["profile", "--space", "single-path", "--from-suggestions",
                                              "{in}/fbnet_suggestions.txt", "--store", "{out}/p.sqlite"],
     "fbnet_suggestions.txt"),
    ("search-unknown-space-file", ["search", "--space", "{in}/absent_space.yaml", "--predictor", "{in}/lin.json",
                                   "--target-ms", "5", "--out", "{out}/s"], "absent_space.yaml"),
    # an accuracy table with missing architectures, and one that is malformed
    ("search-accuracy-table-missing-archs", ["search", *SMALL, "--predictor", "{in}/lin.json",
                                             "--target-ms", "3", "--accuracy", "table", "--accuracy-table",
                                             "{in}/few_accuracies.csv", "--evaluations", "20", "--out", "{out}/s",
                                             "--no-export", "--final-eval", "none"], "few_accuracies.csv"),
    ("search-accuracy-table-no-columns", ["search", *SMALL, "--predictor", "{in}/lin.json",
                                          "--target-ms", "3", "--accuracy", "table", "--accuracy-table",
                                          "{in}/no_columns.csv", "--out", "{out}/s"], "no_columns.csv"),
    # TOML: ranges and device files
    ("profile-ranges-not-toml", ["profile", "--sample", "random", "--ranges", "{in}/broken.toml",
                                 "--store", "{out}/p.sqlite"], "broken.toml"),
    ("profile-ranges-unknown-field", ["profile", "--sample", "random", "--ranges", "{in}/odd_ranges.toml",
                                      "--store", "{out}/p.sqlite"], "colour"),
    ("profile-device-unknown-field", ["profile", "--device-file", "{in}/dev_unknown.toml",
                                      "--store", "{out}/p.sqlite"], "turbo"),
    ("profile-device-wrong-type", ["profile", "--device-file", "{in}/dev_type.toml", "--store", "{out}/p.sqlite"],
     "threads"),
    ("profile-device-not-toml", ["profile", "--device-file", "{in}/broken.toml", "--store", "{out}/p.sqlite"],
     "broken.toml"),
    ("deploy-device-missing-field", ["deploy", "{in}/empty.tflite", "--device-file", "{in}/dev_missing.toml"],
     "dev_missing.toml"),
    ("profile-unknown-device", ["profile", "--device", "pixel99", "--store", "{out}/p.sqlite"], "pixel99"),
    # remote devices that cannot be reached
    ("profile-ssh-closed-port", ["profile", "--device", "raspi4-ssh", "--ssh", "nobody@127.0.0.1:1",
                                 "--store", "{out}/p.sqlite"], "127.0.0.1"),
    ("profile-ssh-bad-alias", ["profile", "--device", "raspi4-ssh", "--ssh", "no-such-alias.invalid",
                               "--store", "{out}/p.sqlite"], "no-such-alias.invalid"),
    ("profile-adb-closed-port", ["profile", "--device", "pixel1", "--serial", "127.0.0.1:1", "--benchmark-binary",
                                 "{in}/empty.tflite", "--store", "{out}/p.sqlite"], "127.0.0.1:1"),
    # budgets and counts
    ("search-negative-budget", ["search", *SMALL, "--predictor", "{in}/lin.json", "--target-ms", "-5",
                                "--out", "{out}/s"], "-5"),
    ("search-zero-budget", ["search", *SMALL, "--predictor", "{in}/lin.json", "--target-ms", "0", "--out", "{out}/s"],
     "target-ms"),
    ("search-nan-budget", ["search", *SMALL, "--predictor", "{in}/lin.json", "--target-ms", "nan", "--out", "{out}/s"],
     "nan"),
    ("search-zero-evaluations", ["search", *SMALL, "--predictor", "{in}/lin.json", "--target-ms", "5",
                                 "--evaluations", "0", "--accuracy", "params", "--out", "{out}/s"], "evaluations"),
    ("profile-zero-runs", ["profile", "--runs", "0", "--store", "{out}/p.sqlite"], "runs"),
    ("profile-negative-n", ["profile", "--sample", "random", "--n", "-3", "--store", "{out}/p.sqlite"], "-3"),
    ("deploy-zero-passes", ["deploy", "{in}/empty.tflite", "--passes", "0"], "passes"),
    ("suggest-zero-count", ["suggest", "--predictor", "{in}/fbnet.json", "--n", "0"], "--n"),
    ("fit-one-fold", ["fit", "--table", "{in}/ok.csv", "--kind", "lut", "--cv", "1", "-o", "{out}/m.json"], "cv"),
    # output paths: uncreatable, read-only
    ("export-uncreatable-output", ["export", "{in}/store.sqlite", "-o", "{in}/ok.csv/blocks.csv"], "ok.csv"),
    ("export-read-only-output", ["export", "{in}/store.sqlite", "-o", "/proc/edgelat-blocks.csv"], "/proc"),
    ("fit-uncreatable-output", ["fit", "--table", "{in}/ok.csv", "--kind", "lut", "--cv", "0",
                                "-o", "{in}/ok.csv/m.json"], "ok.csv"),
    ("search-uncreatable-out", ["search", *SMALL, "--predictor", "{in}/lin.json", "--target-ms", "5",
                                "--accuracy", "params", "--evaluations", "10", "--no-export",
                                "--out", "{in}/ok.csv/s"], "ok.csv"),
    ("suggest-read-only-output", ["suggest", "--predictor", "{in}/fbnet.json", "--n", "3", "-o",
                                  "/proc/edgelat-suggestions.txt"], "/proc"),
    # stores: missing, corrupt
    ("report-missing-store", ["report", "{in}/absent.sqlite"], "absent.sqlite"),
    ("report-corrupt-store", ["report", "{in}/garbage.sqlite"], "garbage.sqlite"),
    ("export-corrupt-store", ["export", "{in}/garbage.sqlite", "-o", "{out}/b.csv"], "garbage.sqlite"),
    # an interrupted search resumed with other options
    ("search-resumed-with-other-options", ["search", *SMALL, "--predictor", "{in}/lin.json",
                                           "--target-ms", "3", "--accuracy", "params", "--evaluations", "20",
                                           "--seed", "9", "--no-export", "--final-eval", "none",
                                           "--out", "{in}/earlier_search"], "earlier_search"),
]


def _write_inputs(d: Path) -> None:
    """Every input file the table names: good ones to stand beside the bad, and the bad ones."""
    (d / "empty.tflite").write_bytes(b"")
    (d / "corrupt.tflite").write_bytes(b"TFL3" + os.urandom(600))
    (d / "notes.tflite").write_text("this is a text file, not a model\n")
    (d / "ok.csv").write_text(ONE_BLOCK_CSV)
    (d / "no_columns.csv").write_text("name,value\na,1\n")
    (d / "empty.csv").write_text("")
    (d / "text_latency.csv").write_text(ONE_BLOCK_CSV.replace("1.5", "fast"))
    (d / "broken.json").write_text('{"blocks": [1, 2,')
    (d / "broken.yaml").write_text("blocks: [unclosed\n  - : :\n")
    (d / "garbage.sqlite").write_bytes(b"not a database at all" * 100)
    (d / "bad_ops.csv").write_text("op0,op1,latency_ms\n0,zz,1.0\n")
    (d / "broken.toml").write_text("name = \n[[[\n")
    (d / "odd_ranges.toml").write_text("input_hw = [8]\ncolour = ['red']\n")
    host = 'name = "twin"\nkind = "host"\ntransport = "local"\nruntime = "litert"\ndelegate = "xnnpack"\n'
    (d / "dev_unknown.toml").write_text(host + "threads = 1\nturbo = true\n")
    (d / "dev_type.toml").write_text(host + 'threads = "two"\n')
    (d / "dev_missing.toml").write_text('name = "half"\n')
    (d / "few_accuracies.csv").write_text("arch,accuracy\n" + SP_ARCH + ",0.9\n")
    (d / "fbnet_suggestions.txt").write_text("fbnet:" + "0" * 22 + "\n")


def _fit(*args: str) -> None:
    res = run_cli("fit", *args)
    assert res.returncode == 0, res.stderr


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    _write_inputs(d)
    _fit("--table", str(DATA / "pixel1_mbconv.csv"), "--kind", "lut", "--cv", "0", "-o", str(d / "lut.json"))
    _fit("--table", str(DATA / "fbnet_5000_networks.csv"), "--space", "fbnet", "--target", "pixel3_ms",
         "--kind", "lut", "--cv", "0", "-o", str(d / "fbnet.json"))
    _fit("--table", str(DATA / "pixel1_mbconv.csv"), "--kind", "linear", "--cv", "0", "-o", str(d / "lin.json"))
    doc = json.loads((d / "lut.json").read_text())
    doc["format_version"] = 999  # a file from a newer edgelat
    (d / "future.json").write_text(json.dumps(doc))
    from edgelat.core.blockspec import BlockSpec
    from edgelat.devices.measurement import Measurement
    from edgelat.profiler.store import Store

    with Store(d / "store.sqlite") as store:
        m = Measurement(ok=True, stats={"median_ms": 1.0, "mean_ms": 1.0}, runs=5, warmup=1, threads=1)
        store.add("host", BlockSpec.from_key(GOOD_BLOCK), m, "litert", "test")
    res = run_cli("search", *SMALL, "--predictor", str(d / "lin.json"), "--target-ms", "3",
                  "--accuracy", "params", "--evaluations", "20", "--seed", "1", "--no-export", "--final-eval", "none",
                  "--out", str(d / "earlier_search"))
    assert res.returncode == 0, res.stderr
    return d


def _snapshot(root: Path) -> dict[str, str]:
    """Content hashes of every file below `root` (SQLite's -wal/-shm side files aside)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


@pytest.mark.parametrize(("argv", "names"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(inputs, tmp_path, argv, names):
    out = tmp_path / "out"
    out.mkdir()
    before, before_out = _snapshot(inputs), _snapshot(out)
    res = run_cli(*[a.replace("{in}", str(inputs)).replace("{out}", str(out)) for a in argv], timeout=300)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert res.returncode == 2, res.stderr[-2000:]
    assert len(lines) == 1, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert names.replace("{in}", str(inputs)) in lines[0], lines[0]
    assert _snapshot(inputs) == before
    assert _snapshot(out) == before_out


def test_the_table_covers_every_verb_with_forty_cases():
    verbs = {argv[0] for _, argv, _ in CASES}
    assert len(CASES) >= 40
    assert verbs >= {"profile", "fit", "evaluate", "predict", "suggest", "search", "deploy", "export", "report"}
