"""A user's search space from a YAML file; every error names the file and the field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from edgelat.core.channels import round_channels
from edgelat.core.space_model import Choice, SearchSpace, Stage, walk_stages
from edgelat.errors import DataError

_SPACE_KEYS = {"name", "resolution", "num_classes", "stem", "stages", "head", "act", "se"}
_STAGE_KEYS = {"channels", "layers", "stride", "choices", "skip", "act", "se"}


def load_space_file(path: str | Path, resolution: int | None = None, width: float = 1.0,
                    num_classes: int | None = None) -> SearchSpace:
    """A user's space from YAML:

    ```yaml
    name: tiny              # the encoding prefix
    resolution: 96          # default input size (overridden by --resolution)
    num_classes: 10
    stem: {channels: 16, stride: 2}
    stages:                 # channels before the width multiplier
      - {channels: 16, layers: 1, stride: 1, choices: [k3_e1]}
      - {channels: 24, layers: 3, stride: 2, choices: [k3_e3, k5_e6], skip: true}
    head: 512
    ```
    ``skip: true`` adds a skip choice to every layer of the stage but its first.
    """
    path = Path(path)
    doc = _read(path)
    unknown = set(doc) - _SPACE_KEYS
    if unknown:
        known = ", ".join(sorted(_SPACE_KEYS))
        raise DataError(f"{path}: unknown field(s) {', '.join(sorted(unknown))} (known: {known})")
    name = str(_need(path, doc, "name", str, "top level"))
    if ":" in name or not name:
        raise DataError(f"{path}: field 'name': {name!r} must be non-empty without ':'")
    resolution = resolution or _need(path, doc, "resolution", int, "top level")
    num_classes = num_classes or int(doc.get("num_classes", 1000))
    if not 0.1 <= width <= 4.0:
        raise DataError(f"width: must be in [0.1, 4.0], got {width}")
    stem = _need(path, doc, "stem", dict, "top level")
    stem_ch, stem_stride = _need(path, stem, "channels", int, "stem"), int(stem.get("stride", 2))
    stages = [_stage(path, doc, s, i) for i, s in enumerate(_need(path, doc, "stages", list, "top level"))]
    layers = walk_stages(stages, -(-resolution // stem_stride), round_channels(stem_ch * width), width)
    head = _need(path, doc, "head", int, "top level")
    space = SearchSpace(name, resolution, width, num_classes, round_channels(stem_ch * width),
                        round_channels(head * max(1.0, width)), layers, stem_stride)
    try:
        for layer in space.layers:
            layer.blocks()
    except Exception as exc:
        raise DataError(f"{path}: {exc}") from None
    return space


def _read(path: Path) -> dict:

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DataError(f"{path}: cannot read space file: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise DataError(f"{path}: a space file is a mapping with 'name', 'stem', 'stages' and 'head'")
    return doc


def _need(path: Path, d: dict, key: str, kind: type, where: str) -> Any:
    if key not in d:
        raise DataError(f"{path}: {where}: field '{key}' is missing")
    value = d[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise DataError(f"{path}: {where}: field '{key}' must be a positive integer, got {value!r}")
    if kind is not int and not isinstance(value, kind):
        raise DataError(f"{path}: {where}: field '{key}' must be a {kind.__name__}, got {value!r}")
    return value


def _stage(path: Path, doc: dict, stage: Any, index: int) -> Stage:
    where = f"stages[{index}]"
    if not isinstance(stage, dict):
        raise DataError(f"{path}: {where}: must be a mapping")
    bad = set(stage) - _STAGE_KEYS
    if bad:
        raise DataError(f"{path}: {where}: unknown field(s) {', '.join(sorted(bad))}")
    channels, n = _need(path, stage, "channels", int, where), _need(path, stage, "layers", int, where)
    stride = _need(path, stage, "stride", int, where) if "stride" in stage else 1
    choices = []
    for c in _need(path, stage, "choices", list, where):
        m = re.fullmatch(r"k(\d+)_e(\d+)", str(c))
        if not m or int(m[1]) % 2 == 0:
            raise DataError(f"{path}: {where}: choice {c!r} is not of the form k<odd>_e<int>, e.g. k3_e6")
        choices.append(Choice(str(c), int(m[1]), int(m[2])))
    act, se = str(stage.get("act", doc.get("act", "relu6"))), int(stage.get("se", doc.get("se", 0)))
    return Stage(channels, n, stride, tuple(choices), "after_first" if stage.get("skip") else "none", act, se)
