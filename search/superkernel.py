"""Single-Path NAS's indicators: how a searchable layer's choices map onto its three hard
indicators (keep, large kernel, large expansion), and back. Plain Python, no TensorFlow: the
supernet (search/supernet.py) builds its masks from these plans."""

from __future__ import annotations

from dataclasses import dataclass

from edgelat.core.spaces import Layer
from edgelat.errors import SearchError


@dataclass(frozen=True)
class SuperkernelPlan:
    """How a layer's choices map onto Single-Path NAS's three indicators."""

    kernels: tuple[int, int]  # (small, large)
    expands: tuple[int, int]  # (small, large)
    can_skip: bool
    index: dict[tuple[int, int], int]  # (kernel, expand) -> choice index
    skip_index: int | None


def superkernel_plan(layer: Layer, where: str = "layer") -> SuperkernelPlan | None:
    """The indicator plan of a searchable layer, or None for a fixed one; errors when the
    layer's choices are not the full grid {k_a, k_b} x {e_a, e_b} (+ skip)."""
    if layer.fixed:
        return None
    blocks = [c for c in layer.choices if not c.skip]
    ks = sorted({c.kernel for c in blocks})
    es = sorted({c.expand for c in blocks})
    grid = {(c.kernel, c.expand): i for i, c in enumerate(layer.choices) if not c.skip}
    if len(ks) != 2 or len(es) != 2 or len(grid) != 4 or any(c.groups != 1 for c in blocks) or es[1] != 2 * es[0]:
        names = ", ".join(c.name for c in layer.choices)
        raise SearchError(f"{where}: the single-path superkernel needs choices k{{a,b}} x e{{c,2c}} (+ skip), "
                          f"got {names}")
    skip = next((i for i, c in enumerate(layer.choices) if c.skip), None)
    return SuperkernelPlan((ks[0], ks[1]), (es[0], es[1]), skip is not None, grid, skip)


def decode_indicators(plan: SuperkernelPlan, keep: bool, kernel_big: bool, expand_big: bool) -> int:
    """The choice index that a layer's hard indicators select.

    (Single-Path NAS's reference decoder swapped k3_e6 and k5_e3; this one looks the pair up
    by name, and the tests cover every combination.)
    """
    if plan.can_skip and not keep:
        assert plan.skip_index is not None
        return plan.skip_index
    return plan.index[(plan.kernels[int(kernel_big)], plan.expands[int(expand_big)])]
