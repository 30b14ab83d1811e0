"""`volume ls` output as docker prints it: its row context (formatter/volume.go). Pure."""

from __future__ import annotations

from dockyard.cli.format import Row

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["VolumeRow", "DEFAULT_TABLE", "list_format"]

DEFAULT_TABLE = "table {{.Driver}}\t{{.Name}}"
CLUSTER_TABLE = "table {{.Name}}\t{{.Group}}\t{{.Driver}}\t{{.Availability}}\t{{.Status}}"


def list_format(fmt: str, quiet: bool, cluster: bool = False) -> str:
    """docker's runList + NewVolumeFormat: what -q, --cluster and "table"/"raw" turn into."""
    if cluster and not fmt:
        fmt = "table" if quiet else CLUSTER_TABLE
    if fmt in ("", "table"):
        return "{{.Name}}" if quiet else DEFAULT_TABLE
    if fmt == "raw":
        return "name: {{.Name}}" if quiet else "name: {{.Name}}\\ndriver: {{.Driver}}\\n"
    return fmt


class VolumeRow(Row):
    """The placeholders of docker's volumeContext."""

    HEADERS = {
        "ID": "ID", "Name": "VOLUME NAME", "Group": "GROUP", "Driver": "DRIVER", "Scope": "SCOPE",
        "Availability": "AVAILABILITY", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS", "Links": "LINKS",
        "Size": "SIZE", "Status": "STATUS",
    }
    go_type = "*formatter.volumeContext"

    def __init__(self, v: dict[str, Any]) -> None:
        self.v = v

    def Name(self) -> str:  # noqa: N802 - Go's names
        return self.v.get("Name") or ""

    def Driver(self) -> str:  # noqa: N802
        return self.v.get("Driver") or ""

    def Scope(self) -> str:  # noqa: N802
        return self.v.get("Scope") or ""

    def Mountpoint(self) -> str:  # noqa: N802
        return self.v.get("Mountpoint") or ""

    def Labels(self) -> str:  # noqa: N802
        return ",".join(f"{k}={v}" for k, v in (self.v.get("Labels") or {}).items())

    def Label(self, name: str) -> str:  # noqa: N802
        return (self.v.get("Labels") or {}).get(name, "")

    def Links(self) -> str:  # noqa: N802
        usage = self.v.get("UsageData")
        return "N/A" if usage is None else str(usage.get("RefCount", 0))

    def Size(self) -> str:  # noqa: N802
        from dockyard.units import human_size

        usage = self.v.get("UsageData")
        return "N/A" if usage is None else human_size(float(usage.get("Size", 0)))

    def _cluster(self) -> dict[str, Any] | None:
        return self.v.get("ClusterVolume")

    def Group(self) -> str:  # noqa: N802
        cv = self._cluster()
        return "N/A" if cv is None else ((cv.get("Spec") or {}).get("Group") or "")

    def Availability(self) -> str:  # noqa: N802
        cv = self._cluster()
        return "N/A" if cv is None else ((cv.get("Spec") or {}).get("Availability") or "")

    def Status(self) -> str:  # noqa: N802
        cv = self._cluster()
        if cv is None:
            return "N/A"
        if not (cv.get("Info") or {}).get("VolumeID"):
            return "pending creation"
        nodes = len(cv.get("PublishStatus") or [])
        return "created" if nodes == 0 else "in use (1 node)" if nodes == 1 else f"in use ({nodes} nodes)"
