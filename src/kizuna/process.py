"""Which process holds something (a peer's sync lease, a hunt job): ``host:pid`` tags, and
whether the process behind one is gone, so its work can be taken over at once."""

from __future__ import annotations

import os
import socket

__all__ = ["dead_here", "owner_tag"]


def owner_tag() -> str:
    """This process, as ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def dead_here(tag: str | None) -> bool:
    """The tag names a process of this host that no longer runs (``False`` for another host,
    for this very process, and when it cannot be told)."""
    if not tag:
        return False
    host, _, pid = tag.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
