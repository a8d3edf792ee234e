"""Reading the files of a run folder as data from a stranger: nothing outside the run, only regular files, sizes capped.

A run folder may come from someone else. A symlink in it may lead anywhere (``config.yaml -> ~/.ssh/id_rsa``), a FIFO
blocks whoever opens it, ``/dev/zero`` never ends, and ``[[[[...`` makes ``json.loads`` recurse until RecursionError.
So every path is resolved one component at a time and each step must stay inside the run's real path (symlinks that
stay inside are followed); a file is opened with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO opens without waiting for a
writer) and its open descriptor is checked again, type and size, before one byte is read.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import numpy as np

from latent_probe.errors import ConfigError

CONFIG_MAX_BYTES = 1_000_000  # a config is a page of YAML (the cap of cli/config_files.MAX_BYTES)
MANIFEST_MAX_BYTES = 1_000_000  # a manifest names a moment's files and layers: a few KB
TABLE_MAX_BYTES = 20_000_000  # a probe's JSON table (metrics per layer, per epoch); the report renders it whole
EVENTS_MAX_BYTES = 1 << 30  # TensorBoard streams an event file record by record: this cap bounds time, not memory
MAX_JSON_DEPTH = 64  # written tables nest a few levels; json.loads recurses once per level

FILE, DIRECTORY, MISSING = "file", "directory", "not found"
_CHUNK = 1 << 20
_SPECIAL = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
            stat.S_IFSOCK: "a socket", stat.S_IFLNK: "a symlink"}
# A JSON string, even unterminated: the closing quote is optional so the match never fails and never backtracks.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _within(real: str, top: str) -> bool:
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def real_path_in_run(root: str | Path, path: str | Path) -> str | None:
    """The real path of ``path`` when it and every component on the way, symlinks resolved, stay inside ``root``; else None."""
    top = os.path.realpath(root)
    relative = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    if relative == os.curdir:
        return top
    parts = Path(relative).parts
    if parts[0] == os.pardir:
        return None
    real = top
    for part in parts:  # one component at a time: a folder symlinked outside is refused even if a link leads back in
        real = os.path.realpath(os.path.join(real, part))
        if not _within(real, top):
            return None
    return real


def inside_run(root: str | Path, path: str | Path) -> bool:
    """Whether ``path``, and every folder on the way to it, stays inside the run folder ``root`` (symlinks resolved)."""
    return real_path_in_run(root, path) is not None


def _mode_problem(mode: int, want: str) -> str | None:
    """Why a file of ``mode`` is not a ``want`` (``FILE`` or ``DIRECTORY``), or None when it is."""
    if stat.S_ISREG(mode):
        return None if want == FILE else "is a file, not a folder"
    if stat.S_ISDIR(mode):
        return None if want == DIRECTORY else "is a directory"
    special = _SPECIAL.get(stat.S_IFMT(mode), "a special file")
    return f"is not a regular file ({special})" if want == FILE else f"is not a folder ({special})"


def _classify(root: str | Path, path: str | Path) -> tuple[str, str | None]:
    """``run_entry_kind`` of ``path``, and its real path when the run may read it."""
    try:
        link = stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return MISSING, None
    except OSError as error:
        return f"cannot be read ({error.strerror})", None
    real = real_path_in_run(root, path)
    if real is None:
        return _why_outside(root, Path(path), link), None
    try:
        mode = os.stat(real).st_mode  # no symlink is left in ``real``: this stat cannot leave the run
    except FileNotFoundError:
        return "is a broken symlink", None
    except OSError as error:
        return f"cannot be read ({error.strerror})", None
    if stat.S_ISDIR(mode):
        return DIRECTORY, real
    problem = _mode_problem(mode, FILE)
    return (problem, None) if problem else (FILE, real)


def _why_outside(root: str | Path, path: Path, link: bool) -> str:
    """Why ``path``, found outside the run, is: itself a symlink leading out, or in a folder that leads out."""
    if os.path.abspath(path) != os.path.abspath(root) and not inside_run(root, path.parent):
        return "lies in a folder symlinked outside the run"
    return "is a symlink leading outside the run" if link else "lies outside the run"


def run_entry_kind(root: str | Path, path: str | Path) -> str:
    """``FILE`` or ``DIRECTORY`` when the run may read ``path``, ``MISSING`` when nothing is there, else why not."""
    return _classify(root, path)[0]


def checked_run_path(root: str | Path, path: str | Path, want: str = FILE) -> str:
    """The real path of ``path`` when it is a ``want`` (``FILE`` or ``DIRECTORY``) inside the run; else one-line ConfigError."""
    kind, real = _classify(root, path)
    if kind == want and real is not None:
        return real
    problem = {MISSING: "not found", FILE: "is a file, not a folder", DIRECTORY: "is a directory"}.get(kind, kind)
    raise ConfigError(f"{str(path)!r} {problem}")


def _open_regular(path: str | Path, real: str, cap: int) -> int:
    """A descriptor open on ``real``, checked on the descriptor itself: a regular file of at most ``cap`` bytes."""
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as error:
        raise ConfigError(f"{str(path)!r} cannot be read: {error.strerror}") from None
    info = os.fstat(fd)  # the file may have been swapped since it was checked by path
    problem = _mode_problem(info.st_mode, FILE) or (
        f"is {info.st_size:,} bytes, over the cap of {cap:,}" if info.st_size > cap else None)
    if problem:
        os.close(fd)
        raise ConfigError(f"{str(path)!r} {problem}")
    return fd


def read_run_bytes(root: str | Path, path: str | Path, cap: int) -> bytes:
    """The bytes of ``path``, a regular file inside the run of at most ``cap`` bytes; else one-line ConfigError."""
    fd = _open_regular(path, checked_run_path(root, path, FILE), cap)
    chunks, total = [], 0
    try:
        while chunk := os.read(fd, min(_CHUNK, cap + 1 - total)):  # one byte past the cap shows a file still growing
            chunks.append(chunk)
            total += len(chunk)
    except OSError as error:
        raise ConfigError(f"{str(path)!r} cannot be read: {error.strerror}") from None
    finally:
        os.close(fd)
    if total > cap:
        raise ConfigError(f"{str(path)!r} grew over the cap of {cap:,} bytes while being read")
    return b"".join(chunks)


def json_depth(text: str) -> int:
    """The deepest nesting of brackets outside strings: a bound on how deep ``json.loads`` would recurse on ``text``."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).encode("ascii")
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = ((codes == ord("[")) | (codes == ord("{"))).astype(np.int8) * 2 - 1
    return int(np.cumsum(steps, dtype=np.int32).max(initial=0))


def read_run_json(root: str | Path, path: str | Path, cap: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The JSON value of a run file (UTF-8, at most ``cap`` bytes, ``max_depth`` levels); else one-line ConfigError."""
    try:
        text = read_run_bytes(root, path, cap).decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{str(path)!r} is not UTF-8 text (byte {error.start})") from None
    depth = json_depth(text)  # measured before json.loads can recurse
    if depth > max_depth:
        raise ConfigError(f"{str(path)!r} nests {depth:,} levels deep, over the cap of {max_depth}")
    try:
        return json.loads(text)
    except ValueError as error:
        raise ConfigError(f"{str(path)!r} is not valid JSON ({type(error).__name__}: {str(error)[:200]})") from None


def list_run_dir(root: str | Path, folder: str | Path) -> list[tuple[Path, str]]:
    """Each entry of a folder of the run, sorted by name, with its ``run_entry_kind`` (nothing outside is followed)."""
    real = checked_run_path(root, folder, DIRECTORY)
    try:
        names = sorted(os.listdir(real))
    except OSError as error:
        raise ConfigError(f"{str(folder)!r} cannot be listed: {error.strerror}") from None
    return [(Path(folder) / name, run_entry_kind(root, Path(folder) / name)) for name in names]


def run_folder(path: str | Path) -> Path:
    """``path`` when it is a folder (symlinks followed: the user named it); else a one-line ConfigError saying what it is."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        what = "is a broken symlink" if os.path.islink(path) else None
        raise ConfigError(f"run folder {str(path)!r} {what}" if what else f"run folder not found: {str(path)!r}") from None
    except OSError as error:
        raise ConfigError(f"run folder {str(path)!r} cannot be read: {error.strerror}") from None
    if not stat.S_ISDIR(mode):
        special = "a file" if stat.S_ISREG(mode) else _SPECIAL.get(stat.S_IFMT(mode), "a special file")
        raise ConfigError(f"run folder {str(path)!r} is not a folder ({special})")
    return Path(path)
