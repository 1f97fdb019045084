"""tinyops: deploy neural networks on microcontrollers, including models that do not fit on chip."""

__version__ = "0.1.0"
