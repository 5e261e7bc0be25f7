"""Load a .tflite flatbuffer without TensorFlow (ai_edge_litert's generated schema), for the
readers that walk its ops: the MCU cycle model, kernel extraction and the block recovery."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flatbuffers

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


@dataclass
class Op:
    """One operator of the graph: its index, builtin name, tensor indices and builtin options."""

    index: int
    name: str
    inputs: list[int]
    outputs: list[int]
    options: Any = None


@dataclass
class Graph:
    """The first subgraph as dataflow: ops, per-tensor shapes, dtypes, names and constness."""

    ops: list[Op]
    shapes: list[list[int]]
    dtypes: list[str]
    names: list[str]
    constant: list[bool]  # the tensor holds data in the file (weights, biases, shape operands)
    producer: dict[int, Op] = field(default_factory=dict)
    consumers: dict[int, list[Op]] = field(default_factory=dict)


def read_graph(model: str | Path | bytes) -> Graph:
    """The dataflow graph of a .tflite file (or its bytes); a DataError names the file on junk."""
    loaded = load_tflite(model)
    sub, types, buffers = loaded.subgraph, loaded.type_names, loaded.model.buffers or []
    ops = [Op(i, name, [int(t) for t in o.inputs], [int(t) for t in o.outputs], o.builtinOptions)
           for i, (o, name) in enumerate(zip(sub.operators or [], loaded.op_names, strict=True))]
    tensors = sub.tensors or []

    def holds_data(t: Any) -> bool:
        buf = buffers[t.buffer] if 0 < t.buffer < len(buffers) else None
        return buf is not None and ((buf.data is not None and len(buf.data) > 0) or bool(buf.size))

    graph = Graph(ops, [[int(d) for d in t.shape] if t.shape is not None else [] for t in tensors],
                  [types.get(t.type, "?") for t in tensors],
                  [t.name.decode() if isinstance(t.name, bytes) else str(t.name) for t in tensors],
                  [holds_data(t) for t in tensors])
    for op in ops:
        for t in op.outputs:
            graph.producer[t] = op
        for t in op.inputs:
            if t >= 0:
                graph.consumers.setdefault(t, []).append(op)
    return graph


def only_op(model: bytes, op_name: str) -> bytes:
    """`model` cut down to its one `op_name` operator, whose inputs and outputs become the model's:
    the way to a model of a lone QUANTIZE or DEQUANTIZE, which no Keras layer converts to."""

    loaded = load_tflite(model)
    keep = [op for op, name in zip(loaded.subgraph.operators or [], loaded.op_names, strict=True) if name == op_name]
    if len(keep) != 1:
        raise DataError(f"{loaded.where}: {len(keep)} {op_name} operators, not 1")
    sub = loaded.subgraph
    sub.operators = keep
    sub.inputs, sub.outputs = [int(t) for t in keep[0].inputs], [int(t) for t in keep[0].outputs]
    if loaded.model.signatureDefs:  # the signature would name the tensors of the model that was cut
        loaded.model.signatureDefs = []
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(loaded.model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
