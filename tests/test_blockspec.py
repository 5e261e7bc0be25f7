"""BlockSpec validation, the canonical key, and channel rounding."""

import pytest

from edgelat.core.blockspec import BlockSpec, canonical_act
from edgelat.core.channels import round_channels
from edgelat.errors import BlockSpecError, EdgelatError


def test_key_is_canonical_and_round_trips():
    spec = BlockSpec(112, 16, 24, 6, 5, 2, 1, "relu6", "fp32")
    assert spec.key == "mbconv-i112-c16-o24-e6-k5-s2-se1-relu6-fp32"
    assert BlockSpec.from_key(spec.key) == spec
    assert BlockSpec.from_key("mbconv-i7-c192-o320-e6-k3-s1-se0-hswish-int8").dtype == "int8"


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(kernel=4), "kernel"),
        (dict(stride=3), "stride"),
        (dict(cin=-8), "cin"),
        (dict(cout=0), "cout"),
        (dict(act="gelu"), "act"),
        (dict(dtype="fp16"), "dtype"),
        (dict(se=2), "se"),
        (dict(expand="two"), "expand"),
    ],
)
def test_invalid_fields_raise_naming_the_field(kwargs, field):
    base = dict(input_hw=56, cin=24, cout=24, expand=6, kernel=3, stride=1)
    with pytest.raises(BlockSpecError, match=rf"^{field}:") as info:
        BlockSpec(**{**base, **kwargs})
    assert isinstance(info.value, EdgelatError)


def test_from_key_rejects_garbage_and_non_canonical_keys():
    with pytest.raises(BlockSpecError, match="not a block key"):
        BlockSpec.from_key("conv_112_16_24_6_2_relu6_5_se")
    with pytest.raises(BlockSpecError, match="not canonical"):
        BlockSpec.from_key("mbconv-i112-c16-o24-e6-k5-s2-se1-hard_swish-fp32".replace("hard_swish", "hardswish"))


def test_activation_aliases_map_to_one_name():
    assert canonical_act("hard_swish") == "hswish"
    assert BlockSpec(14, 8, 8, 1, 3, 1, act="hard_swish").key.endswith("-hswish-fp32")


def test_derived_shapes():
    spec = BlockSpec(28, 40, 40, 6, 5, 1, 1)
    assert spec.has_residual and spec.expanded_channels == 240 and spec.se_channels == 64
    strided = BlockSpec(7, 40, 80, 3, 3, 2)
    assert not strided.has_residual and strided.output_hw == 4 and strided.se_channels == 0


@pytest.mark.parametrize(
    "value, expected",
    [(32 * 0.35, 16), (16 * 0.5, 8), (24 * 1.4, 32), (1280, 1280), (96 * 0.75, 72), (10, 16), (3, 8)],
)
def test_round_channels_matches_mobilenetv2_rule(value, expected):
    assert round_channels(value) == expected
