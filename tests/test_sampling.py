"""Which blocks a campaign measures: the Single-Path space, random and grid samples."""

import pytest

from edgelat.core.spaces import get_space
from edgelat.errors import DataError, EdgelatError
from edgelat.profiler.sampling import BlockRanges, grid_blocks, limit_blocks, random_blocks, space_blocks


def test_single_path_space_layers_and_blocks():
    space = get_space("single-path")
    assert len(space.layers) == 22 and len(space.searchable) == 20
    strides = [layer.stride for layer in space.layers]
    assert [strides[i] for i in (1, 5, 9, 13, 17)] == [2, 2, 2, 1, 2]
    assert [space.layers[i].cout for i in (1, 5, 9, 13, 17, 21)] == [24, 40, 80, 96, 192, 320]
    assert [any(c.skip for c in space.layers[i].choices) for i in (1, 2, 5, 6)] == [False, True, False, True]
    blocks = space_blocks(space.layers)
    # 2 fixed layers + 10 distinct (shape, stride) positions x 4 (k, e) choices
    assert len(blocks) == 42 and len({b.key for b in blocks}) == 42
    assert blocks[0].key == "mbconv-i112-c32-o16-e1-k3-s1-se0-relu6-fp32"
    assert blocks[-1].key == "mbconv-i7-c192-o320-e6-k3-s1-se0-relu6-fp32"
    both = space_blocks(space.layers, ("fp32", "int8"))
    assert len(both) == 84 and sum(b.dtype == "int8" for b in both) == 42


def test_width_and_resolution_scale_the_space():
    small = get_space("single-path", resolution=96, width=0.35)
    assert small.layers[0].input_hw == 48 and small.layers[0].cin == 16 and small.layers[-1].cout == 112
    with pytest.raises(EdgelatError, match="resolution"):
        get_space("single-path", resolution=100)
    with pytest.raises(EdgelatError, match="unknown search space"):
        get_space("nope")


def test_random_sample_is_distinct_and_reproducible(tiny_ranges):
    ranges = BlockRanges.from_file(tiny_ranges)
    a = random_blocks(ranges, 50, seed=3)
    assert len({s.key for s in a}) == 50 and a == random_blocks(ranges, 50, seed=3)
    assert a != random_blocks(ranges, 50, seed=4)
    assert all(s.input_hw in (8, 16) and s.kernel in (3, 5) for s in a)
    with pytest.raises(DataError, match="allow only"):
        random_blocks(ranges, ranges.size + 1)


def test_grid_covers_the_product(tiny_ranges):
    ranges = BlockRanges.from_file(tiny_ranges)
    grid = grid_blocks(ranges, ("fp32", "int8"))
    assert len(grid) == 2 * ranges.size == 2 * 2 * 2 * 2 * 3 * 2 * 2 * 2 * 2
    assert len({s.key for s in grid}) == len(grid)


def test_limit_is_a_reproducible_ordered_subset():
    blocks = space_blocks(get_space("single-path").layers)
    sub = limit_blocks(blocks, 10, seed=1)
    assert len(sub) == 10 and sub == limit_blocks(blocks, 10, seed=1)
    assert sub == [b for b in blocks if b in sub]


@pytest.mark.parametrize(
    "text, needle",
    [("kernel = [4]\n", "kernel"), ("colour = [1]\n", "colour"), ("act = ['gelu']\n", "act"), ("cin = []\n", "cin")],
)
def test_bad_ranges_file_names_the_field(tmp_path, text, needle):
    path = tmp_path / "r.toml"
    path.write_text(text)
    with pytest.raises(DataError, match=needle) as info:
        BlockRanges.from_file(path)
    assert str(path) in str(info.value)
