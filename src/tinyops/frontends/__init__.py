"""Model importers: bytes on disk to the tinyops IR."""

from tinyops.frontends.loader import load_model, load_model_bytes

__all__ = ["load_model", "load_model_bytes"]
