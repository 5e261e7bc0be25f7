"""Read the tables users bring: block tables in four forms, and whole-network tables.

Block tables: the block CSV schema, an edgelat store, nn-Meter's LUT JSON and the
ProxylessNAS / Once-for-All YAML lookup tables. Whole networks: ``op0..opN`` choice columns
of a layer-wise space plus a latency column. Every error names the file and the line or key.
Entries that are not MBConv blocks are counted in `notes`, never dropped silently.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from edgelat.core.blockspec import FIELD_NAMES, BlockSpec
from edgelat.core.kernelspec import KernelSpec
from edgelat.core.spaces import SearchSpace
from edgelat.errors import BlockSpecError, DataError
from edgelat.profiler.store import open_existing, specs_of
from edgelat.profiler.table import read_block_csv


@dataclass
class BlockData:
    """Block fields (one row per block), their latencies in ms, and fixed network parts."""

    frame: pd.DataFrame
    y: np.ndarray
    fixed: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: str = ""
    device: str | None = None  # known for stores
    runtime: str | None = None


def _frame(specs: list[BlockSpec]) -> pd.DataFrame:
    return pd.DataFrame([s.to_dict() for s in specs], columns=list(FIELD_NAMES))


def _positive(value, where: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: latency is not a number: {value!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise DataError(f"{where}: latency must be a positive number, got {value!r}")
    return v


def load_block_csv(path: Path) -> BlockData:
    with path.open(encoding="utf-8") as fh:
        header = fh.readline()
    if re.search(r"(^|,)op0(,|$)", header):
        raise DataError(f"{path}: this is a whole-network table (op0.. columns); give --space to use it")
    rows = read_block_csv(path)
    return BlockData(_frame([r.spec for r in rows]), np.array([r.latency_ms for r in rows]), source=str(path))


def load_store(path: Path, device: str | None = None) -> BlockData:

    with open_existing(path) as store:
        rows = store.rows(device=device, estimate="min")
        devices = sorted({r["device"] for r in rows})
        dtypes = sorted({r["dtype"] for r in rows})
        context, fixed = store.fixed_parts(devices[0], dtypes[0]) if len(devices) == len(dtypes) == 1 else (None, {})
    if not rows:
        raise DataError(f"{path}: no successful measurements{f' for device {device!r}' if device else ''}")
    if len(devices) > 1:
        raise DataError(f"{path}: holds several devices ({', '.join(devices)}); choose one with --measured-on")
    runtimes = sorted({f"{r['runtime']} {r['runtime_version']}" for r in rows})
    if fixed:
        notes = [f"fixed parts of {context} from the store: " + ", ".join(f"{k} {v:.3f} ms" for k, v in fixed.items())]
    else:
        notes = ["no fixed parts (stem, head) used: the store has none for these blocks' device and dtype (profile "
                 "with --fixed-parts), or holds blocks of several dtypes; whole networks will lack them"]
    return BlockData(_frame(specs_of(rows)), np.array([r["median_ms"] for r in rows]), fixed=fixed, notes=notes,
                     source=str(path), device=devices[0], runtime=", ".join(runtimes))


_NNMETER_RE = re.compile(r"^conv_(\d+)_(\d+)_(\d+)_(\d+)_(\d+)_([a-z_0-9]+?)_(\d+)_(se|nose)$")


def load_nnmeter_json(path: Path) -> BlockData:
    """nn-Meter LUT: ``conv_{HW}_{Cin}_{Cout}_{expand}_{stride}_{act}_{kernel}_{se|nose}`` -> ms."""
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON: {exc}") from None
    if not isinstance(table, dict):
        raise DataError(f"{path}: expected a JSON object of key -> latency (ms)")
    specs, ys, skipped = [], [], Counter()
    for key, value in table.items():
        if not key.startswith("conv_"):
            skipped[key.split("_", 1)[0]] += 1
            continue
        m = _NNMETER_RE.match(key)
        if not m:
            raise DataError(f"{path}: key {key!r}: not of the form conv_HW_Cin_Cout_expand_stride_act_kernel_se|nose")
        hw, cin, cout, e, s, act, k, se = m.groups()
        try:
            specs.append(BlockSpec(hw, cin, cout, e, k, s, int(se == "se"), act))
        except BlockSpecError as exc:
            raise DataError(f"{path}: key {key!r}: {exc}") from None
        ys.append(_positive(value, f"{path}: key {key!r}"))
    if not specs:
        raise DataError(f"{path}: no MBConv (conv_...) entries")
    notes = [f"skipped {n} {fam} entries (not MBConv blocks)" for fam, n in sorted(skipped.items())]
    return BlockData(_frame(specs), np.array(ys), notes=notes, source=str(path))


_YAML_BLOCK_RE = re.compile(
    r"^expanded_conv-input:(\d+)x(\d+)x(\d+)-output:(\d+)x(\d+)x(\d+)-expand:(\d+)-kernel:(\d+)-stride:(\d+)"
    r"(?:-idskip:([01]))?"
)
_YAML_FIXED = {"Conv": "stem", "first_conv": "stem", "Conv_1": "head", "final_expand_layer": "head",
               "feature_mix_layer": "feature_mix", "Logits": "classifier", "classifier": "classifier"}


def load_lut_yaml(path: Path, expand_mode: str = "auto", act: str = "relu6") -> BlockData:
    """ProxylessNAS / OFA YAML LUT. `expand:` is a ratio in ProxylessNAS and an expanded
    channel count in OFA; "auto" reads values above 8 that are multiples of cin as counts."""

    if expand_mode not in ("auto", "ratio", "channels"):
        raise DataError(f"expand_mode: must be auto, ratio or channels, got {expand_mode!r}")
    try:
        table = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(table, dict):
        raise DataError(f"{path}: expected a mapping of key -> {{count, mean, var}}")
    specs, ys, fixed, skipped = [], [], {}, Counter()
    for key, entry in table.items():
        where = f"{path}: key {key!r}"
        if not isinstance(entry, dict) or "mean" not in entry:
            raise DataError(f"{where}: expected a mapping with 'mean' (and count, var or std)")
        latency = _positive(entry["mean"], where)
        family = str(key).split("-", 1)[0]
        if family in _YAML_FIXED:
            fixed[_YAML_FIXED[family]] = fixed.get(_YAML_FIXED[family], 0.0) + latency
            continue
        if family != "expanded_conv":
            skipped[family] += 1
            continue
        m = _YAML_BLOCK_RE.match(str(key))
        if not m:
            form = "expanded_conv-input:HxWxC-output:HxWxC-expand:E-kernel:K-stride:S"
            raise DataError(f"{where}: not of the form {form}")
        h, w, cin, ho, wo, cout, e, k, s, idskip = m.groups()
        cin, e = int(cin), int(e)
        as_channels = expand_mode == "channels" or (expand_mode == "auto" and e > 8 and e % cin == 0)
        if as_channels:
            if e % cin:
                raise DataError(f"{where}: expand:{e} channels is not a multiple of the input's {cin} channels")
            e //= cin
        try:
            spec = BlockSpec(h, cin, cout, e, k, s, 0, act)
        except BlockSpecError as exc:
            raise DataError(f"{where}: {exc}") from None
        if h != w or ho != wo or int(ho) != spec.output_hw:
            raise DataError(f"{where}: input {h}x{w} -> output {ho}x{wo} does not match stride {s}")
        if idskip is not None and (idskip == "1") != spec.has_residual:
            raise DataError(f"{where}: idskip:{idskip} disagrees with the shapes "
                            "(a residual exists iff stride is 1 and cin == cout)")
        specs.append(spec)
        ys.append(latency)
    if not specs:
        raise DataError(f"{path}: no expanded_conv entries")
    notes = [f"skipped {n} {fam} entries (not MBConv blocks)" for fam, n in sorted(skipped.items())]
    if fixed:
        notes.append("fixed parts: " + ", ".join(f"{k} {v:.3f} ms" for k, v in fixed.items()))
    return BlockData(_frame(specs), np.array(ys), fixed=fixed, notes=notes, source=str(path))


def load_blocks(path: str | Path, device: str | None = None, expand_mode: str = "auto") -> BlockData:
    """Any block table, by its file type."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return load_block_csv(path)
    if suffix in (".sqlite", ".db", ".sqlite3"):
        return load_store(path, device)
    if suffix == ".json":
        return load_nnmeter_json(path)
    if suffix in (".yaml", ".yml"):
        return load_lut_yaml(path, expand_mode)
    raise DataError(f"{path}: unknown table type {suffix!r} (expected .csv, .sqlite, .json or .yaml)")


@dataclass
class NetworkData:
    archs: np.ndarray
    y: np.ndarray
    frame: pd.DataFrame
    source: str = ""


def load_networks(path: str | Path, space: SearchSpace, target: str = "latency_ms") -> NetworkData:
    """A whole-network table: columns op0..op{L-1} (choice indices or names) and `target` (ms)."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"arch": str})  # encodings keep their leading zeros
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read network table: {exc}") from None
    ops = [f"op{i}" for i in range(len(space.layers))]
    missing = [c for c in ops if c not in frame]
    if missing and "arch" in frame:  # encodings instead: 'space:digits' or the bare digits
        frame = _arch_columns(path, frame, space)
    elif missing:
        raise DataError(f"{path}: space {space.name!r} needs columns op0..op{len(ops) - 1} or an arch column of "
                        f"encodings; missing {missing[:3]}")
    if target not in frame:
        lat = [c for c in frame.columns if c not in ops]
        raise DataError(f"{path}: no column {target!r} (--target); latency columns here: {', '.join(lat)}")
    archs = np.zeros((len(frame), len(ops)), dtype=np.int64)
    for j, col in enumerate(ops):
        names = {c.name: i for i, c in enumerate(space.layers[j].choices)}
        for i, value in enumerate(frame[col].tolist()):
            if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
                if value not in names:
                    raise DataError(f"{path} line {i + 2}: {col}: unknown choice {value!r} (known: {', '.join(names)})")
                archs[i, j] = names[value]
            else:
                archs[i, j] = int(value)
    try:
        space.validate(archs, str(path))
    except Exception as exc:
        raise DataError(str(exc).replace("row ", "data row ")) from None
    y = frame[target].to_numpy(dtype=float)
    bad = ~np.isfinite(y) | (y <= 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{path} line {i + 2}: {target}: latency must be a positive number, got {frame[target][i]!r}")
    return NetworkData(archs, y, frame, source=str(path))


def _arch_columns(path: Path, frame: pd.DataFrame, space: SearchSpace) -> pd.DataFrame:
    """The table with op0..opN read from its `arch` column of encodings."""
    rows = []
    for i, text in enumerate(frame["arch"].astype(str).tolist()):
        try:
            rows.append(space.decode(text if ":" in text else f"{space.name}:{text}"))
        except Exception as exc:
            raise DataError(f"{path} line {i + 2}: arch: {exc}") from None
    ops = pd.DataFrame(np.array(rows, np.int64), columns=[f"op{j}" for j in range(len(space.layers))],
                       index=frame.index)
    return pd.concat([frame.drop(columns=[c for c in ops.columns if c in frame]), ops], axis=1)


def load_kernels(path: str | Path, device: str | None = None) -> tuple[list[KernelSpec], np.ndarray, dict]:
    """Kernels and their ms from a store (its kernels table, the fastest pass) or a CSV with
    `kernel_key` and `latency_ms` columns, with the device and runtime where known."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        frame = pd.read_csv(path)
        missing = {"kernel_key", "latency_ms"} - set(frame.columns)
        if missing:
            raise DataError(f"{path}: a kernel table needs columns kernel_key and latency_ms (missing: "
                            f"{', '.join(sorted(missing))})")
        specs = []
        for i, key in enumerate(frame["kernel_key"], start=2):
            try:
                specs.append(KernelSpec.from_key(str(key)))
            except BlockSpecError as exc:
                raise DataError(f"{path}:{i}: {exc}") from None
        y = np.array([_positive(v, f"{path}:{i}") for i, v in enumerate(frame["latency_ms"], start=2)])
        return specs, y, {"device": device, "runtime": None}

    with open_existing(path) as store:
        rows = store.rows(device=device, kernels=True, estimate="min")
    devices = sorted({r["device"] for r in rows})
    if not rows:
        raise DataError(f"{path}: no kernel measurements{f' for device {device!r}' if device else ''} "
                        "(profile with --kernels or --from-model)")
    if len(devices) > 1:
        raise DataError(f"{path}: holds kernels of several devices ({', '.join(devices)}); choose one with "
                        "--measured-on")
    runtime = ", ".join(sorted({f"{r['runtime']} {r['runtime_version']}" for r in rows}))
    return ([KernelSpec.from_key(r["kernel_key"]) for r in rows], np.array([r["median_ms"] for r in rows]),
            {"device": devices[0], "runtime": runtime})
