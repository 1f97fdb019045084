"""Model analysis: per-op costs, tensor lifetimes, fit against a board."""

from tinyops.analysis.analyze import Analysis, BoardFit, OpAnalysis, Totals, analyze
from tinyops.analysis.liveness import Lifetime, activation_lifetimes, live_bytes_per_step, peak_activation_bytes

__all__ = ["Analysis", "BoardFit", "Lifetime", "OpAnalysis", "Totals", "activation_lifetimes", "analyze",
           "live_bytes_per_step", "peak_activation_bytes"]
