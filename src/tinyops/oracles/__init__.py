"""The reference implementations tinyops is checked against: LiteRT and the TFLM interpreter.

Each oracle runs in a child process: the interpreters are native code that can crash on models
they do not support, and TFLM prints its arena figures from C, which only a child's stdout catches.
"""

from tinyops.oracles.probe import OracleError, OracleResult, litert_run, tflm_arena, tflm_run

__all__ = ["OracleError", "OracleResult", "litert_run", "tflm_arena", "tflm_run"]
