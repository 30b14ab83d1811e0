"""Legacy links against the container records: checked at create, resolved at start, undone by rm.

moby keeps a parent → alias → child index in memory and rebuilds it from the
HostConfig at restart; here the resolved links are part of the parent's record
(`Container.links`), keyed by the child's id.
"""

from __future__ import annotations

from typing import Any

from dockyard import errors
from dockyard.engine import links
from dockyard.engine.container_store import Container, ContainerStore
from dockyard.network.firewall import LinkRule

__all__ = ["check_mode", "create_warnings", "forget_child", "linked_children", "register", "remove_link",
           "firewall_rules", "inspect_links"]

_NOT_USER_DEFINED = ("default", "bridge", "host", "none")


def _mode(hc: dict[str, Any]) -> str:
    return hc.get("NetworkMode") or "default"


def is_user_defined(mode: str) -> bool:
    return mode not in _NOT_USER_DEFINED and not mode.startswith("container:")


def check_mode(hc: dict[str, Any]) -> None:
    """moby's hostconfig validation: links make no sense when the network namespace is not the container's."""
    if not hc.get("Links"):
        return
    mode = _mode(hc)
    if mode == "host":
        raise errors.InvalidArgument(links.HOST_CONFLICT)
    if mode.startswith("container:"):
        raise errors.InvalidArgument(links.CONTAINER_CONFLICT)


def create_warnings(hc: dict[str, Any]) -> list[str]:
    return [links.DEPRECATION_WARNING] if hc.get("Links") and _mode(hc) in ("default", "bridge") else []


def _must_get(store: ContainerStore, ref: str) -> Container:
    try:
        return store.get(ref)
    except errors.NotFound:
        # a missing child is a bad parameter, not a 404 (which clients read as a missing image)
        raise errors.InvalidArgument(f"could not get container for {ref}: No such container: {ref}") from None


def register(c: Container, store: ContainerStore) -> None:
    """moby's registerLinks: each `name[:alias]` must name a container (the one whose network it uses)."""
    if is_user_defined(_mode(c.host_config)):
        return   # there --link is an endpoint alias (EndpointSettings.Links), resolved by the DNS
    out: list[dict[str, str]] = []
    for value in c.host_config.get("Links") or []:
        name, alias = links.parse_link(value)
        child = _must_get(store, name)
        seen = {child.id}
        while _mode(child.host_config).startswith("container:"):
            child = _must_get(store, _mode(child.host_config).partition(":")[2])
            if child.id in seen:
                break
            seen.add(child.id)
        if _mode(child.host_config) == "host":
            raise errors.InvalidArgument(links.HOST_CONFLICT)
        full = f"/{c.name}/{alias}"
        out = [r for r in out if r["Alias"] != full] + [{"Alias": full, "Child": child.id}]
    c.links = out


def linked_children(c: Container, store: ContainerStore) -> list[links.LinkedChild]:
    """At start, on the default bridge: every child must be on it and running (moby's texts)."""
    if "bridge" not in (c.network_settings.get("Networks") or {}):
        return []
    children = [(r["Alias"], store.by_id(r["Child"])) for r in c.links]
    present = [(alias, child) for alias, child in children if child is not None]
    for _alias, child in present:
        if "bridge" not in (child.network_settings.get("Networks") or {}):
            raise errors.SystemError_(f"Cannot link to /{child.name}, as it does not belong to the default network")
    out = []
    for alias, child in present:
        if not child.state.status.is_running:
            raise errors.SystemError_(f"Cannot link to a non running container: /{child.name} AS {alias}")
        ep = child.network_settings["Networks"]["bridge"]
        out.append(links.LinkedChild(
            alias=alias, name=f"/{child.name}", hostname=child.config.get("Hostname") or "",
            ip=ep.get("IPAddress") or "", env=tuple(child.config.get("Env") or ()),
            exposed_ports=tuple(child.config.get("ExposedPorts") or {})))
    return out


def firewall_rules(store: ContainerStore) -> list[LinkRule]:
    """The accept rules of every plugged parent's links to plugged children on the default bridge.
    (Plugged, not running: the rules go in while the parent starts, before it is marked running.)"""
    out: list[LinkRule] = []
    for c in store.all():
        if not c.links or not c.endpoints:
            continue
        parent_ip = ((c.network_settings.get("Networks") or {}).get("bridge") or {}).get("IPAddress")
        for r in c.links:
            child = store.by_id(r["Child"])
            if not parent_ip or child is None or not child.endpoints:
                continue
            child_ip = ((child.network_settings.get("Networks") or {}).get("bridge") or {}).get("IPAddress")
            for num, proto in links.sorted_ports(child.config.get("ExposedPorts") or {}) if child_ip else ():
                out.append(LinkRule(parent_ip, child_ip, num, proto))
    return out


def forget_child(store: ContainerStore, child_id: str) -> None:
    """A removed container is no longer anyone's link (moby's linkIndex.delete)."""
    for c in store.all():
        kept = [r for r in c.links if r.get("Child") != child_id]
        if kept != c.links:
            c.links = kept
            store.save(c)


def remove_link(store: ContainerStore, name: str) -> Container:
    """`rm --link /parent/alias`: drop that link from the parent; returns the parent."""
    full = name if name.startswith("/") else "/" + name
    parent_path, _, _alias = full.rpartition("/")
    if parent_path == "":
        raise errors.Conflict("Conflict, cannot remove the default link name of the container")
    try:
        parent = store.get(parent_path.lstrip("/"))
    except errors.NotFound:
        raise errors.NotFound(f"No such container: {name}") from None
    if not any(r["Alias"] == full for r in parent.links):
        raise errors.NotFound(f"No such container: {name}")
    parent.links = [r for r in parent.links if r["Alias"] != full]
    parent.host_config["Links"] = [v for v in parent.host_config.get("Links") or []
                                   if f"/{parent.name}/{links.parse_link(v)[1]}" != full] or None
    store.save(parent)
    return parent


def inspect_links(c: Container, store: ContainerStore) -> list[str] | None:
    names = {r["Child"]: child.name for r in c.links if (child := store.by_id(r["Child"])) is not None}
    return links.inspect_links(c.links, names)
