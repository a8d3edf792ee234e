"""Opening a file the user names (a config, a checkpoint, a weights file): it must be a regular file.

"Not found" is said only when nothing is there: a folder "is a directory", a FIFO, device or socket "is not a regular
file". Nothing blocks: the path is classified by ``stat`` before it is opened (a device is never opened), then opened
with ``O_NONBLOCK`` (a FIFO swapped in meanwhile opens without waiting for a writer) and checked again on the descriptor.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from latent_probe.errors import ConfigError

_SPECIAL = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
            stat.S_IFSOCK: "a socket"}


def _problem(mode: int) -> str | None:
    """Why a file of ``mode`` cannot be read as a file, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    return f"is not a regular file ({_SPECIAL.get(stat.S_IFMT(mode), 'a special file')})"


def refuse_special(path: str, what: str) -> None:
    """Raise ``ConfigError`` when ``path`` names a FIFO, device or socket (a reader would wait, or never end); a regular
    file, a folder, or no file at all passes."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # nothing there, a name too long, a NUL in it: not a special file
        return
    problem = None if stat.S_ISDIR(mode) else _problem(mode)
    if problem:
        raise _refuse(what, path, problem)


def _refuse(what: str, path: str, problem: str) -> ConfigError:
    return ConfigError(f"{what} {path!r} {problem}")


def open_regular_file(path: str | os.PathLike, what: str) -> BinaryIO:
    """``path`` opened for binary reading when it is a regular file; else one ``ConfigError`` saying what it is."""
    name = os.fspath(path)
    try:
        problem = _problem(os.stat(name).st_mode)
        if problem:
            raise _refuse(what, name, problem)
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError(f"{what} not found: {name!r}") from None
    except NotADirectoryError:
        raise _refuse(what, name, "cannot be read: a part of its path is a file, not a folder") from None
    except PermissionError:
        raise _refuse(what, name, "cannot be read: permission denied") from None
    except OSError as error:  # a symlink loop, a name too long, an I/O error
        raise _refuse(what, name, f"cannot be read: {error.strerror or error}") from None
    problem = _problem(os.fstat(fd).st_mode)  # the path may have been swapped since the stat
    if problem:
        os.close(fd)
        raise _refuse(what, name, problem)
    os.set_blocking(fd, True)  # a regular file: reads never wait anyway
    return os.fdopen(fd, "rb")
