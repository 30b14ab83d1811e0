"""Container cgroups on v1, hybrid and v2 hosts.

The runtime's whole interface::

    from dockyard.runtime.cgroups import open_cgroup, detect_mode
    detect_mode()                      # "v1" | "v2" | "hybrid"
    cg = open_cgroup("/dockyard/<id>")  # OCI linux.cgroupsPath, from each hierarchy's root
    cg.create(resources)               # OCI linux.resources dict (or None)
    cg.add_process(pid); cg.pids(); cg.kill_all(sig); cg.freeze(); cg.thaw(); cg.is_frozen()
    cg.oom_kill_count(); cg.stats(); cg.update(resources); cg.delete()

Modules: ``v1``/``v2`` are the managers (``base.Cgroup`` is their contract);
``memory``, ``cpu``, ``cpuset``, ``pids``, ``io``, ``freezer``, ``hugetlb``,
``devices`` (v1 files) and ``devices_bpf`` (v2 eBPF program) hold one
controller's mapping each; ``fs`` is the file access, ``mounts`` finds the
hierarchies, ``resources`` reads the OCI dict.

Performance note: the first ``add_process`` after a quiet spell costs an RCU
grace period in the kernel (cgroup_threadgroup_rwsem; ~5-15 ms measured
here), unless some cgroup hierarchy is mounted with ``favordynmods``. Later
writes in the same burst cost ~30 µs. ``create`` with Docker's usual limits
takes ~0.6 ms on this v1 host.

``stats()`` returns the cgroup half of Docker's ``GET /containers/{id}/stats``
JSON, with Docker's key names, so ``api/wire.py`` can pass it through (the
engine adds ``read``, ``system_cpu_usage``, ``online_cpus``, ``networks``)::

    {
      "cpu_stats":    {"cpu_usage": {"total_usage": ns, "usage_in_kernelmode": ns,
                                     "usage_in_usermode": ns, "percpu_usage": [ns, ...]  # v1 only
                                    },
                       "throttling_data": {"periods", "throttled_periods", "throttled_time": ns}},
      "memory_stats": {"usage": bytes, "limit": bytes, "stats": {memory.stat key: int},
                       "max_usage": bytes, "failcnt": int},          # the last two v1 only
      "pids_stats":   {"current": n, "limit": n},                    # limit absent when unlimited
      "blkio_stats":  {"io_service_bytes_recursive": [{"major", "minor", "op", "value"}],
                       "io_serviced_recursive": [...]},
    }

A section is ``{}`` when its controller is absent. ``memory_stats.limit`` is
the host's memory when the cgroup's limit is larger or unlimited (as Docker).
"""

from __future__ import annotations

from .base import Cgroup
from .mounts import Mode, detect_mode, hierarchies
from .v1 import CgroupV1
from .v2 import CgroupV2

__all__ = ["Cgroup", "CgroupV1", "CgroupV2", "Mode", "detect_mode", "open_cgroup"]


def open_cgroup(cgroups_path: str) -> Cgroup:
    """The manager for ``cgroups_path`` on this host (nothing is touched until ``create``)."""
    if hierarchies().mode == "v2":
        return CgroupV2(cgroups_path)
    return CgroupV1(cgroups_path)
