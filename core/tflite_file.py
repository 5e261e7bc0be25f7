"""Load a .tflite flatbuffer without TensorFlow (ai_edge_litert's generated schema), for the
readers that walk its ops: the MCU cycle model and the predictors' block recovery."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgelat.errors import DataError, MissingDependencyError


def schema() -> Any:
    try:
        import ai_edge_litert.schema_py_generated as generated
    except ImportError as exc:
        raise MissingDependencyError("reading .tflite files needs ai-edge-litert: pip install ai-edge-litert") from exc
    return generated


@dataclass(frozen=True)
class LoadedModel:
    """The first subgraph of a model, with its op names resolved and type names by code."""

    where: str
    size: int  # bytes of the flatbuffer
    model: Any  # schema.ModelT
    subgraph: Any  # schema.SubGraphT
    op_names: list[str]  # per operator of the subgraph, e.g. "CONV_2D" ("CUSTOM" when unknown)
    type_names: dict[int, str]  # TensorType code -> name


def load_tflite(model: str | Path | bytes, where: str | None = None) -> LoadedModel:
    """Parse `model` (a path or bytes); every failure is a DataError naming the file."""
    s = schema()
    if isinstance(model, bytes | bytearray):
        buf, where = bytes(model), where or "<tflite bytes>"
    else:
        path = Path(model)
        where = where or str(path)
        try:
            buf = path.read_bytes()
        except OSError as exc:
            raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        m = s.ModelT.InitFromPackedBuf(buf, 0)
    except Exception as exc:  # flatbuffers raises assorted errors on junk
        raise DataError(f"{where}: not a TFLite flatbuffer ({type(exc).__name__})") from None
    if not m.subgraphs:
        raise DataError(f"{where}: TFLite model has no subgraph")
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    types = {v: k for k, v in vars(s.TensorType).items() if not k.startswith("_")}
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in m.operatorCodes]
    sub = m.subgraphs[0]
    ops = [names.get(codes[o.opcodeIndex], "CUSTOM") for o in (sub.operators or [])]
    return LoadedModel(where, len(buf), m, sub, ops, types)
