"""Atomic file writes (a temporary file in the target's folder, then rename),
and the one reader of the TOML files (configs, the campaign plan).

Every output the package writes (compressed files, decoded images,
checkpoints, evaluation results) goes through here, so an interrupted or
failed write never leaves a partial file where a good one was expected.

Outputs get the mode a plain ``open(path, "w")`` would give (0666 minus the
user's umask), not ``mkstemp``'s private 0600. Only regular files are ever
replaced: a directory, device, FIFO or socket at the target is refused, with
or without --force (renaming over a device node would silently replace it).
"""
from __future__ import annotations

import os
import stat
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from .errors import CodecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class BadOutput(CodecError):
    """An output path cannot be written: a special file, a directory, no folder."""


def current_umask() -> int:
    """The process umask (read by setting and restoring it; no file is created)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_output_path(path: str | Path) -> Path:
    """Refuse targets that are not (or would not be) regular files; return the path."""
    path = Path(path)
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISLNK(st.st_mode):
        try:
            st = path.stat()
        except FileNotFoundError:
            st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a special file (device, FIFO or socket)"
        raise BadOutput(f"{path} is {kind}; outputs must be regular files")
    if not path.parent.is_dir():
        raise BadOutput(f"{path}: folder {path.parent} does not exist")
    return path


@contextmanager
def atomic_open(path: str | Path) -> Iterator[BinaryIO]:
    """Open a temporary file for writing; on success it replaces ``path``."""
    path = check_output_path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | Path, data: bytes) -> None:
    with atomic_open(path) as f:
        f.write(data)


def read_toml(path: str | Path, error: type[CodecError], what: str) -> dict:
    """The table in TOML file ``path``; ``error`` (one line naming ``what``,
    e.g. "config file") when it is missing, unreadable or not TOML."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} not found: {path}")
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise error(f"{what} {path} is not valid TOML: {e}") from None
