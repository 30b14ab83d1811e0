"""The cpu (and v1 cpuacct) controller: shares/weight, CFS quota, usage.

OCI speaks v1 units (``shares``, ``quota``/``period`` in µs). v2 gets
``cpu.weight`` by the linear map runc 1.1/Docker use,
``1 + (shares - 2) * 9999 / 262142``, and ``cpu.max = "<quota|max> <period>"``.
"""

from __future__ import annotations

import errno

from dockyard.errors import InvalidArgument

from . import fs
from .resources import Resources, opt_int, section

__all__ = ["KEYS", "set_v1", "set_v2", "stats_v1", "stats_v2", "shares_to_weight"]

# The OCI linux.resources.cpu keys this controller handles (cpus/mems are cpuset's).
KEYS = ("shares", "quota", "period", "burst", "realtimeRuntime", "realtimePeriod", "idle")

_DEFAULT_PERIOD = 100000  # µs, the kernel default (cgroup-v2.rst)


def shares_to_weight(shares: int) -> int:
    """v1 cpu.shares [2..262144] → v2 cpu.weight [1..10000], linearly; 0 stays 0 (unset)."""
    if shares == 0:
        return 0
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def _period_then_quota(
    path: str, period_file: str, period: int | None, quota: int | None, quota_file: str
) -> None:
    # Shrinking the period can be refused (EINVAL) while the old quota/new period
    # exceeds the parent's bandwidth; if a quota follows, retry the period after it.
    retry_period = False
    if period:
        try:
            fs.write(path, period_file, str(period))
        except fs.CgroupFileError as exc:
            if exc.errno != errno.EINVAL or not quota:
                raise
            retry_period = True
    if quota:
        fs.write(path, quota_file, str(quota))
        if retry_period:
            fs.write(path, period_file, str(period))


def set_v1(path: str, res: Resources | None) -> None:
    c = section(res, "cpu")
    if not c:
        return
    shares = opt_int(c, "shares")
    if shares:
        fs.write(path, "cpu.shares", str(shares))
    _period_then_quota(
        path, "cpu.cfs_period_us", opt_int(c, "period"), opt_int(c, "quota"), "cpu.cfs_quota_us"
    )
    burst = opt_int(c, "burst")
    if burst is not None:
        try:
            fs.write(path, "cpu.cfs_burst_us", str(burst))
        except fs.CgroupFileError as exc:
            if exc.errno != errno.ENOENT:  # older kernels lack burst: ignore, as runc does
                raise
    _period_then_quota(
        path,
        "cpu.rt_period_us",
        opt_int(c, "realtimePeriod"),
        opt_int(c, "realtimeRuntime"),
        "cpu.rt_runtime_us",
    )
    idle = opt_int(c, "idle")
    if idle is not None:
        fs.write(path, "cpu.idle", str(idle))


def set_v2(path: str, res: Resources | None) -> None:
    c = section(res, "cpu")
    if not c:
        return
    if opt_int(c, "realtimePeriod") or opt_int(c, "realtimeRuntime"):
        raise InvalidArgument(
            "realtime CPU scheduling (cpu.realtimePeriod/realtimeRuntime) is not supported on cgroup v2"
        )
    idle = opt_int(c, "idle")
    if idle is not None:
        fs.write(path, "cpu.idle", str(idle))
    weight = shares_to_weight(opt_int(c, "shares") or 0)
    if weight:
        fs.write(path, "cpu.weight", str(weight))
    quota, period = opt_int(c, "quota"), opt_int(c, "period")
    if quota or period:
        value = f"{quota if quota and quota > 0 else 'max'} {period or _DEFAULT_PERIOD}"
        fs.write(path, "cpu.max", value)
    burst = opt_int(c, "burst")
    if burst is not None:
        fs.write(path, "cpu.max.burst", str(burst))


def _throttling(stat: dict[str, int], time_key: str, scale: int) -> dict[str, int]:
    return {
        "periods": stat.get("nr_periods", 0),
        "throttled_periods": stat.get("nr_throttled", 0),
        "throttled_time": stat.get(time_key, 0) * scale,
    }


def stats_v1(cpu_path: str | None, cpuacct_path: str | None) -> dict[str, object]:
    """Docker ``cpu_stats`` (minus the host-wide fields) from cpuacct + cpu.stat, all in ns."""
    out: dict[str, object] = {}
    if cpuacct_path is not None:
        total = fs.read_int(cpuacct_path, "cpuacct.usage")
        if total is not None:
            percpu = fs.read_optional(cpuacct_path, "cpuacct.usage_percpu") or ""
            usage: dict[str, object] = {
                "total_usage": total,
                "percpu_usage": [int(x) for x in percpu.split()],
                "usage_in_kernelmode": fs.read_int(cpuacct_path, "cpuacct.usage_sys") or 0,
                "usage_in_usermode": fs.read_int(cpuacct_path, "cpuacct.usage_user") or 0,
            }
            out["cpu_usage"] = usage
    if cpu_path is not None:
        stat = fs.read_key_values(cpu_path, "cpu.stat")
        if stat is not None:
            out["throttling_data"] = _throttling(stat, "throttled_time", 1)
    return out


def stats_v2(path: str) -> dict[str, object]:
    """Docker ``cpu_stats`` from v2 cpu.stat (µs → ns); no per-CPU numbers in v2."""
    stat = fs.read_key_values(path, "cpu.stat")
    if stat is None:
        return {}
    out: dict[str, object] = {
        "cpu_usage": {
            "total_usage": stat.get("usage_usec", 0) * 1000,
            "usage_in_kernelmode": stat.get("system_usec", 0) * 1000,
            "usage_in_usermode": stat.get("user_usec", 0) * 1000,
        }
    }
    if "nr_periods" in stat:  # only with the cpu controller enabled
        out["throttling_data"] = _throttling(stat, "throttled_usec", 1000)
    return out
