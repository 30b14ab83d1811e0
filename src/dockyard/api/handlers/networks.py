"""/networks/*: parse, one engine call, serialise (Docker's NetworkResource shape)."""

from __future__ import annotations

from typing import Any

from dockyard import errors
from dockyard.api.filters import parse_filters
from dockyard.api.http import EmptyResponse, JSONResponse, Request, Response
from dockyard.engine.container_filters import label_match
from dockyard.engine.endpoints import EndpointManager
from dockyard.engine.network_store import Network
from dockyard.engine.networks import NetworkService
from dockyard.engine.timeutil import parse_since, rfc3339_to_epoch

__all__ = ["NetworkHandlers", "network_json"]

_LIST_FILTERS = {"driver", "id", "label", "name", "scope", "type", "dangling"}
_PRUNE_FILTERS = {"until", "label", "label!"}


def _ipam_config(n: Network) -> list[dict[str, Any]]:
    if not n.is_bridge or not n.subnet:
        return []
    cfg: dict[str, Any] = {"Subnet": n.subnet, "Gateway": n.gateway}
    if n.ip_range:
        cfg["IPRange"] = n.ip_range
    if n.aux_addresses:
        cfg["AuxiliaryAddresses"] = dict(n.aux_addresses)
    return [cfg]


def network_json(n: Network, networks: NetworkService, *, with_containers: bool) -> dict[str, Any]:
    containers = {}
    if with_containers:
        for c, ep in networks.endpoints_on(n):
            containers[c.id] = {"Name": c.name, "EndpointID": ep.get("EndpointID", ""),
                                "MacAddress": ep.get("MacAddress", ""),
                                "IPv4Address": f"{ep['IPAddress']}/{ep['IPPrefixLen']}", "IPv6Address": ""}
    return {
        "Name": n.name, "Id": n.id, "Created": n.created, "Scope": "local", "Driver": n.driver,
        "EnableIPv4": True, "EnableIPv6": n.enable_ipv6,
        "IPAM": {"Driver": n.ipam_driver, "Options": n.ipam_options, "Config": _ipam_config(n)},
        "Internal": n.internal, "Attachable": n.attachable, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
        "Options": dict(n.options), "Labels": dict(n.labels),
    }


def _select(items: list[Network], f: dict[str, list[str]], networks: NetworkService) -> list[Network]:
    def keep(n: Network) -> bool:
        if f.get("driver") and n.driver not in f["driver"]:
            return False
        if f.get("id") and not any(n.id.startswith(v) for v in f["id"]):
            return False
        if f.get("name") and not any(v in n.name for v in f["name"]):
            return False
        if f.get("scope") and "local" not in f["scope"]:
            return False
        if f.get("label") and not all(label_match(n.labels, v) for v in f["label"]):
            return False
        for kind in f.get("type", []):
            if kind not in ("custom", "builtin"):
                raise errors.InvalidArgument(f"invalid filter: 'type'='{kind}'")
            if (kind == "custom") != n.user_defined:
                return False
        for value in f.get("dangling", []):
            if value not in ("true", "false", "1", "0"):
                raise errors.InvalidArgument(f"invalid filter 'dangling={value}'")
            dangling = n.user_defined and not networks.configured_on(n)
            if dangling != (value in ("true", "1")):
                return False
        return True
    return [n for n in items if keep(n)]


class NetworkHandlers:
    def __init__(self, networks: NetworkService, endpoints: EndpointManager) -> None:
        self.networks = networks
        self.endpoints = endpoints

    async def list(self, req: Request) -> Response:
        f = parse_filters(req.arg("filters"), _LIST_FILTERS)
        items = _select(self.networks.list(), f, self.networks)
        # Docker's list has no endpoint details (API >= 1.28): Containers is {}
        return JSONResponse([network_json(n, self.networks, with_containers=False) for n in items])

    async def inspect(self, req: Request) -> Response:
        scope = req.arg("scope")
        n = self.networks.get(req.params["id"])
        if scope and scope != "local":
            raise errors.NotFound(f"network {req.params['id']} not found")
        return JSONResponse(network_json(n, self.networks, with_containers=True))

    async def create(self, req: Request) -> Response:
        body = await req.json(required=True)
        n = await self.networks.create(body)
        return JSONResponse({"Id": n.id, "Warning": ""}, status=201)

    async def remove(self, req: Request) -> Response:
        await self.networks.remove(req.params["id"])
        return EmptyResponse()

    async def connect(self, req: Request) -> Response:
        body = await req.json(required=True)
        if not isinstance(body, dict) or not body.get("Container"):
            raise errors.InvalidArgument("container is required")
        await self.endpoints.connect(req.params["id"], str(body["Container"]), body.get("EndpointConfig"))
        return EmptyResponse(200)

    async def disconnect(self, req: Request) -> Response:
        body = await req.json(required=True)
        if not isinstance(body, dict) or not body.get("Container"):
            raise errors.InvalidArgument("container is required")
        await self.endpoints.disconnect(req.params["id"], str(body["Container"]), bool(body.get("Force")))
        return EmptyResponse(200)

    async def prune(self, req: Request) -> Response:
        f = parse_filters(req.arg("filters"), _PRUNE_FILTERS)
        until = [parse_since(v) for v in f.get("until", [])]

        def protected(n: Network) -> bool:
            if until and rfc3339_to_epoch(n.created) >= min(until):
                return True
            if f.get("label") and not all(label_match(n.labels, v) for v in f["label"]):
                return True
            return any(label_match(n.labels, v) for v in f.get("label!", []))
        removed = await self.networks.prune(protected)
        return JSONResponse({"NetworksDeleted": removed or None})
