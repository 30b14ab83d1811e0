"""`docker update`: check the request, merge it into the HostConfig, say what the live cgroup needs.

Pure functions, following moby: verifyContainerSettings (update=true) for the
checks, Container.UpdateContainer for the merge (a zero value leaves the
setting alone; NanoCpus and CpuPeriod/CpuQuota exclude each other across the
old and the new settings; lowering below the memory+swap limit needs both), and
the resources sent to the runtime are those the request touched.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from dockyard import errors

__all__ = ["UPDATABLE", "check_update", "merge_update", "update_resources"]

# The Resources fields `POST /containers/{id}/update` accepts, plus RestartPolicy.
UPDATABLE = ("Memory", "MemorySwap", "MemoryReservation", "NanoCpus", "CpuShares", "CpuQuota", "CpuPeriod",
             "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "BlkioWeight",
             "PidsLimit", "KernelMemory")
_CPU_PERIOD = 100_000  # µs: what --cpus is expressed in, as Docker


def _int(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.InvalidArgument(f"json: cannot unmarshal {type(value).__name__} into Go struct field "
                                     f"UpdateConfig.{key} of type int64")
    return value


def check_update(body: Any, ncpu: int | None = None) -> None:
    """Docker's checks on the request alone (400s)."""
    if not isinstance(body, dict):
        raise errors.InvalidArgument("invalid JSON: the body must be an object")
    ncpu = ncpu or os.cpu_count() or 1
    mem, swap, res = _int(body, "Memory"), _int(body, "MemorySwap"), _int(body, "MemoryReservation")
    nano, period, quota = _int(body, "NanoCpus"), _int(body, "CpuPeriod"), _int(body, "CpuQuota")
    weight = _int(body, "BlkioWeight")
    _int(body, "CpuShares")
    if mem and mem < 6 * 1024 * 1024:
        raise errors.InvalidArgument("Minimum memory limit allowed is 6MB")
    if mem > 0 and swap > 0 and swap < mem:
        raise errors.InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage")
    if mem > 0 and res > 0 and mem < res:
        raise errors.InvalidArgument(
            "Minimum memory limit can not be less than memory reservation limit, see usage")
    if nano and period:
        raise errors.InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if nano and quota:
        raise errors.InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if nano < 0 or nano > ncpu * 1_000_000_000:
        raise errors.InvalidArgument(
            f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available")
    if period and (period < 1000 or period > 1_000_000):
        raise errors.InvalidArgument(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 second (i.e. 1000000)")
    if 0 < quota < 1000:
        raise errors.InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if weight and (weight < 10 or weight > 1000):
        raise errors.InvalidArgument("Range of blkio weight is from 10 to 1000")
    pids = body.get("PidsLimit")
    if pids is not None and (isinstance(pids, bool) or not isinstance(pids, int)):
        raise errors.InvalidArgument("invalid PidsLimit")
    _check_restart(body.get("RestartPolicy"))


def _check_restart(policy: Any) -> None:
    if policy is None:
        return
    if not isinstance(policy, dict):
        raise errors.InvalidArgument("invalid RestartPolicy")
    name = policy.get("Name") or ""
    count = policy.get("MaximumRetryCount") or 0
    if name in ("always", "unless-stopped", "no"):
        if count:
            msg = "invalid restart policy: maximum retry count can only be used with 'on-failure'"
            raise errors.InvalidArgument(msg + (" and cannot be negative" if count < 0 else ""))
    elif name == "on-failure":
        if count < 0:
            raise errors.InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    elif name:
        raise errors.InvalidArgument(
            f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', 'on-failure', "
            "or 'unless-stopped'")


def _conflict(cid: str, message: str) -> errors.Conflict:
    return errors.Conflict(f"Cannot update container {cid}: {message}")


def merge_update(cid: str, hc: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """The HostConfig after the update (a new dict); Docker's Conflict errors (409)."""
    new = copy.deepcopy(hc)
    old_nano, old_period, old_quota = hc.get("NanoCpus") or 0, hc.get("CpuPeriod") or 0, hc.get("CpuQuota") or 0
    nano, period, quota = _int(body, "NanoCpus"), _int(body, "CpuPeriod"), _int(body, "CpuQuota")
    if nano > 0 and old_period > 0:
        raise _conflict(cid, "Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set")
    if nano > 0 and old_quota > 0:
        raise _conflict(cid, "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set")
    if period > 0 and old_nano > 0:
        raise _conflict(cid, "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set")
    if quota > 0 and old_nano > 0:
        raise _conflict(cid, "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set")
    for key in ("BlkioWeight", "CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "MemoryReservation",
                "KernelMemory", "CpuRealtimePeriod", "CpuRealtimeRuntime"):
        if body.get(key):
            new[key] = body[key]
    for key in ("CpusetCpus", "CpusetMems"):
        if body.get(key):
            new[key] = str(body[key])
    memory, swap = _int(body, "Memory"), _int(body, "MemorySwap")
    old_memory = hc.get("Memory") or 0
    # Docker stores memory+swap as twice the memory when only memory was given at create
    old_swap = hc.get("MemorySwap") or (2 * old_memory if old_memory > 0 else 0)
    if memory:
        if memory > old_swap and swap == 0:
            raise _conflict(cid, "Memory limit should be smaller than already set memoryswap limit, "
                                 "update the memoryswap at the same time")
        new["Memory"] = memory
        new["MemorySwap"] = old_swap
    if swap:
        new["MemorySwap"] = swap
    if body.get("PidsLimit") is not None:
        new["PidsLimit"] = max(0, body["PidsLimit"])  # 0 and -1 both mean unlimited; kept as 0
    policy = body.get("RestartPolicy") or {}
    if policy.get("Name"):
        if hc.get("AutoRemove") and policy["Name"] != "no":
            raise _conflict(cid, "Restart policy cannot be updated because AutoRemove is enabled for the container")
        new["RestartPolicy"] = {"Name": policy["Name"],
                                "MaximumRetryCount": int(policy.get("MaximumRetryCount") or 0)}
    return new


def update_resources(new: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """OCI linux.resources for the live cgroup: only the sections the request touched, with merged values."""
    res: dict[str, Any] = {}
    if body.get("Memory") or body.get("MemorySwap") or body.get("MemoryReservation"):
        mem: dict[str, Any] = {}
        if new.get("Memory"):
            mem["limit"] = new["Memory"]
            mem["swap"] = new.get("MemorySwap") or 2 * new["Memory"]
        elif body.get("MemorySwap"):
            mem["swap"] = new["MemorySwap"]
        if body.get("MemoryReservation"):
            mem["reservation"] = new["MemoryReservation"]
        res["memory"] = mem
    cpu: dict[str, Any] = {}
    if body.get("CpuShares"):
        cpu["shares"] = new["CpuShares"]
    if body.get("NanoCpus"):
        cpu["period"] = _CPU_PERIOD
        cpu["quota"] = new["NanoCpus"] * _CPU_PERIOD // 1_000_000_000
    if body.get("CpuPeriod"):
        cpu["period"] = new["CpuPeriod"]
    if body.get("CpuQuota"):
        cpu["quota"] = new["CpuQuota"]
    if body.get("CpuRealtimePeriod"):
        cpu["realtimePeriod"] = new["CpuRealtimePeriod"]
    if body.get("CpuRealtimeRuntime"):
        cpu["realtimeRuntime"] = new["CpuRealtimeRuntime"]
    if body.get("CpusetCpus"):
        cpu["cpus"] = new["CpusetCpus"]
    if body.get("CpusetMems"):
        cpu["mems"] = new["CpusetMems"]
    if cpu:
        res["cpu"] = cpu
    if body.get("PidsLimit") is not None:
        res["pids"] = {"limit": new["PidsLimit"] or -1}
    if body.get("BlkioWeight"):
        res["blockIO"] = {"weight": new["BlkioWeight"]}
    return res
