"""What the page answers from and who may change it: one reference to the current archive, swapped whole
(a question in flight keeps the one it started with), refreshed when another process saved the index; and
whether this server lets its visitors upload and remove files."""
from __future__ import annotations

import ipaddress
import logging
import threading
import time
from dataclasses import dataclass

from ..assistant import USER_ERRORS, Assistant

log = logging.getLogger(__name__)

RETRY_SECONDS = 10.0  # after a failed reload (e.g. an index rebuilt with another model), wait before trying again


class Live:
    """The current :class:`Assistant`. :meth:`get` notices, at one ``stat`` per request, that the index was
    saved by someone else (``qa-assistant index`` in a shell) and loads it once — the request that notices
    waits for the load, the others answer from the previous archive meanwhile; :meth:`publish` swaps in the
    assistant an upload or removal returned. A failed load is logged and the previous archive kept."""

    def __init__(self, assistant: Assistant):
        self._current = assistant
        self._loading = threading.Lock()
        self._swap = threading.Lock()
        self._retry_at = 0.0

    def get(self) -> Assistant:
        current = self._current
        if time.monotonic() < self._retry_at or not self._loading.acquire(blocking=False):
            return current  # another request is loading the new version: this one answers from the last
        try:
            fresh = current.reloaded()
        except USER_ERRORS as error:
            self._retry_at = time.monotonic() + RETRY_SECONDS
            log.warning("the index changed on disk but cannot be loaded (still answering from the previous "
                        "version): %s", error)
            return current
        finally:
            self._loading.release()
        if fresh is current:
            return current
        with self._swap:
            if self._current is current:  # an upload may have published a newer one meanwhile
                self._current = fresh
                log.info("index %s changed on disk: now answering from %d passages", fresh.index_dir,
                         len(fresh.passages))
            return self._current

    def publish(self, assistant: Assistant) -> None:
        """Answer from ``assistant`` from now on (the result of an upload or removal)."""
        with self._swap:
            self._current = assistant


@dataclass(frozen=True)
class Access:
    """May visitors upload and remove files? ``reason`` says why not, for the page and the refusals."""
    manage: bool
    reason: str = ""


def is_loopback(host: str) -> bool:
    """Does ``host`` listen on this machine only (127.0.0.0/8, ::1, localhost)?"""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def access_for(host: str, with_login: bool) -> Access:
    """Management is on when the page listens on this machine only, or when visitors must log in."""
    if with_login or is_loopback(host):
        return Access(True)
    return Access(False, f"资料管理已关闭：页面在 {host} 上对外提供服务，且没有设置登录。上传和删除只在本机"
                         f"（127.0.0.1）或用 --auth / --auth-file 设置了登录时可用；提问不受影响。")
