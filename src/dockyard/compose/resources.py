"""The project's networks and volumes: created with compose's labels, found again by them."""

from __future__ import annotations

from dockyard.compose.errors import ComposeError
from dockyard.compose.naming import PROJECT, network_labels, volume_labels
from dockyard.errors import NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.client.api import Client
    from dockyard.compose.model import Project
    from dockyard.compose.progress import Progress

__all__ = ["ensure_networks", "ensure_volumes", "remove_networks", "remove_volumes"]


def _ipam(ipam: dict | None) -> dict | None:
    if not ipam:
        return None
    configs = [{"Subnet": c.get("subnet", ""), "Gateway": c.get("gateway", ""), "IPRange": c.get("ip_range", "")}
               for c in ipam.get("config") or []]
    return {"Driver": ipam.get("driver", "default"), "Config": [{k: v for k, v in c.items() if v} for c in configs]}


def ensure_networks(client: Client, project: Project, keys: set[str], progress: Progress) -> None:
    from dockyard.client.api import quote

    for key in [k for k in project.networks if k in keys]:
        net = project.networks[key]
        name = net["name"]
        try:
            client.get_json(f"/networks/{quote(name)}")
            continue
        except NotFound:
            if net.get("external"):
                raise ComposeError(f"network {name} declared as external, but could not be found") from None
        progress.event("Network", name, "Creating")
        body = {"Name": name, "Driver": net.get("driver") or "bridge", "Internal": bool(net.get("internal")),
                "Attachable": bool(net.get("attachable")), "Options": net.get("driver_opts") or {},
                "Labels": {**(net.get("labels") or {}), **network_labels(project.name, key)},
                "IPAM": _ipam(net.get("ipam")), "CheckDuplicate": True}
        client.post_json("/networks/create", json={k: v for k, v in body.items() if v is not None})
        progress.event("Network", name, "Created")


def ensure_volumes(client: Client, project: Project, keys: set[str], progress: Progress) -> None:
    from dockyard.client.api import quote

    for key in [k for k in project.volumes if k in keys]:
        vol = project.volumes[key]
        name = vol["name"]
        try:
            client.get_json(f"/volumes/{quote(name)}")
            continue
        except NotFound:
            if vol.get("external"):
                raise ComposeError(f"external volume \"{name}\" not found") from None
        progress.event("Volume", name, "Creating")
        client.post_json("/volumes/create", json={
            "Name": name, "Driver": vol.get("driver") or "local", "DriverOpts": vol.get("driver_opts") or {},
            "Labels": {**(vol.get("labels") or {}), **volume_labels(project.name, key)}})
        progress.event("Volume", name, "Created")


def remove_networks(client: Client, project_name: str, progress: Progress) -> None:
    from dockyard.client.api import encode_filters, quote

    nets = client.get_json("/networks", {"filters": encode_filters({"label": [f"{PROJECT}={project_name}"]})})
    for net in nets or []:
        progress.event("Network", net["Name"], "Removing")
        try:
            client.delete(f"/networks/{quote(net['Id'])}")
        except NotFound:
            pass
        progress.event("Network", net["Name"], "Removed")


def remove_volumes(client: Client, project_name: str, progress: Progress) -> None:
    from dockyard.client.api import encode_filters, quote

    vols = client.get_json("/volumes", {"filters": encode_filters({"label": [f"{PROJECT}={project_name}"]})})
    for vol in (vols or {}).get("Volumes") or []:
        progress.event("Volume", vol["Name"], "Removing")
        try:
            client.delete(f"/volumes/{quote(vol['Name'])}")
        except NotFound:
            pass
        progress.event("Volume", vol["Name"], "Removed")
