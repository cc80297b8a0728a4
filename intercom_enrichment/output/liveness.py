"""Whether a process named in a lease or a staging file's name is still there.

A process id means something only inside the pid namespace (and the boot) it was seen in:
containers that share a host name (host networking, ``--hostname``) but not a pid namespace
each see the other's pid as gone, or as someone else. So a process is recorded with its host,
its pid and its *scope* — the boot id and the pid namespace, read from ``/proc`` — and it is
judged gone only from the same host and scope. Where the scope cannot be read (no ``/proc``), it
is empty, and nothing is ever judged gone by pid: leases then end by expiry alone.
"""

import hashlib
import os
import re
import socket
from functools import cache

BOOT_ID = "/proc/sys/kernel/random/boot_id"
PID_NAMESPACE = "/proc/self/ns/pid"


def host_slug() -> str:
    """This machine's name as it appears in leases and staging names."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


@cache
def pid_scope() -> str:
    """``<boot id>/<pid namespace>`` of this process, or "" where either cannot be read."""
    try:
        with open(BOOT_ID, encoding="ascii") as fh:
            boot = fh.read().strip()
        namespace = os.readlink(PID_NAMESPACE)  # e.g. "pid:[4026531836]"
    except OSError:
        return ""
    return f"{boot}/{namespace}" if boot and namespace else ""


def scope_tag() -> str:
    """A short digest of host and scope, for names that must say where their pid was seen."""
    return hashlib.sha256(f"{host_slug()}|{pid_scope()}".encode()).hexdigest()[:8]


def process_gone(pid: int) -> bool:
    """Whether no process ``pid`` runs in this pid namespace."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, owned by someone else
        return False
    return False


def seen_gone(host: str, scope: str, pid: int) -> bool:
    """Whether the process ``pid`` seen on ``host`` in ``scope`` is known to be gone: only when
    this process shares both (a pid from elsewhere proves nothing)."""
    here = pid_scope()
    return bool(here) and host == host_slug() and scope == here and process_gone(pid)
