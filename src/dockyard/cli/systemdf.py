"""`system df [-v] [--format]`: disk usage, laid out as docker 28.2's DiskUsageContext.

The summary table has one row per kind (Images, Containers, Local Volumes, Build Cache):
TOTAL, ACTIVE, SIZE and RECLAIMABLE ("1.984MB (49%)"), computed from `GET /system/df` as
the docker CLI computes them. `-v` lists images, containers, volumes and build cache each
in its own table.
"""

from __future__ import annotations

import time

from dockyard.cli.command import Cli, Command
from dockyard.cli.format import Row, format_rows
from dockyard.cli.formatting import human_duration, human_size, truncate_id
from dockyard.cli.netformat import go_time_text
from dockyard.cli.ps import FORMAT_HELP
from dockyard.oci.image_spec import parse_rfc3339

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["SYSTEM_DF"]

SUMMARY_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
SUMMARY_RAW = "type: {{.Type}}\ntotal: {{.TotalCount}}\nactive: {{.Active}}\nsize: {{.Size}}\nreclaimable: {{.Reclaimable}}\n"
IMAGE_TABLE = ("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}"
               "\t{{.UniqueSize}}\t{{.Containers}}")
CONTAINER_TABLE = ("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}"
                   "\t{{.Status}}\t{{.Names}}")
VOLUME_TABLE = "table {{.Name}}\t{{.Links}}\t{{.Size}}"
CACHE_TABLE = ("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}"
               "\t{{.Shared}}")

_ACTIVE_STATES = ("running", "paused", "restarting")


def _h(n: int) -> str:
    from dockyard.units import human_size

    return human_size(n, 4)


def _with_percent(reclaimable: int, total: int) -> str:
    return f"{_h(reclaimable)} ({reclaimable * 100 // total}%)" if total > 0 else _h(reclaimable)


class UsageRow(Row):
    """One kind's summary line (docker's diskUsage*Context)."""

    HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
               "Reclaimable": "RECLAIMABLE"}
    go_type = "*formatter.diskUsageContainersContext"

    def __init__(self, kind: str, total: int, active: int, size: str, reclaimable: str) -> None:
        self.kind, self.total, self.active, self.size, self.reclaimable = kind, total, active, size, reclaimable

    def Type(self) -> str:  # noqa: N802 - Go's names
        return self.kind

    def TotalCount(self) -> str:  # noqa: N802
        return str(self.total)

    def Active(self) -> str:  # noqa: N802
        return str(self.active)

    def Size(self) -> str:  # noqa: N802
        return self.size

    def Reclaimable(self) -> str:  # noqa: N802
        return self.reclaimable


def summary_rows(du: dict[str, Any]) -> list[UsageRow]:
    images = du.get("Images") or []
    layers = int(du.get("LayersSize") or 0)
    used = sum(int(i.get("Size") or 0) - int(i.get("SharedSize") or 0) for i in images
               if i.get("Containers") and int(i.get("Size", -1)) != -1 and int(i.get("SharedSize", -1)) != -1)
    rows = [UsageRow("Images", len(images), sum(1 for i in images if (i.get("Containers") or 0) > 0),
                     _h(layers), _with_percent(layers - used, layers))]
    containers = du.get("Containers") or []
    total = sum(int(c.get("SizeRw") or 0) for c in containers)
    idle = sum(int(c.get("SizeRw") or 0) for c in containers if c.get("State") not in _ACTIVE_STATES)
    rows.append(UsageRow("Containers", len(containers),
                         sum(1 for c in containers if c.get("State") in _ACTIVE_STATES), _h(total),
                         _with_percent(idle, total)))
    volumes = du.get("Volumes") or []
    sizes = [(v.get("UsageData") or {}) for v in volumes]
    vtotal = sum(int(u.get("Size", -1)) for u in sizes if int(u.get("Size", -1)) != -1)
    vfree = sum(int(u.get("Size", -1)) for u in sizes if int(u.get("Size", -1)) != -1 and not u.get("RefCount"))
    rows.append(UsageRow("Local Volumes", len(volumes), sum(1 for u in sizes if (u.get("RefCount") or 0) > 0),
                         _h(vtotal), _with_percent(vfree, vtotal)))
    cache = du.get("BuildCache") or []
    builder = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    in_use = sum(int(b.get("Size") or 0) for b in cache if b.get("InUse") and not b.get("Shared"))
    rows.append(UsageRow("Build Cache", len(cache), sum(1 for b in cache if b.get("InUse")), _h(builder),
                         _h(builder - in_use)))
    return rows


class VolumeRow(Row):
    HEADERS = {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE", "Driver": "DRIVER"}
    go_type = "*formatter.volumeContext"

    def __init__(self, v: dict[str, Any]) -> None:
        self.v = v

    def Name(self) -> str:  # noqa: N802
        return self.v.get("Name") or ""

    def Driver(self) -> str:  # noqa: N802
        return self.v.get("Driver") or ""

    def Links(self) -> str:  # noqa: N802
        n = (self.v.get("UsageData") or {}).get("RefCount", -1)
        return "N/A" if n is None or n < 0 else str(n)

    def Size(self) -> str:  # noqa: N802
        n = (self.v.get("UsageData") or {}).get("Size", -1)
        return "N/A" if n is None or n < 0 else _h(n)


class CacheRow(Row):
    """One build-cache record (docker's buildCacheContext): the ID cut to 12 characters in
    tables and starred while in use, sizes with 3 significant digits."""

    HEADERS = {"ID": "CACHE ID", "Parent": "PARENT", "CacheType": "CACHE TYPE", "Size": "SIZE",
               "CreatedSince": "CREATED", "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "InUse": "IN USE",
               "Shared": "SHARED", "Description": "DESCRIPTION"}
    go_type = "*formatter.buildCacheContext"

    def __init__(self, b: dict[str, Any], trunc: bool = True, now: float | None = None) -> None:
        self.b, self.trunc = b, trunc
        self.now = time.time() if now is None else now

    def ID(self) -> str:  # noqa: N802
        ident = str(self.b.get("ID") or "")
        ident = truncate_id(ident) if self.trunc else ident
        return ident + "*" if self.b.get("InUse") else ident

    def Parent(self) -> str:  # noqa: N802
        parents = self.b.get("Parents") or []
        parent = ", ".join(parents) if parents else str(self.b.get("Parent") or "")
        return truncate_id(parent) if self.trunc else parent

    def CacheType(self) -> str:  # noqa: N802
        return str(self.b.get("Type") or "")

    def Description(self) -> str:  # noqa: N802
        return str(self.b.get("Description") or "")

    def Size(self) -> str:  # noqa: N802
        return human_size(int(self.b.get("Size") or 0), 3)

    def CreatedAt(self) -> str:  # noqa: N802
        return go_time_text(str(self.b.get("CreatedAt") or ""))

    def CreatedSince(self) -> str:  # noqa: N802
        return human_duration(self.now - parse_rfc3339(str(self.b.get("CreatedAt") or ""))) + " ago"

    def LastUsedAt(self) -> str:  # noqa: N802
        used = self.b.get("LastUsedAt")
        return go_time_text(str(used)) if used else ""

    def LastUsedSince(self) -> str:  # noqa: N802
        used = self.b.get("LastUsedAt")
        return human_duration(self.now - parse_rfc3339(str(used))) + " ago" if used else ""

    def UsageCount(self) -> str:  # noqa: N802
        return str(int(self.b.get("UsageCount") or 0))

    def InUse(self) -> str:  # noqa: N802
        return "true" if self.b.get("InUse") else "false"

    def Shared(self) -> str:  # noqa: N802
        return "true" if self.b.get("Shared") else "false"


def sort_build_cache(cache: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """docker's buildCacheSort: never-used records first, then by last use; ties by ID."""
    def key(b: dict[str, Any]) -> tuple[bool, float, str]:
        used = b.get("LastUsedAt")
        return (bool(used), parse_rfc3339(str(used)) if used else 0.0, str(b.get("ID") or ""))
    return sorted(cache, key=key)


def _image_rows(images: list[dict[str, Any]], trunc: bool) -> list[Row]:
    from dockyard.cli.images import ImageRow
    from dockyard.cli.refs import familiar_name, split_reference

    now = time.time()
    rows: list[Row] = []
    for i in images:
        repo = tag = "<none>"
        tags = [t for t in i.get("RepoTags") or [] if t != "<none>:<none>"]
        if tags:   # only the first tag, as docker's verbose df
            name, t, _ = split_reference(tags[0])
            if t:
                repo, tag = familiar_name(name), t
        rows.append(ImageRow(i, repo, tag, "<none>", trunc, now))
    return rows


def _verbose(cli: Cli, du: dict[str, Any], fmt: str) -> None:
    from dockyard.cli.images import ImageRow
    from dockyard.cli.ps import ContainerRow

    trunc = fmt in ("", "table") or fmt.startswith("table")
    containers = []
    for c in du.get("Containers") or []:
        c = dict(c)
        c["SizeRootFs"] = 0   # docker does not show the virtual size here
        containers.append(c)
    if fmt not in ("", "table"):
        sections = [(_image_rows(du.get("Images") or [], trunc), ImageRow.HEADERS),
                    ([ContainerRow(c, trunc) for c in containers], ContainerRow.HEADERS),
                    ([VolumeRow(v) for v in du.get("Volumes") or []], VolumeRow.HEADERS),
                    ([CacheRow(b, trunc) for b in sort_build_cache(du.get("BuildCache") or [])], CacheRow.HEADERS)]
        for rows, headers in sections:
            cli.out.write(format_rows(fmt, rows, headers, fmt))
        return
    cli.out.write("Images space usage:\n\n")
    cli.out.write(format_rows(IMAGE_TABLE, _image_rows(du.get("Images") or [], True), ImageRow.HEADERS, IMAGE_TABLE))
    cli.out.write("\nContainers space usage:\n\n")
    cli.out.write(format_rows(CONTAINER_TABLE, [ContainerRow(c, True) for c in containers], ContainerRow.HEADERS,
                              CONTAINER_TABLE))
    cli.out.write("\nLocal Volumes space usage:\n\n")
    cli.out.write(format_rows(VOLUME_TABLE, [VolumeRow(v) for v in du.get("Volumes") or []], VolumeRow.HEADERS,
                              VOLUME_TABLE))
    cache = du.get("BuildCache") or []
    builder = sum(int(b.get("Size") or 0) for b in cache if not b.get("Shared"))
    cli.out.write(f"\nBuild cache usage: {_h(builder)}\n\n")
    cli.out.write(format_rows(CACHE_TABLE, [CacheRow(b) for b in sort_build_cache(cache)], CacheRow.HEADERS,
                              CACHE_TABLE))


def _df(cli: Cli, o: Parsed) -> int:
    du = cli.client.get_json("/system/df") or {}
    fmt = o.str("format")
    if o.bool("verbose"):
        _verbose(cli, du, fmt)
        return 0
    if fmt == "":
        fmt = SUMMARY_TABLE
    elif fmt == "raw":
        fmt = SUMMARY_RAW
    cli.out.write(format_rows(fmt, summary_rows(du), UsageRow.HEADERS, SUMMARY_TABLE))
    return 0


SYSTEM_DF = Command(
    "[OPTIONS]", "Show dockyard disk usage", _df,
    flags=(
        ("", "format", "string", FORMAT_HELP),
        ("v", "verbose", "bool", "Show detailed information on space usage"),
    ),
    args=("none",),
)
