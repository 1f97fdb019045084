"""What a family builder receives: the resolved build request, one object for every family."""

from __future__ import annotations

from dataclasses import dataclass

from tinyops.zoo.scaling import Scaling, format_resolution


@dataclass(frozen=True)
class BuildRequest:
    """A fully resolved request: family defaults already filled in and values validated."""

    family: str
    width: float
    resolution: tuple[int, int]  # (height, width) in pixels, or (frames, coefficients) for audio
    classes: int
    input_channels: int
    round_to: int
    seed: int

    @property
    def scaling(self) -> Scaling:
        return Scaling(self.width, self.round_to)

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, self.resolution[0], self.resolution[1], self.input_channels)

    @property
    def label(self) -> str:
        return f"{self.family}-w{self.width:.2f}-r{format_resolution(self.resolution)}"
