"""One meaning per word on the command line; the old spellings still work for a release, with a warning."""

from pathlib import Path

from edgelat.core.cli_vocabulary import RENAMED_OPTIONS, modernize
from edgelat.search.strategies import STRATEGIES

from conftest import run_cli

DATA = Path(__file__).resolve().parent.parent / "data"


def test_old_spellings_become_new_ones_with_one_warning_each():
    argv, warnings = modernize(["fit", "--data", "t.csv", "--predictor=lut", "--device", "pixel4", "-o", "m.json"])
    assert argv == ["fit", "--table", "t.csv", "--kind=lut", "--measured-on", "pixel4", "-o", "m.json"]
    assert len(warnings) == 3 and "use `fit --kind`" in warnings[1]
    argv, warnings = modernize(["-v", "search", "--space", "single-path", "--strategy", "single-path"])
    assert argv[-1] == "superkernel" and argv[3] == "single-path"  # the space keeps its name
    assert warnings == ["`search --strategy single-path` is deprecated and goes in edgelat 0.2: use "
                        "`search --strategy superkernel`"]
    assert modernize(["predict", "--predictor", "m.json", "--device", "x"]) == (
        ["predict", "--predictor", "m.json", "--device", "x"], [])  # a model file, and a target device, there


def test_every_new_spelling_is_an_option_of_its_verb():
    from edgelat.cli import cli

    for (verb, _), new in RENAMED_OPTIONS.items():
        assert new in {o for p in cli.commands[verb].params for o in p.opts}, f"{verb} {new}"
    assert "superkernel" in STRATEGIES.names() and "single-path" not in STRATEGIES.names()


def test_an_old_spelling_runs_and_warns_on_stderr(tmp_path):
    res = run_cli("fit", "--data", str(DATA / "pixel1_mbconv.csv"), "--predictor", "lut", "--cv", "0",
                  "-o", str(tmp_path / "m.json"))
    assert res.returncode == 0, res.stderr
    warnings = [ln for ln in res.stderr.splitlines() if ln.startswith("edgelat: warning:")]
    assert len(warnings) == 2 and "fit --table" in warnings[0] and (tmp_path / "m.json").is_file()
