"""One writer at a time per index folder: an exclusive ``flock`` on ``index.lock`` that names its holder."""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import IndexLockedError, IndexWriteError
from .files import LOCK

_thread_locks: dict[str, threading.RLock] = {}
_lock_depth: dict[str, int] = {}
_registry_lock = threading.Lock()


@contextmanager
def write_lock(folder: str | Path) -> Iterator[None]:
    """Hold the index folder's write lock: ``index.lock`` with an exclusive ``flock`` (released by the
    kernel when the process dies, even by kill -9, so a crash never leaves a stale lock). A second
    writer fails at once with :class:`IndexLockedError` naming the pid of the first. Re-entrant
    within one thread."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise IndexWriteError(f"{folder}: cannot make the index folder ({error.strerror or error})") from None
    key = str(folder.resolve())
    with _registry_lock:
        thread_lock = _thread_locks.setdefault(key, threading.RLock())
    if not thread_lock.acquire(blocking=False):
        raise IndexLockedError(f"{folder}: index is being written by pid {os.getpid()} (another thread); "
                               f"try again when it has finished")
    descriptor = None
    try:
        if _lock_depth.get(key, 0) == 0:
            descriptor = _acquire_file_lock(folder)
        _lock_depth[key] = _lock_depth.get(key, 0) + 1
        try:
            yield
        finally:
            _lock_depth[key] -= 1
            if descriptor is not None:
                _release_file_lock(descriptor)
    finally:
        thread_lock.release()


def _acquire_file_lock(folder: Path) -> int:
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock
        return -1
    try:
        descriptor = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:  # a read-only folder or disk: nothing can be written, nothing was
        raise IndexWriteError(f"{folder}: cannot write the index ({error.strerror or error}); nothing was "
                              f"changed, the previous version of the index is intact") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = ""
        for _ in range(20):  # the holder writes its pid right after taking the lock
            holder = os.pread(descriptor, 64, 0).decode("ascii", "replace").strip()
            if holder:
                break
            time.sleep(0.05)
        os.close(descriptor)
        raise IndexLockedError(f"{folder}: index is being written by pid {holder or '(unknown)'}; "
                               f"try again when it has finished") from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
    return descriptor


def _release_file_lock(descriptor: int) -> None:
    if descriptor < 0:
        return
    import fcntl
    try:
        os.ftruncate(descriptor, 0)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


