"""`ps` / `container ls`: one `GET /containers/json`, shown as docker's table."""

from __future__ import annotations

import time

from dockyard.cli.command import Cli, Command
from dockyard.cli.format import Row, format_rows
from dockyard.cli.formatting import display_ports, ellipsis, go_time, human_duration, human_size, truncate_id

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["PS", "ContainerRow", "parse_filters", "FORMAT_HELP"]

FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'table':            Print output in table format with column headers (default)\n"
    "'table TEMPLATE':   Print output in table format using the given Go template\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
)

FLAGS = (
    ("a", "all", "bool", "Show all containers (default shows just running)"),
    ("f", "filter", "filter", "Filter output based on conditions provided"),
    ("", "format", "string", FORMAT_HELP),
    ("n", "last", "int", "Show n last created containers (includes all states) (default -1)"),
    ("l", "latest", "bool", "Show the latest created container (includes all states)"),
    ("", "no-trunc", "bool", "Don't truncate output"),
    ("q", "quiet", "bool", "Only display container IDs"),
    ("s", "size", "bool", "Display total file sizes"),
)

DEFAULT_TABLE = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"


def parse_filters(values: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in values:
        key, eq, val = v.partition("=")
        if not eq:
            raise ValueError("bad format of filter (expected name=value)")
        out.setdefault(key.strip().lower(), []).append(val)
    return out


class ContainerRow(Row):
    """The placeholders of docker's ContainerContext."""

    HEADERS = {
        "ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
        "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE",
        "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS",
        "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS", "Platform": "PLATFORM",
    }
    go_type = "*formatter.ContainerContext"

    def __init__(self, c: dict[str, Any], trunc: bool = True, now: float | None = None) -> None:
        self.c = c
        self.trunc = trunc
        self.now = time.time() if now is None else now

    def ID(self) -> str:  # noqa: N802 - the template's names are Go's
        cid = self.c.get("Id", "")
        return truncate_id(cid) if self.trunc else cid

    def Names(self) -> str:  # noqa: N802
        names = []
        for n in self.c.get("Names") or []:
            n = n[1:] if n.startswith("/") else n
            if self.trunc and "/" in n:
                continue  # a link's name: docker hides these unless --no-trunc
            names.append(n)
        return ",".join(names)

    def Image(self) -> str:  # noqa: N802
        image = self.c.get("Image") or "<no image>"
        if self.trunc:
            if image.startswith("sha256:") or (len(image) == 64 and all(ch in "0123456789abcdef" for ch in image)):
                return truncate_id(image)
            name, at, _digest = image.partition("@")
            if at:
                return name
        return image

    def Command(self) -> str:  # noqa: N802
        from dockyard.cli.gotemplate import go_quote

        cmd = self.c.get("Command") or ""
        if self.trunc:
            cmd = ellipsis(cmd, 20)
        return go_quote(cmd)

    def CreatedAt(self) -> str:  # noqa: N802
        return go_time(int(self.c.get("Created") or 0))

    def RunningFor(self) -> str:  # noqa: N802
        return human_duration(self.now - int(self.c.get("Created") or 0)) + " ago"

    def Ports(self) -> str:  # noqa: N802
        return display_ports(self.c.get("Ports"))

    def State(self) -> str:  # noqa: N802
        return self.c.get("State") or ""

    def Status(self) -> str:  # noqa: N802
        return self.c.get("Status") or ""

    def Size(self) -> str:  # noqa: N802
        rw = int(self.c.get("SizeRw") or 0)
        root = int(self.c.get("SizeRootFs") or 0)
        text = human_size(rw)
        if root > 0:
            text += f" (virtual {human_size(root)})"
        return text

    def Labels(self) -> str:  # noqa: N802
        labels = self.c.get("Labels") or {}
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    def Label(self, name: str) -> str:  # noqa: N802
        return (self.c.get("Labels") or {}).get(name, "")

    def Mounts(self) -> str:  # noqa: N802
        names = []
        for m in self.c.get("Mounts") or []:
            name = m.get("Name") or m.get("Source") or ""
            if self.trunc:
                name = ellipsis(name, 15)
            names.append(name)
        return ",".join(names)

    def LocalVolumes(self) -> str:  # noqa: N802
        return str(sum(1 for m in self.c.get("Mounts") or [] if m.get("Driver") == "local"))

    def Networks(self) -> str:  # noqa: N802
        nets = ((self.c.get("NetworkSettings") or {}).get("Networks") or {})
        return ",".join(sorted(nets))

    def Platform(self) -> str:  # noqa: N802
        p = self.c.get("ImageManifestDescriptor", {}).get("platform") if self.c.get("ImageManifestDescriptor") else None
        if not p:
            return ""
        return "/".join(x for x in (p.get("os"), p.get("architecture"), p.get("variant")) if x)


def _ps(cli: Cli, o: Parsed) -> int:
    filters = parse_filters(o.list("filter"))
    last = int(o.get("last", -1) if o.get("last") is not None else -1)
    if o.bool("latest") and last == -1:
        last = 1
    params: dict[str, Any] = {
        "all": o.bool("all"),
        "limit": last if last > 0 else None,  # the daemon lists all states when a limit is given
        "size": o.bool("size"),
    }
    from dockyard.client.api import encode_filters

    params["filters"] = encode_filters(filters)
    containers = cli.client.get_json("/containers/json", params) or []
    trunc = not o.bool("no-trunc")
    if o.bool("quiet"):
        fmt = "{{.ID}}"
    else:
        fmt = o.str("format")
        if o.bool("size") and fmt in ("", "table"):
            fmt = DEFAULT_TABLE + "\t{{.Size}}"
    now = time.time()
    rows = [ContainerRow(c, trunc, now) for c in containers]
    cli.out.write(format_rows(fmt, rows, ContainerRow.HEADERS, DEFAULT_TABLE))
    return 0


PS = Command(
    "[OPTIONS]",
    "List containers",
    _ps,
    flags=FLAGS,
    aliases=("container ls", "container list", "container ps", "ps"),
    args=("none",),
)
