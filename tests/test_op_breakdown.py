"""One op breakdown counts a layer: its kernels, MACs, weights and activations, the same everywhere."""

import numpy as np
import pytest

from edgelat.core.footprint import _layer_elems
from edgelat.core.op_breakdown import TERMS, layer_basis, layer_ops, layer_terms
from edgelat.core.spaces import SPACES, get_space


def test_an_fbnet_block_is_the_kernels_the_converter_emits():
    space = get_space("fbnet")
    layer = space.layers[1]  # 16 -> 24 channels at 32 px, stride 1: no residual
    grouped = next(c for c in layer.choices if c.groups == 2)
    ops = layer_ops(layer, grouped)
    assert [o.kind for o in ops] == ["CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"]
    assert layer_terms(layer, grouped)["launches"] == 2 + 1 + 2  # a grouped 1x1 conv is one kernel per group
    residual = space.layers[2]  # 24 -> 24, stride 1
    assert layer_ops(residual, residual.choices[3])[-1].kind == "ADD"
    skip = next(c for c in residual.choices if c.skip)
    assert layer_ops(residual, skip) == [] and layer_terms(residual, skip)["macs"] == 0


@pytest.mark.parametrize("name", sorted(SPACES))
def test_macs_params_and_streamed_elements_agree_with_the_breakdown(name):
    space = get_space(name)
    for layer in space.layers:
        for choice in layer.choices:
            ops = layer_ops(layer, choice)
            terms = layer_terms(layer, choice)
            assert layer.macs(choice) == terms["macs"] == sum(o.macs for o in ops)
            # weights: the layer's parameters plus one bias per output channel of each convolution
            if choice.skip:
                biases = 0 if layer.identity_skip else layer.cout
            else:
                mid = layer.cin * choice.expand
                expands = choice.expand > 1 or layer.expand_conv_always
                biases = (mid if expands else 0) + mid + layer.cout + (mid + mid // 4 if layer.se else 0)
            assert terms["weight_elems"] - layer.params(choice) == pytest.approx(biases, abs=1e-6) or layer.se
            assert all(terms[t] >= 0 for t in TERMS)
            basis = layer_basis(layer, choice)  # depthwise MACs split from dense ones, nothing lost
            depthwise = sum(o.macs for o in ops if o.kind == "DEPTHWISE_CONV_2D")
            assert basis["depthwise_macs"] == depthwise and basis["dense_macs"] + depthwise == terms["macs"]
            assert (depthwise > 0) == (not choice.skip)
            # every activation a layer writes is one its kernels write
            assert terms["act_elems"] >= _layer_elems(layer, choice) - layer.params(choice) or choice.skip
    assert np.isfinite(space.choice_matrix(lambda layer, c: layer_terms(layer, c)["launches"])[0, 0])
