"""`stats` / `container stats`: docker's live usage table (or one sample with `--no-stream`).

Like docker's cli/command/container/stats.go: one `GET /containers/{id}/stats`
stream per container (each in its own thread), the figures computed from each
frame as docker computes them (CPU % from the delta against `precpu_stats`,
memory without the inactive file cache, block I/O summed by direction), and
the table redrawn every half second in place (cursor home, erase to the end of
each line, erase below). Without container names it shows the running
containers (all with `-a`) and follows `/events` to add and drop them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from dockyard.cli.command import Cli, Command, StatusError, daemon_error
from dockyard.cli.format import Row, format_rows

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["STATS", "StatsEntry", "StatsRow", "entry_from_frame", "DEFAULT_TABLE"]

DEFAULT_TABLE = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
_TICK = 0.5     # seconds between redraws
_STALE = 2.0    # no figures for this long: the row shows "--"


@dataclass
class StatsEntry:
    container: str
    name: str = ""
    id: str = ""
    cpu_percentage: float = 0.0
    memory: float = 0.0
    memory_limit: float = 0.0
    memory_percentage: float = 0.0
    network_rx: float = 0.0
    network_tx: float = 0.0
    block_read: float = 0.0
    block_write: float = 0.0
    pids_current: int = 0
    invalid: bool = False


def _cpu_percent(frame: dict[str, Any]) -> float:
    cpu = frame.get("cpu_stats") or {}
    pre = frame.get("precpu_stats") or {}
    cpu_delta = float((cpu.get("cpu_usage") or {}).get("total_usage") or 0) - float(
        (pre.get("cpu_usage") or {}).get("total_usage") or 0)
    system_delta = float(cpu.get("system_cpu_usage") or 0) - float(pre.get("system_cpu_usage") or 0)
    online = float(cpu.get("online_cpus") or 0) or float(len((cpu.get("cpu_usage") or {}).get("percpu_usage") or []))
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * online * 100.0
    return 0.0


def _memory_no_cache(mem: dict[str, Any]) -> float:
    usage = int(mem.get("usage") or 0)
    stats = mem.get("stats") or {}
    if "total_inactive_file" in stats and stats["total_inactive_file"] < usage:  # cgroup v1
        return float(usage - stats["total_inactive_file"])
    if (stats.get("inactive_file") or 0) < usage:  # cgroup v2
        return float(usage - (stats.get("inactive_file") or 0))
    return float(usage)


def entry_from_frame(container: str, frame: dict[str, Any]) -> StatsEntry:
    """One StatsEntry from one stats JSON frame, with docker's arithmetic."""
    mem_stats = frame.get("memory_stats") or {}
    mem = _memory_no_cache(mem_stats)
    limit = float(mem_stats.get("limit") or 0)
    read = write = 0
    for entry in (frame.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = (entry.get("op") or "")[:1]
        if op in ("r", "R"):
            read += int(entry.get("value") or 0)
        elif op in ("w", "W"):
            write += int(entry.get("value") or 0)
    rx = sum(int(n.get("rx_bytes") or 0) for n in (frame.get("networks") or {}).values())
    tx = sum(int(n.get("tx_bytes") or 0) for n in (frame.get("networks") or {}).values())
    return StatsEntry(
        container=container, name=frame.get("name") or "", id=frame.get("id") or "",
        cpu_percentage=_cpu_percent(frame), memory=mem, memory_limit=limit,
        memory_percentage=mem / limit * 100.0 if limit else 0.0, network_rx=float(rx), network_tx=float(tx),
        block_read=float(read), block_write=float(write),
        pids_current=int((frame.get("pids_stats") or {}).get("current") or 0))


class StatsRow(Row):
    """docker's statsContext placeholders."""

    HEADERS = {"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
               "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
               "PIDs": "PIDS"}
    go_type = "*formatter.statsContext"

    def __init__(self, s: StatsEntry, trunc: bool = True) -> None:
        self.s = s
        self.trunc = trunc

    def Container(self) -> str:  # noqa: N802 - Go's placeholder names
        return self.s.container

    def Name(self) -> str:  # noqa: N802
        return self.s.name[1:] if len(self.s.name) > 1 else "--"

    def ID(self) -> str:  # noqa: N802
        return self.s.id[:12] if self.trunc else self.s.id

    def CPUPerc(self) -> str:  # noqa: N802
        return "--" if self.s.invalid else f"{self.s.cpu_percentage:.2f}%"

    def MemUsage(self) -> str:  # noqa: N802
        from dockyard.units import bytes_size

        if self.s.invalid:
            return "-- / --"
        return f"{bytes_size(self.s.memory)} / {bytes_size(self.s.memory_limit)}"

    def MemPerc(self) -> str:  # noqa: N802
        return "--" if self.s.invalid else f"{self.s.memory_percentage:.2f}%"

    def NetIO(self) -> str:  # noqa: N802
        from dockyard.units import human_size

        return "--" if self.s.invalid else f"{human_size(self.s.network_rx)} / {human_size(self.s.network_tx)}"

    def BlockIO(self) -> str:  # noqa: N802
        from dockyard.units import human_size

        return "--" if self.s.invalid else f"{human_size(self.s.block_read)} / {human_size(self.s.block_write)}"

    def PIDs(self) -> str:  # noqa: N802
        return "--" if self.s.invalid else str(self.s.pids_current)


class _Collector:
    """The entries being shown (in the order added), each fed by its own thread."""

    def __init__(self, cli: Cli, stream: bool) -> None:
        self.cli = cli
        self.stream = stream
        self.lock = threading.Lock()
        self.entries: dict[str, StatsEntry] = {}
        self.errors: dict[str, str] = {}
        self.first: dict[str, threading.Event] = {}
        self.updated: dict[str, float] = {}
        self._gen: dict[str, int] = {}
        self._next_gen = 0

    def add(self, container: str) -> None:
        with self.lock:
            if container in self.entries:
                return
            self._next_gen += 1
            gen = self._gen[container] = self._next_gen
            self.entries[container] = StatsEntry(container)
            self.first[container] = threading.Event()
            self.updated[container] = time.monotonic()
        threading.Thread(target=self._collect, args=(container, gen), daemon=True).start()

    def remove(self, container: str) -> None:
        with self.lock:
            self.entries.pop(container, None)
            self._gen.pop(container, None)

    def _set(self, container: str, gen: int, entry: StatsEntry | None = None, error: str = "") -> None:
        with self.lock:
            if self._gen.get(container) != gen:
                return  # removed (or removed and added again) meanwhile
            if entry is not None:
                self.entries[container] = entry
                self.errors.pop(container, None)
                self.updated[container] = time.monotonic()
            else:
                self.entries[container].invalid = True
                if error:
                    self.errors[container] = error
            self.first[container].set()

    def _collect(self, container: str, gen: int) -> None:
        from dockyard.client.api import quote
        from dockyard.errors import DockyardError

        try:
            frames = self.cli.client.stream_json("GET", f"/containers/{quote(container)}/stats",
                                                 {"stream": "1" if self.stream else "0"})
            for frame in frames:
                if self._gen.get(container) != gen:
                    return
                self._set(container, gen, entry_from_frame(container, frame))
                if not self.stream:
                    return
        except (DockyardError, OSError) as e:
            self._set(container, gen, error=daemon_error(e))
            return
        self._set(container, gen)  # the stream ended: the container went away

    def wait_first(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for event in list(self.first.values()):
            event.wait(max(0.0, deadline - time.monotonic()))

    def snapshot(self) -> list[StatsEntry]:
        """Copies to render; an entry with no new figures for 2 s shows as invalid, as docker does."""
        now = time.monotonic()
        with self.lock:
            out = []
            for key, e in self.entries.items():
                copy = StatsEntry(**vars(e))
                if self.stream and now - self.updated.get(key, now) > _STALE:
                    copy = StatsEntry(e.container, name=e.name, id=e.id, invalid=True)
                out.append(copy)
            return out


def _follow_events(cli: Cli, collector: _Collector, show_all: bool) -> None:
    from dockyard.client.api import encode_filters

    try:
        for msg in cli.client.stream_json("GET", "/events", {"filters": encode_filters({"type": ["container"]})}):
            action, cid = msg.get("Action", ""), (msg.get("Actor") or {}).get("ID", "")[:12]
            if action == "start" or (action == "create" and show_all):
                collector.add(cid)
            elif action == "die" and not show_all:
                collector.remove(cid)
    except Exception:  # noqa: BLE001 - the table goes on without live additions
        return


def _stats(cli: Cli, o: Parsed) -> int:
    show_all, no_stream, trunc = o.bool("all"), o.bool("no-stream"), not o.bool("no-trunc")
    fmt = o.str("format")
    _ = cli.client.api_version  # negotiate once, before the threads share the client
    collector = _Collector(cli, stream=not no_stream)
    named = list(dict.fromkeys(o.args))
    if named:
        for name in named:
            collector.add(name)
    else:
        # subscribe first, then list: a container started in between is not missed
        threading.Thread(target=_follow_events, args=(cli, collector, show_all), daemon=True).start()
        for c in cli.client.containers(all=show_all) or []:
            collector.add(c["Id"][:12])
    collector.wait_first(5.0)
    if named and collector.errors:
        raise StatusError("\n".join(collector.errors[n] for n in named if n in collector.errors), 1)

    def render() -> str:
        rows = [StatsRow(e, trunc) for e in collector.snapshot()]
        return format_rows(fmt, rows, StatsRow.HEADERS, DEFAULT_TABLE)

    if no_stream:
        cli.out.write(render())
        return 0
    while True:  # until interrupted, as docker
        lines = render().split("\n")
        cli.out.write("\033[H" + "".join(f"{line} \033[K\n" for line in lines) + "\033[J")
        cli.out.flush()
        time.sleep(_TICK)


STATS = Command(
    "[OPTIONS] [CONTAINER...]", "Display a live stream of container(s) resource usage statistics", _stats,
    flags=(
        ("a", "all", "bool", "Show all containers (default shows just running)"),
        ("", "format", "string", "Format output using a custom template:\n"
                                 "'table':            Print output in table format with column headers (default)\n"
                                 "'table TEMPLATE':   Print output in table format using the given Go template\n"
                                 "'json':             Print in JSON format\n"
                                 "'TEMPLATE':         Print output using the given Go template.\n"
                                 "Refer to https://docs.docker.com/go/formatting/ for more information about "
                                 "formatting output with templates"),
        ("", "no-stream", "bool", "Disable streaming stats and only pull the first result"),
        ("", "no-trunc", "bool", "Do not truncate output"),
    ),
    aliases=("container stats", "stats"),
)
