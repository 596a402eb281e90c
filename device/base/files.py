"""Atomic file writes, so an interrupted run never leaves a half-written artefact behind."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    The temporary file keeps the target's suffix, because some writers (Keras, OpenCV, matplotlib)
    choose the format from it.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}")
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_current_umask())  # mkstemp makes 0600; artefacts should read like any file
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, document: dict) -> None:
    write_text(path, json.dumps(document, indent=2, sort_keys=False) + "\n")


def write_figure(path: str | os.PathLike, figure) -> None:
    """Save a matplotlib Figure atomically, in the format its suffix names (train/ and convert/ plots).

    Build it as `matplotlib.figure.Figure(...)`, not with pyplot: such a figure needs no GUI backend
    and no closing, so plotting never opens a window or keeps figures alive.
    """
    with atomic_path(path) as tmp:
        figure.savefig(tmp)


def display_path(path: str | os.PathLike) -> str:
    """`path` relative to the working directory when it can be (shorter in messages and JSON)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive, on Windows
        return str(path)


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def installing_path(path: str | os.PathLike, sha256: str) -> Path:
    """Where convert/ keeps the model `path` will hold, named by its hash, while its pair is installed.

    Only convert/ writes it, and only device/runtime.py reads it (a model whose JSON is already in
    place): the one name both sides agree on.
    """
    target = Path(path)
    return target.with_name(f".{target.stem}.{sha256}{target.suffix}")


class UnreadableFile(Exception):
    """A path that cannot be read as a regular file. The message says why, without the path."""


# What a path that is not a regular file is, for messages: reading a FIFO blocks until a writer
# comes, and /dev/zero or /dev/urandom never end.
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_regular_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of the regular file at `path`, at most `max_bytes` of them.

    Anything else is refused before a byte is read: a directory, a FIFO (opened non-blocking, so
    one swapped in after the check cannot block either), a device, a socket, a file larger than
    `max_bytes`, a path that cannot be followed or opened.

    Raises:
        UnreadableFile: with one line that says why.
    """
    fd = _open_regular(path, max_bytes)
    with os.fdopen(fd, "rb") as handle:
        try:
            data = handle.read(max_bytes + 1)  # one byte more: a file that grew since fstat is refused too
        except OSError as error:
            raise UnreadableFile(_why(error)) from None
    if len(data) > max_bytes:
        raise UnreadableFile(f"larger than {max_bytes} bytes")
    return data


def regular_file_problem(path: str | os.PathLike) -> str | None:
    """Why `path` is not a regular file this process can open, in a few words; None when it is."""
    try:
        os.close(_open_regular(path, None))
    except UnreadableFile as error:
        return str(error)
    return None


def _open_regular(path: str | os.PathLike, max_bytes: int | None) -> int:
    """A read-only descriptor of the regular file at `path` (no larger than `max_bytes`, unless None)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise UnreadableFile(_why(error)) from None
    try:
        _check_regular(os.fstat(fd), max_bytes)
    except UnreadableFile:
        os.close(fd)
        raise
    return fd


def _check_regular(status: os.stat_result, max_bytes: int | None) -> None:
    for is_kind, kind in _KINDS:
        if is_kind(status.st_mode):
            raise UnreadableFile(f"is {kind}, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise UnreadableFile("not a regular file")
    if max_bytes is not None and status.st_size > max_bytes:
        raise UnreadableFile(f"{status.st_size} bytes, larger than the {max_bytes} this reads")


def _why(error: OSError) -> str:
    if error.errno == errno.EISDIR:
        return "is a directory, not a file"
    if error.errno == errno.ELOOP:
        return "a loop of symbolic links"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (the file, or a folder on its path, is not readable by this user)"
    if error.errno == errno.ENOENT:
        return "no such file"
    if error.errno == errno.ENOTDIR:
        return "a part of the path is not a directory"
    if error.errno == errno.ENXIO:  # what opening a socket gives
        return "is a socket (or a device with nothing behind it), not a file"
    return (error.strerror or str(error)).lower()
