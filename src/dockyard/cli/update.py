"""`update` / `container update`: `POST /containers/{id}/update` with the flags that were given."""

from __future__ import annotations

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["UPDATE", "update_body"]

FLAGS = (
    ("", "blkio-weight", "uint16", "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)"),
    ("", "cpu-period", "int", "Limit CPU CFS (Completely Fair Scheduler) period"),
    ("", "cpu-quota", "int", "Limit CPU CFS (Completely Fair Scheduler) quota"),
    ("", "cpu-rt-period", "int", "Limit the CPU real-time period in microseconds"),
    ("", "cpu-rt-runtime", "int", "Limit the CPU real-time runtime in microseconds"),
    ("c", "cpu-shares", "int", "CPU shares (relative weight)"),
    ("", "cpus", "decimal", "Number of CPUs"),
    ("", "cpuset-cpus", "string", "CPUs in which to allow execution (0-3, 0,1)"),
    ("", "cpuset-mems", "string", "MEMs in which to allow execution (0-3, 0,1)"),
    ("", "kernel-memory", "bytes", "Kernel memory limit (deprecated)", True),
    ("m", "memory", "bytes", "Memory limit"),
    ("", "memory-reservation", "bytes", "Memory soft limit"),
    ("", "memory-swap", "bytes", "Swap limit equal to memory plus swap: -1 to enable unlimited swap"),
    ("", "pids-limit", "int", "Tune container pids limit (set -1 for unlimited)"),
    ("", "restart", "string", "Restart policy to apply when a container exits"),
)

_INT_FLAGS = {"blkio-weight": "BlkioWeight", "cpu-period": "CpuPeriod", "cpu-quota": "CpuQuota",
              "cpu-rt-period": "CpuRealtimePeriod", "cpu-rt-runtime": "CpuRealtimeRuntime",
              "cpu-shares": "CpuShares", "memory": "Memory", "memory-reservation": "MemoryReservation",
              "memory-swap": "MemorySwap", "kernel-memory": "KernelMemory"}


def update_body(o: Parsed) -> dict[str, Any]:
    """docker's UpdateConfig: every Resources field (zero = leave alone), PidsLimit only when set."""
    if not o.set_flags - {"help"}:
        raise StatusError("you must provide one or more flags when using this command", 1)
    body: dict[str, Any] = {key: int(o.get(flag) or 0) for flag, key in _INT_FLAGS.items()}
    body["CpusetCpus"] = o.str("cpuset-cpus")
    body["CpusetMems"] = o.str("cpuset-mems")
    cpus = o.str("cpus")
    body["NanoCpus"] = 0
    if cpus:
        try:
            body["NanoCpus"] = int(round(float(cpus) * 1e9))
        except ValueError:
            raise StatusError(f'invalid argument "{cpus}" for "--cpus" flag: failed to parse {cpus} as a '
                              "rational number", 125) from None
    if o.changed("pids-limit"):
        body["PidsLimit"] = int(o.get("pids-limit") or 0)
    policy: dict[str, Any] = {"Name": "", "MaximumRetryCount": 0}
    if o.changed("restart"):
        from dockyard.cli.runconfig import parse_restart

        try:
            policy = parse_restart(o.str("restart"))
        except ValueError as e:
            raise StatusError(str(e), 1) from None
    body["RestartPolicy"] = policy
    return body


def _update(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.lifecycle import for_each
    from dockyard.client.api import quote

    body = update_body(o)

    def show(name: str, result: Any) -> str:
        for warning in (result or {}).get("Warnings") or []:
            cli.eprint(warning)
        return name

    return for_each(cli, o.args, lambda n: cli.client.post_json(f"/containers/{quote(n)}/update", json=body),
                    show)


UPDATE = Command("[OPTIONS] CONTAINER [CONTAINER...]", "Update configuration of one or more containers",
                 _update, flags=FLAGS, aliases=("container update", "update"), args=("min", 1))
