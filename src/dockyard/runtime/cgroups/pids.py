"""The pids controller: a cap on tasks (processes + threads) in the cgroup.

Same file in v1 and v2. OCI ``pids.limit`` of 0 or below means unlimited
(Docker's ``--pids-limit 0``/``-1``), written as ``max``.
"""

from __future__ import annotations

from . import fs
from .resources import Resources, opt_int, section

__all__ = ["set_limit", "stats"]


def set_limit(path: str, res: Resources | None) -> None:
    limit = opt_int(section(res, "pids"), "limit")
    if limit is None:
        return
    fs.write(path, "pids.max", str(limit) if limit > 0 else "max")


def stats(path: str) -> dict[str, int]:
    """Docker ``pids_stats``: ``current``, and ``limit`` only when there is one."""
    current = fs.read_int(path, "pids.current")
    if current is None:
        return {}
    out = {"current": current}
    limit = fs.read_int(path, "pids.max")
    if limit is not None:
        out["limit"] = limit
    return out
