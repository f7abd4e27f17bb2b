"""Which process owns a run, and whether that process is still alive.

A run records its owner (host name, pid and a start token) and a heartbeat the
owner's writer refreshes. A reader decides a RUNNING run is dead when:

- the owner ran on this machine (same host name, same boot, same pid namespace)
  and its pid is gone or now belongs to a process started at another time; or
- the owner ran elsewhere and its heartbeat is older than
  ``LOGWRIGHT_HEARTBEAT_TIMEOUT`` seconds (300 by default).

The start token is ``<boot id>:<pid namespace>:<start ticks>`` on Linux; elsewhere
it is None and only the pid (same host) or the heartbeat (other hosts) decide.
"""

from __future__ import annotations

import os
import socket

from logwright import config
from logwright.store.base import RunOwner

_cache: dict[int, RunOwner] = {}


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _machine() -> str | None:
    boot = _read("/proc/sys/kernel/random/boot_id")
    if boot is None:
        return None
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pidns = "?"
    return f"{boot}:{pidns}"


def _start_ticks(pid: int) -> str | None:
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def current_owner() -> RunOwner:
    """This process as a run owner (recomputed after a fork)."""
    pid = os.getpid()
    owner = _cache.get(pid)
    if owner is None:
        machine, ticks = _machine(), _start_ticks(pid)
        start = f"{machine}:{ticks}" if machine and ticks else None
        owner = _cache[pid] = RunOwner(socket.gethostname(), pid, start)
    return owner


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    stat = _read(f"/proc/{pid}/stat")
    if stat is not None:  # a zombie (killed, not yet waited for) is dead for us
        state = stat[stat.rfind(")") + 2 : stat.rfind(")") + 3]
        return state not in ("Z", "X")
    return True


def is_dead(host: str | None, pid: int | None, start: str | None, heartbeat_ms: int | None,
            now_ms: int) -> bool:
    """True when a RUNNING run's owner is known to be gone (see the module docstring)."""
    if host is None or pid is None:
        return False  # written by a logwright that did not record owners: cannot tell
    me = current_owner()
    same_machine = host == me.host and (start is None or me.start is None
                                         or start.rsplit(":", 1)[0] == me.start.rsplit(":", 1)[0])
    if same_machine:
        if pid == me.pid:
            return start is not None and me.start is not None and start != me.start
        if not _pid_alive(pid):
            return True
        if start is not None and me.start is not None:
            ticks = _start_ticks(pid)
            return ticks is not None and ticks != start.rsplit(":", 1)[1]
        return False
    timeout_ms = config.number(config.HEARTBEAT_TIMEOUT, 300.0) * 1000
    return heartbeat_ms is not None and now_ms - heartbeat_ms > timeout_ms
