"""User-facing errors: each becomes one line on stderr and exit status 2 in the CLI."""


class TinyOpsError(Exception):
    """A problem with what the user gave us (model, board, option), stated with what to do."""


class ModelFormatError(TinyOpsError):
    """The model file is missing, not a model, truncated, or a Git LFS pointer."""


class BoardError(TinyOpsError):
    """Unknown board ID or malformed board description file."""


class UnsupportedOpError(TinyOpsError):
    """An operation the requested stage cannot handle."""
