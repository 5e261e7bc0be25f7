"""One meaning per word on the command line, and the old spellings kept for one release.

`--predictor` is a model file, `--kind` a predictor kind, `--table` a latency table, `--dataset` an
image dataset, `--device` the device a verb runs on, `--measured-on` a filter on stored rows,
`--networks N` a count, `--whole-networks` a flag, and `single-path` a space (the strategy that
trains its superkernel is `superkernel`). Each old spelling still works, with a one-line warning.
"""

from __future__ import annotations

# (verb, old option) -> new option
RENAMED_OPTIONS: dict[tuple[str, str], str] = {
    ("fit", "--predictor"): "--kind",
    ("fit", "--data"): "--table",
    ("evaluate", "--data"): "--table",
    ("search", "--data"): "--dataset",
    ("fit", "--device"): "--measured-on",
    ("evaluate", "--device"): "--measured-on",
    ("report", "--device"): "--measured-on",
    ("export", "--device"): "--measured-on",
    ("export", "--networks"): "--whole-networks",
    ("search", "--single-path-epochs"): "--superkernel-epochs",
}
# (verb, option, old value) -> new value
RENAMED_VALUES: dict[tuple[str, str, str], str] = {
    ("search", "--strategy", "single-path"): "superkernel",
}
RELEASE = "0.2"  # the release that drops the old spellings


def _verb(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def modernize(argv: list[str]) -> tuple[list[str], list[str]]:
    """argv with every deprecated spelling replaced, and one warning line per replacement."""
    verb, out, warnings = _verb(argv), [], []
    for arg in argv:
        name, eq, value = arg.partition("=")
        new = RENAMED_OPTIONS.get((verb, name))
        if new is not None:
            warnings.append(f"`{verb} {name}` is deprecated and goes in edgelat {RELEASE}: use `{verb} {new}`")
            name, arg = new, new + eq + value
        option, old = (name, value) if eq else (out[-1] if out else "", arg)
        new_value = RENAMED_VALUES.get((verb, option, old))
        if new_value is not None:
            warnings.append(f"`{verb} {option} {old}` is deprecated and goes in edgelat {RELEASE}: use "
                            f"`{verb} {option} {new_value}`")
            arg = f"{option}={new_value}" if eq else new_value
        out.append(arg)
    return out, warnings
