"""The memory controller: limits, swap, OOM counting, usage.

OCI ``memory.swap`` is memory+swap *together* (the v1 ``memsw`` meaning).
v1 writes it to ``memory.memsw.limit_in_bytes`` — only when the kernel has swap
accounting (the file exists). v2 has a swap-only knob, so it gets
``swap - limit``. ``-1`` means unlimited; ``0``/absent means "leave alone".
"""

from __future__ import annotations

import errno
import functools
import os

from dockyard.errors import InvalidArgument

from . import fs
from .resources import Resources, opt_bool, opt_int, section

__all__ = ["set_v1", "set_v2", "stats_v1", "stats_v2", "oom_kill_count_v1", "oom_kill_count_v2", "swap_v2"]

_LIMIT = "memory.limit_in_bytes"
_MEMSW = "memory.memsw.limit_in_bytes"


@functools.cache
def _machine_memory() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _v1_limit(path: str, value: int) -> None:
    try:
        fs.write(path, _LIMIT, str(value))
    except fs.CgroupFileError as exc:
        if exc.errno != errno.EBUSY:
            raise
        # EBUSY: the new limit is below what the cgroup already uses; say so.
        usage = fs.read_int(path, "memory.usage_in_bytes")
        peak = fs.read_int(path, "memory.max_usage_in_bytes")
        raise fs.CgroupFileError(
            f"cgroups: unable to set memory limit to {value} (current usage: {usage}, peak usage: {peak})",
            exc.errno,
        ) from None


def set_v1(path: str, res: Resources | None, *, fresh: bool = False) -> None:
    """Apply ``res["memory"]`` to a v1 memory cgroup.

    The kernel insists limit <= memsw at every instant, so the write order
    depends on whether the limits go up or down (runc's rule). ``fresh`` (a
    cgroup we just made: both unlimited) saves reading the current limit.
    """
    m = section(res, "memory")
    if not m:
        return
    limit = opt_int(m, "limit") or None  # 0 = unset, as in runc
    swap = opt_int(m, "swap") or None
    if limit is not None or swap is not None:
        if not fs.exists(path, _MEMSW):
            swap = None  # no swap accounting in this kernel: nothing to limit
        elif limit == -1 and swap is None:
            swap = -1  # "unlimited memory" lifts the memsw cap too
    if limit is not None and swap is not None:
        if swap == -1:
            swap_first = True
        elif fresh:
            swap_first = False  # current limit is "max", above any swap value
        else:
            current = fs.read_int(path, _LIMIT) or 0
            swap_first = current < swap
        if swap_first:
            fs.write(path, _MEMSW, str(swap))
            _v1_limit(path, limit)
        else:
            _v1_limit(path, limit)
            fs.write(path, _MEMSW, str(swap))
    elif limit is not None:
        _v1_limit(path, limit)
    elif swap is not None:
        fs.write(path, _MEMSW, str(swap))

    reservation = opt_int(m, "reservation")
    if reservation:
        fs.write(path, "memory.soft_limit_in_bytes", str(reservation))
    swappiness = opt_int(m, "swappiness")
    if swappiness is not None and swappiness != -1:
        if not 0 <= swappiness <= 100:
            raise InvalidArgument(f"invalid memory swappiness value: {swappiness} (valid range is 0-100)")
        fs.write(path, "memory.swappiness", str(swappiness))
    disable_oom = opt_bool(m, "disableOOMKiller")
    if disable_oom or (disable_oom is False and not fresh):
        fs.write(path, "memory.oom_control", "1" if disable_oom else "0")


def swap_v2(swap: int | None, limit: int | None) -> int | None:
    """OCI memory+swap → the v2 swap-only value (None = leave alone, -1 = max)."""
    swap = swap or 0
    limit = limit or 0
    if limit == -1 and swap == 0:
        return -1  # unlimited memory and no swap given: unlimited swap too (v1 parity)
    if swap in (-1, 0):
        return swap if swap == -1 else None
    if limit == -1:
        return swap
    if limit == 0:
        raise InvalidArgument("unable to set swap limit without memory limit")
    if limit < 0:
        raise InvalidArgument(f"invalid memory value: {limit}")
    if swap < limit:
        raise InvalidArgument("memory+swap limit should be >= memory limit")
    return swap - limit


def _v2_num(value: int) -> str:
    return "max" if value == -1 else str(value)


def set_v2(path: str, res: Resources | None) -> None:
    """Apply ``res["memory"]`` to a v2 cgroup (memory.max, memory.swap.max, memory.low)."""
    m = section(res, "memory")
    if not m:
        return
    limit = opt_int(m, "limit") or None
    swap = swap_v2(opt_int(m, "swap"), limit)
    if swap is not None:
        try:
            fs.write(path, "memory.swap.max", _v2_num(swap))
        except fs.CgroupFileError as exc:
            # No swap accounting: asking for "no swap" or "unlimited" is already true.
            if not (exc.errno == errno.ENOENT and (swap == -1 or swap == 0)):
                raise
    if limit is not None:
        fs.write(path, "memory.max", _v2_num(limit))
    reservation = opt_int(m, "reservation")
    if reservation:
        fs.write(path, "memory.low", _v2_num(reservation))


def _clamp_limit(limit: int | None) -> int:
    # Docker reports the host's memory when the container has no (smaller) limit.
    machine = _machine_memory()
    return machine if limit is None or limit > machine else limit


def stats_v1(path: str) -> dict[str, object]:
    """Docker ``memory_stats`` for v1: usage, max_usage, failcnt, limit, stats."""
    usage = fs.read_int(path, "memory.usage_in_bytes")
    if usage is None:
        return {}
    return {
        "usage": usage,
        "max_usage": fs.read_int(path, "memory.max_usage_in_bytes") or 0,
        "failcnt": fs.read_int(path, "memory.failcnt") or 0,
        "limit": _clamp_limit(fs.read_int(path, _LIMIT)),
        "stats": fs.read_key_values(path, "memory.stat") or {},
    }


def stats_v2(path: str) -> dict[str, object]:
    """Docker ``memory_stats`` for v2: usage, limit, stats (v2 has no max_usage/failcnt)."""
    usage = fs.read_int(path, "memory.current")
    if usage is None:
        return {}
    return {
        "usage": usage,
        "limit": _clamp_limit(fs.read_int(path, "memory.max")),
        "stats": fs.read_key_values(path, "memory.stat") or {},
    }


def oom_kill_count_v1(path: str) -> int:
    return (fs.read_key_values(path, "memory.oom_control") or {}).get("oom_kill", 0)


def oom_kill_count_v2(path: str) -> int:
    return (fs.read_key_values(path, "memory.events") or {}).get("oom_kill", 0)
