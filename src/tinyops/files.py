"""Files in and out: bounded reads that never block, checked output paths, atomic writes.

The output policy of every command (README "Output files"): an output that already exists is
refused unless the user passes ``--force``; it is never one of the command's inputs (hard and
symbolic links included); it must be a regular file in an existing, writable folder, with a name
the file system accepts and, for figures, a format matplotlib writes. Every check runs before
the work starts. Files are written to a temporary file beside the target and renamed, so a
failure never leaves half a file and never touches what was there.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Sequence

from tinyops.errors import TinyOpsError

PathLike = str | os.PathLike[str]
DEFAULT_NAME_MAX = 255
DEFAULT_PATH_MAX = 4096
FIGURE_FORMATS = ("png", "pdf", "svg", "svgz", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


def _path_limits(folder: Path) -> tuple[int, int]:
    try:
        return os.pathconf(folder, "PC_NAME_MAX"), os.pathconf(folder, "PC_PATH_MAX")
    except (OSError, ValueError):
        return DEFAULT_NAME_MAX, DEFAULT_PATH_MAX


def _check_length(path: Path, what: str) -> None:
    """Names the file system would refuse, checked by length first: stat() fails on them too."""
    name_max, path_max = DEFAULT_NAME_MAX, DEFAULT_PATH_MAX
    try:
        if path.parent.is_dir():
            name_max, path_max = _path_limits(path.parent)
    except (OSError, ValueError):
        pass
    longest = max((len(os.fsencode(part)) for part in path.parts), default=0)
    if longest > name_max:
        raise TinyOpsError(f"{what} {str(path)[:60]}...: a file name is {longest} bytes long; "
                           f"this file system allows {name_max}")
    if len(os.fsencode(str(path))) >= path_max:
        raise TinyOpsError(f"{what} {str(path)[:60]}...: the path is {len(str(path))} characters long; "
                           f"the limit is {path_max - 1}")


def read_input_file(path: PathLike, what: str, max_bytes: int) -> bytes:
    """Read a user's input file: refuse empty paths, folders, FIFOs and devices, and files over
    ``max_bytes``, each with one line; checking the type before opening means never blocking."""
    text = os.fspath(path)
    if text == "":
        raise TinyOpsError(f"{what}: the path is empty; give a file")
    file_path = Path(text)
    _check_length(file_path, what)
    try:
        info = os.stat(file_path)
    except FileNotFoundError:
        raise TinyOpsError(f"{what} {file_path}: not found (no such file); check the path") from None
    except OSError as exc:
        raise TinyOpsError(f"{what} {file_path}: cannot read ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise TinyOpsError(f"{what} {file_path}: is a directory, expected a file")
    if not stat.S_ISREG(info.st_mode):
        raise TinyOpsError(f"{what} {file_path}: is not a regular file (a device, FIFO or socket)")
    if info.st_size > max_bytes:
        raise TinyOpsError(f"{what} {file_path}: is {info.st_size:,} bytes; the limit is {max_bytes:,}")
    try:
        with open(file_path, "rb") as stream:
            return stream.read(max_bytes + 1)[:max_bytes]
    except OSError as exc:
        raise TinyOpsError(f"{what} {file_path}: cannot read ({exc.strerror})") from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_output_path(path: PathLike, option: str, *, force: bool = False, inputs: Sequence[PathLike] = (),
                      figure: bool = False) -> Path:
    """The output policy, checked before any work: returns the path or raises one TinyOpsError line."""
    text = os.fspath(path)
    if text == "":
        raise TinyOpsError(f"{option}: the path is empty; give a file name")
    target = Path(text)
    _check_length(target, option)
    if os.path.lexists(target):
        for source in inputs:
            if os.fspath(source) and _same_file(target, Path(source)):
                raise TinyOpsError(f"{option} {target}: is the input {source}; refusing to overwrite it, "
                                   "choose another name")
    if figure:
        suffix = target.suffix[1:].lower()
        if suffix not in FIGURE_FORMATS:
            known = ", ".join(f".{s}" for s in FIGURE_FORMATS[:4])
            raise TinyOpsError(f"{option} {target}: {'no' if not suffix else 'unknown'} figure format "
                               f"{'suffix' if not suffix else repr('.' + suffix)}; use one of {known}...")
    folder = target.parent
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise TinyOpsError(f"{option} {target}: {ancestor} is a file, not a folder")
    if not folder.is_dir():
        raise TinyOpsError(f"{option} {target}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise TinyOpsError(f"{option} {target}: the folder {folder} is not writable")
    if target.is_dir():
        raise TinyOpsError(f"{option} {target}: is a directory; give a file name inside it")
    if os.path.lexists(target):
        try:
            mode = os.stat(target).st_mode
        except OSError:
            mode = stat.S_IFREG
        if not stat.S_ISREG(mode):
            raise TinyOpsError(f"{option} {target}: exists and is not a regular file")
        if not force:
            raise TinyOpsError(f"{option} {target}: already exists; choose another name or pass --force to replace it")
    return target


def write_atomically(path: PathLike, payload: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename, so a failure never leaves half a file.

    Missing parent folders are created (library callers rely on it; commands check first).
    Failures of the file system become one-line TinyOpsErrors."""
    target = Path(path)
    temporary: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name[:64]}.", dir=target.parent)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; give the file the user's usual mode
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.replace(temporary, target)
        temporary = None
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        raise TinyOpsError(f"cannot write {target}: {reason}") from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


def save_figure(figure: Any, path: PathLike) -> None:
    """Save a matplotlib figure atomically (the format follows the file extension)."""
    import io

    target = Path(path)
    suffix = target.suffix[1:].lower() or "png"
    if suffix not in FIGURE_FORMATS:
        raise TinyOpsError(f"{target}: unknown figure format '.{suffix}'; use .png, .pdf or .svg")
    buffer = io.BytesIO()
    figure.savefig(buffer, format=suffix, dpi=120, bbox_inches="tight")
    write_atomically(target, buffer.getvalue())
