"""Read a .tflite file's ops with LiteRT's flatbuffer schema (no TensorFlow import) and find
its MBConv blocks, so that a whole model can be predicted from a block predictor.

Blocks are recovered from the dataflow, not from names: a DEPTHWISE_CONV_2D, the 1x1
CONV_2D that feeds it (if any), an SE branch (MEAN ... MUL), the 1x1 projection, and an ADD
back to the block input. Ops outside any block (stem, head, classifier) are reported, never
silently priced at zero.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from edgelat.core.blockspec import BlockSpec
from edgelat.core.spaces import network_constant_ms
from edgelat.core.tflite_file import Graph, Op, read_graph
from edgelat.errors import DataError

ACTIVATION_OPS = {"HARD_SWISH": "hswish", "RELU6": "relu6", "RELU": "relu"}
FUSED = {1: "relu", 3: "relu6"}


def _is_pointwise(graph: Graph, op: Op | None) -> bool:
    if op is None or op.name != "CONV_2D":
        return False
    w = graph.shapes[op.inputs[1]]
    return len(w) == 4 and w[1] == 1 and w[2] == 1


def _only_consumer(graph: Graph, tensor: int) -> Op | None:
    users = graph.consumers.get(tensor, [])
    return users[0] if len(users) == 1 else None


def find_blocks(graph: Graph) -> tuple[list[tuple[BlockSpec, list[int]]], list[str]]:
    """(BlockSpec, op indices) of every MBConv found, and notes on depthwise ops not matched."""
    blocks, notes = [], []
    for dw in (op for op in graph.ops if op.name == "DEPTHWISE_CONV_2D"):
        covered, acts, block_in = _expansion_side(graph, dw)
        # forwards: activation op(s), SE branch, projection, residual
        x = dw.outputs[0]
        nxt = _only_consumer(graph, x)
        while nxt is not None and nxt.name in ACTIVATION_OPS:
            acts.append(ACTIVATION_OPS[nxt.name])
            covered.append(nxt.index)
            x = nxt.outputs[0]
            nxt = _only_consumer(graph, x)
        se = 0
        users = graph.consumers.get(x, [])
        if any(u.name == "MEAN" for u in users):
            se_ops, excite = _se_branch(graph, x)
            if excite is None:
                notes.append(f"op {dw.index}: SE branch without its MUL; block not matched")
                continue
            se, covered = 1, covered + se_ops + [excite.index]
            x = excite.outputs[0]
            users = graph.consumers.get(x, [])
        proj = next((u for u in users if _is_pointwise(graph, u)), None)
        if proj is None:
            notes.append(f"op {dw.index}: depthwise conv not followed by a 1x1 projection; not an MBConv")
            continue
        covered.append(proj.index)
        out = proj.outputs[0]
        add = next((u for u in graph.consumers.get(out, []) if u.name == "ADD" and block_in in u.inputs), None)
        if add is not None:
            covered.append(add.index)
        in_shape, out_shape = graph.shapes[block_in], graph.shapes[out]
        cin, exp = in_shape[3], graph.shapes[dw.inputs[0]][3]
        kinds = set(acts)
        act = "hswish" if "hswish" in kinds else "relu6" if "relu6" in kinds else "relu" if "relu" in kinds else None
        if act is None or exp % cin:
            notes.append(f"op {dw.index}: no activation or a fractional expansion; not an MBConv block")
            continue
        dtype = "int8" if graph.dtypes[block_in] == "INT8" else "fp32"
        spec = BlockSpec(in_shape[1], cin, out_shape[3], exp // cin, graph.shapes[dw.inputs[1]][1],
                         getattr(dw.options, "strideH", 1), se, act, dtype)
        if spec.has_residual != (add is not None):
            notes.append(f"op {dw.index}: residual does not match the shapes; not an MBConv block")
            continue
        blocks.append((spec, sorted(covered)))
    return blocks, notes


def _expansion_side(graph: Graph, dw: Op) -> tuple[list[int], list[str], int]:
    """Backwards from a depthwise op: its activation op(s), then the 1x1 expansion conv if there is one.
    The op indices covered, the activations seen (fused ones too) and the block's input tensor."""
    covered, acts = [dw.index], []
    act = FUSED.get(getattr(dw.options, "fusedActivationFunction", 0))
    acts += [act] if act else []
    tensor = dw.inputs[0]
    prod = graph.producer.get(tensor)
    while prod is not None and prod.name in ACTIVATION_OPS:
        acts.append(ACTIVATION_OPS[prod.name])
        covered.append(prod.index)
        tensor = prod.inputs[0]
        prod = graph.producer.get(tensor)
    if not _is_pointwise(graph, prod):
        return covered, acts, dw.inputs[0]
    covered.append(prod.index)
    act = FUSED.get(getattr(prod.options, "fusedActivationFunction", 0))
    acts += [act] if act else []
    return covered, acts, prod.inputs[0]


def _se_branch(graph: Graph, x: int) -> tuple[list[int], Op | None]:
    """Ops of the squeeze-excite branch starting at MEAN(x), and the MUL that applies it to x."""
    seen, frontier = [], [u for u in graph.consumers.get(x, []) if u.name == "MEAN"]
    while frontier:
        op = frontier.pop()
        if op.index in seen:
            continue
        if op.name == "MUL" and x in op.inputs:
            return seen, op
        seen.append(op.index)
        for t in op.outputs:
            frontier.extend(graph.consumers.get(t, []))
        if len(seen) > 16:
            break
    return seen, None


def predict_tflite(model, path: str | Path) -> dict[str, Any]:
    """Latency of the MBConv blocks of a .tflite model under a block predictor."""
    graph = read_graph(path)
    blocks, notes = find_blocks(graph)
    if not blocks:
        raise DataError(f"{path}: no MBConv block found ({len(graph.ops)} ops); nothing a block predictor can price: "
                        "a kernel predictor prices any model (fit --kind kernels; docs/predictors/any-model.md)")
    preds = model.predict([spec for spec, _ in blocks])
    covered = {i for _, ops in blocks for i in ops}
    uncovered = Counter(op.name for op in graph.ops if op.index not in covered)
    fixed = network_constant_ms(getattr(model, "fixed_", {}))
    return {
        "tflite": str(path),
        "latency_ms": float(preds.sum()) + fixed,
        "blocks_ms": float(preds.sum()),
        "fixed_ms": fixed,
        "blocks": [{"key": spec.key, "latency_ms": float(p)} for (spec, _), p in zip(blocks, preds, strict=True)],
        "uncovered_ops": dict(uncovered),
        "notes": notes + ([_uncovered_note(uncovered, fixed)] if uncovered else []),
    }


def _uncovered_note(uncovered: Counter, fixed_ms: float) -> str:
    """What the block sum leaves out: the ops by type, and whether the table's fixed parts stand for them."""
    ops = ", ".join(f"{n} {name}" for name, n in uncovered.most_common())
    if fixed_ms:
        return f"{sum(uncovered.values())} op(s) outside MBConv blocks ({ops}) are priced as the table's fixed parts"
    return (f"{sum(uncovered.values())} op(s) outside MBConv blocks ({ops}) are not priced: the stem and head "
            "count only when the table has them (profile --fixed-parts)")
