"""Width and resolution arithmetic shared by the families: channel rounding and size parsing."""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.errors import TinyOpsError

MIN_RESOLUTION_PX = 8
MAX_RESOLUTION_PX = 4096
MIN_WIDTH, MAX_WIDTH = 0.05, 4.0


def make_divisible(value: float, divisor: int, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor`` the way the MobileNet papers' code does.

    Round to the nearest multiple, at least ``min_value`` (default: the divisor), and never more
    than 10% below the exact value (so narrow layers are not starved).
    """
    if divisor <= 1:
        return max(1, int(round(value)))
    floor = divisor if min_value is None else min_value
    rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


@dataclass(frozen=True)
class Scaling:
    """How a family's published channel counts are scaled: width multiplier and rounding divisor."""

    width: float
    round_to: int

    def channels(self, base: int) -> int:
        """Scaled channel count (the ImageNet families round at every width, as their code does)."""
        return make_divisible(base * self.width, self.round_to)

    def rounded(self, count: float) -> int:
        """Round an already-scaled count (e.g. an SE squeeze derived from a scaled width)."""
        return make_divisible(count, self.round_to)

    def channels_keep_base(self, base: int) -> int:
        """Scaled count for families published without rounding (DS-CNN 172/276, ResNet-8):
        width 1.0 gives the published layer verbatim, other widths round like ``channels``."""
        return base if self.width == 1.0 else self.channels(base)


def check_width(width: float) -> float:
    try:
        value = float(width)
    except (TypeError, ValueError):
        raise TinyOpsError(f"width must be a number, got {width!r}") from None
    if not MIN_WIDTH <= value <= MAX_WIDTH:
        raise TinyOpsError(f"width {value:g} is out of range; use a multiplier in [{MIN_WIDTH}, {MAX_WIDTH}]")
    return value


def check_round_to(round_to: int) -> int:
    if isinstance(round_to, bool) or not isinstance(round_to, int) or round_to < 1:
        raise TinyOpsError(f"round_to must be a positive integer (8 as in the papers, 4 for MCU kernels), "
                           f"got {round_to!r}")
    return round_to


def parse_resolution(value: int | tuple[int, int] | str) -> tuple[int, int]:
    """An input size as (height, width): 224, (49, 10), "160" or "49x10"."""
    if isinstance(value, str):
        parts = value.lower().replace("*", "x").split("x")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            raise TinyOpsError(f"resolution {value!r} is not a size; use e.g. 224 or 49x10") from None
        value = numbers[0] if len(numbers) == 1 else tuple(numbers)  # type: ignore[assignment]
    if isinstance(value, bool):
        raise TinyOpsError(f"resolution must be an integer or HxW, got {value!r}")
    if isinstance(value, int):
        size = (value, value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        size = (int(value[0]), int(value[1]))
    else:
        raise TinyOpsError(f"resolution {value!r} is not a size; use e.g. 224 or 49x10")
    if not all(MIN_RESOLUTION_PX <= d <= MAX_RESOLUTION_PX for d in size):
        raise TinyOpsError(f"resolution {size[0]}x{size[1]} is out of range; each side must be in "
                           f"[{MIN_RESOLUTION_PX}, {MAX_RESOLUTION_PX}]")
    return size


MIN_VECTOR_FEATURES = 8


def family_resolution(family: str, input_kind: str, value: int | tuple[int, int] | str) -> tuple[int, int]:
    """An input size for a family: images take ``parse_resolution``'s (H, W); a flat feature vector
    (the autoencoder) takes a feature count (640 -> (1, 640)) or frames x bins (5x128 -> (5, 128))."""
    if input_kind != "vector":
        return parse_resolution(value)
    if isinstance(value, bool):
        raise TinyOpsError(f"resolution must be a feature count or FRAMESxBINS, got {value!r}")
    parts: list[object]
    if isinstance(value, str):
        parts = list(value.lower().replace("*", "x").split("x"))
    elif isinstance(value, (tuple, list)):
        parts = list(value)
    else:
        parts = [value]
    try:
        numbers = [int(str(p)) for p in parts]
    except ValueError:
        raise TinyOpsError(f"resolution {value!r} is not a size; use e.g. 640 or 5x128") from None
    if len(numbers) == 1:
        numbers = [1, numbers[0]]
    if len(numbers) != 2 or min(numbers) < 1:
        raise TinyOpsError(f"resolution {value!r} is not a size; use e.g. 640 or 5x128")
    if numbers[0] * numbers[1] < MIN_VECTOR_FEATURES:
        raise TinyOpsError(f"{family} needs at least {MIN_VECTOR_FEATURES} input features, got "
                           f"{numbers[0] * numbers[1]}")
    if numbers[0] * numbers[1] > MAX_RESOLUTION_PX * MAX_RESOLUTION_PX:
        raise TinyOpsError(f"resolution {value!r} is out of range for {family}")
    return (numbers[0], numbers[1])


def format_resolution(size: tuple[int, int]) -> str:
    return str(size[0]) if size[0] == size[1] else f"{size[0]}x{size[1]}"
