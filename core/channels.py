"""Channel rounding: the one definition used everywhere (MobileNetV2 / timm `make_divisible`)."""

from __future__ import annotations


def round_channels(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round `value` to the nearest multiple of `divisor`, never dropping more than 10%.

    This is the rule of MobileNetV2, EfficientNet, OFA and timm, so widths computed
    here match the published models.
    """
    if divisor <= 0:
        raise ValueError(f"divisor must be positive, got {divisor}")
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return int(rounded)
