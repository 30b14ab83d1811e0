"""Containers on networks: endpoints made at start, removed at exit, connected and disconnected while running.

A start goes `configure` (at create: which networks, checked) → `allocate`
(addresses and host ports, before the bundle's /etc files are written) →
`plug` (veth pairs into the new netns, DNS listeners, NAT rules) → `release`
(at exit, or when any step failed). Addresses and ports live in the
container's record, so a restarted daemon re-claims them from there.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dockyard import errors
from dockyard.engine import link_registry
from dockyard.engine.container_store import Container
from dockyard.engine.etcfiles import resolv_conf
from dockyard.engine.links import env_vars, hosts_line
from dockyard.engine.network_config import ENDPOINT_OPERATIONAL, endpoint_settings
from dockyard.engine.network_store import Network
from dockyard.engine.networks import NetworkService
from dockyard.network import bridge as links
from dockyard.network.dns import EmbeddedDns, open_listeners
from dockyard.network.firewall import PortRule
from dockyard.network.ipam import mac_for
from dockyard.network.netns import in_netns
from dockyard.network.ports import HeldPort, hold, requests_from

__all__ = ["EndpointManager", "NetPlan", "network_mode"]

log = logging.getLogger("dockyard.endpoints")


def network_mode(c: Container) -> str:
    mode = c.host_config.get("NetworkMode") or "default"
    return "bridge" if mode == "default" else mode


@dataclass(frozen=True)
class NetPlan:
    """What the bundle needs to know about a container's network before it is created."""
    kind: str                 # "bridge" (any bridge network) | "host" | "none" | "container"
    ip: str = ""              # the primary address, for /etc/hosts
    embedded_dns: bool = False
    netns_path: str = ""      # kind "container": the netns to join
    share_etc_from: str = ""  # kind "container": the container whose /etc files are shared
    host_gateway: str = ""    # what `--add-host name:host-gateway` means: the default bridge's gateway
    link_env: tuple[str, ...] = ()    # legacy links: the children's variables, before the container's own
    link_hosts: tuple[str, ...] = ()  # legacy links: "IP\talias hostname name" lines for /etc/hosts


class EndpointManager:
    def __init__(self, networks: NetworkService, dns: EmbeddedDns, containers_dir, emit=None) -> None:
        self.networks = networks
        self.dns = dns
        self.containers_dir = containers_dir   # Paths.container
        self._emit = emit or (lambda *a, **k: None)
        self.held: dict[str, list[HeldPort]] = {}
        self._dns_clients: set[str] = set()
        self._unplugging: set[asyncio.Future[None]] = set()
        networks.port_rules = self._port_rules
        networks.link_rules = lambda: link_registry.firewall_rules(networks.containers)

    # ------------------------------------------------------------------ create
    def configure(self, c: Container, networking_config: Any) -> None:
        """Check the container's network mode and endpoint settings; record them (no addresses yet)."""
        mode = network_mode(c)
        given = (networking_config or {}).get("EndpointsConfig") if isinstance(networking_config, dict) else None
        if given is not None and not isinstance(given, dict):
            raise errors.InvalidArgument("invalid NetworkingConfig.EndpointsConfig: must be an object")
        given = {("bridge" if k == "default" else k): v for k, v in (given or {}).items()}
        hc = c.host_config
        if mode.startswith("container:"):
            if hc.get("PortBindings") or hc.get("PublishAllPorts"):
                raise errors.InvalidArgument("conflicting options: port publishing and the container type network mode")
            if c.config.get("Hostname") and c.config["Hostname"] != c.id[:12]:
                raise errors.InvalidArgument("conflicting options: hostname and the network mode")
            self._container_ref(mode)  # must exist now
            c.network_settings = {"Networks": {}, "Ports": {}}
            return
        requests_from(hc.get("PortBindings"), c.config.get("ExposedPorts"), bool(hc.get("PublishAllPorts")))
        primary = self.networks.get(mode)
        endpoints: dict[str, Any] = {}
        for ref in [mode, *[k for k in given if k != mode]]:
            n = self.networks.get(ref) if ref != mode else primary
            if n.name in endpoints:
                continue
            if not n.is_bridge and n is not primary:
                raise errors.InvalidArgument("container cannot be disconnected from host network or connected to "
                                             "host network")
            endpoints[n.name] = self._endpoint_for(n, given.get(ref) or given.get(n.name) or given.get(n.id))
        c.network_settings = {"Networks": endpoints, "Ports": {}}

    def _endpoint_for(self, n: Network, given: Any) -> dict[str, Any]:
        ep = endpoint_settings(given)
        ip = (ep["IPAMConfig"] or {}).get("IPv4Address")
        if ip or ep["Aliases"]:
            if not n.user_defined:
                raise errors.InvalidArgument(
                    "user specified IP address is supported on user defined networks only" if ip
                    else "network-scoped alias is supported only for containers in user defined networks")
            if ip and ipaddress.IPv4Address(ip) not in ipaddress.IPv4Network(n.subnet):
                raise errors.InvalidArgument(
                    f"invalid endpoint settings:\nno configured subnet contains IP address {ip}")
        ep["NetworkID"] = n.id
        return ep

    def _container_ref(self, mode: str) -> Container:
        ref = mode.partition(":")[2]
        try:
            return self.networks.containers.get(ref)
        except errors.NotFound:
            raise errors.NotFound(f"No such container: {ref}") from None

    # ------------------------------------------------------------------ start
    def allocate(self, c: Container) -> NetPlan:
        """Addresses for every bridge endpoint, and the host ports; undone by `release` on failure."""
        mode = network_mode(c)
        gw = self.networks.default().gateway
        if mode == "host":
            return NetPlan("host", host_gateway=gw)
        if mode == "none":
            return NetPlan("none", host_gateway=gw)
        if mode.startswith("container:"):
            other = self._container_ref(mode)
            if not other.state.status.is_running or not other.state.pid:
                raise errors.InvalidState(f"cannot join network of a non running container: {other.id}")
            return NetPlan("container", netns_path=f"/proc/{other.state.pid}/ns/net",
                           share_etc_from=str(self.containers_dir(other.id)))
        networks = c.network_settings.setdefault("Networks", {})
        primary_ip, embedded = "", False
        for name, ep in networks.items():
            n = self.networks.store.by_id(ep.get("NetworkID") or "") or self.networks.store.by_name(name)
            if n is None:
                raise errors.NotFound(f"network {name} not found")
            self._assign(c, n, ep)
            primary_ip = primary_ip or ep["IPAddress"]
            embedded = embedded or n.user_defined
        children = link_registry.linked_children(c, self.networks.containers)
        self._hold_ports(c)
        return NetPlan("bridge", ip=primary_ip, embedded_dns=embedded, host_gateway=gw,
                       link_env=tuple(v for child in children for v in env_vars(child)),
                       link_hosts=tuple(hosts_line(child) for child in children if child.ip))

    def _assign(self, c: Container, n: Network, ep: dict[str, Any]) -> None:
        pool = self.networks.pool(n)
        wanted = (ep.get("IPAMConfig") or {}).get("IPv4Address")
        if wanted:
            ip = ipaddress.IPv4Address(wanted)
            pool.claim(ip)
        else:
            ip = pool.allocate()
        ep.update(NetworkID=n.id, EndpointID=secrets.token_hex(32), IPAddress=str(ip),
                  IPPrefixLen=pool.subnet.prefixlen, MacAddress=mac_for(ip),
                  Gateway="" if n.internal else n.gateway)
        if n.user_defined:
            # Docker's order: the first name is what PTR answers give
            names = [c.name, *(ep.get("Aliases") or []), c.id[:12], c.config.get("Hostname") or ""]
            ep["DNSNames"] = [x for x in dict.fromkeys(names) if x]

    def _hold_ports(self, c: Container, again: dict[tuple[str, int, str], int] | None = None) -> None:
        hc = c.host_config
        held: list[HeldPort] = self.held.setdefault(c.id, [])
        try:
            for req in requests_from(hc.get("PortBindings"), c.config.get("ExposedPorts"),
                                     bool(hc.get("PublishAllPorts"))):
                previous = (again or {}).get((req.proto, req.container_port, req.host_ip))
                held.append(hold(req, previous or 0))
        except errors.DockyardError as e:
            raise type(e)(f"driver failed programming external connectivity on endpoint {c.name} "
                          f"({c.id[:64]}): {e.message}") from None
        # exposed but unpublished ports show as null, as in Docker's inspect
        ports: dict[str, Any] = {key: None for key in c.config.get("ExposedPorts") or {}}
        for h in held:
            key = f"{h.request.container_port}/{h.request.proto}"
            ports[key] = [*(ports.get(key) or []), {"HostIp": h.host_ip, "HostPort": str(h.host_port)}]
        c.network_settings["Ports"] = ports

    async def plug(self, c: Container, pid: int, plan: NetPlan) -> None:
        """Wire the new netns: veths, loopback, DNS listeners; then the NAT rules for its ports."""
        loop = asyncio.get_running_loop()
        if plan.kind in ("host", "container"):
            return
        if plan.kind == "none":
            await loop.run_in_executor(None, links.plug_loopback_only, pid, None)
            return
        for ep in c.network_settings["Networks"].values():
            n = self.networks.store.by_id(ep["NetworkID"])
            assert n is not None
            await self._plug_endpoint(c, pid, n, ep, want_dns=plan.embedded_dns)
        if self.held.get(c.id) or c.links:
            await self.networks.apply_firewall()

    async def _plug_endpoint(self, c: Container, pid: int, n: Network, ep: dict[str, Any], *,
                             want_dns: bool) -> None:
        """One veth into the netns: the next free ethN; the first one carries the default route.
        The DNS listeners are opened inside the netns on the same trip, once per container."""
        used = {p["ifname"] for p in c.endpoints.values()}
        ifname = next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
        inside = open_listeners if want_dns and not self.dns_served(c.id) else None
        veth, listeners = await asyncio.get_running_loop().run_in_executor(
            None, links.plug, pid, self._plug_for(n, ep, ifname, primary=not c.endpoints), inside)
        c.endpoints[n.id] = {"veth": veth, "ifname": ifname}
        if listeners is not None:
            await self._serve_dns(c.id, listeners)
            if c.endpoints.keys() != {n.id}:
                # a running container's first user network: its resolver becomes the embedded DNS, as in Docker
                await asyncio.get_running_loop().run_in_executor(None, self._use_embedded_dns, c)
        self._emit("network", "connect", n.id, container=c.id, name=n.name, type=n.driver)

    def _use_embedded_dns(self, c: Container) -> None:
        hc = c.host_config
        path = self.containers_dir(c.id) / "resolv.conf"
        if path.is_file():   # rewritten in place: the container's bind mount holds this inode
            path.write_text(resolv_conf(False, embedded_dns=True, dns=hc.get("Dns"), dns_search=hc.get("DnsSearch"),
                                        dns_options=hc.get("DnsOptions")))

    @staticmethod
    def _plug_for(n: Network, ep: dict[str, Any], ifname: str, primary: bool) -> links.Plug:
        return links.Plug(bridge=n.bridge, ifname=ifname, address=f"{ep['IPAddress']}/{ep['IPPrefixLen']}",
                          mac=ep["MacAddress"], gateway=ep["Gateway"] if primary else "", mtu=n.mtu)

    async def release(self, c: Container) -> None:
        """Everything `allocate` and `plug` took; safe to call twice and after a partial start."""
        if c.id in self._dns_clients:
            self._dns_clients.discard(c.id)
            await self.dns.remove(c.id)
        for nid, plugged in list(c.endpoints.items()):
            # Deleting a link waits out an RCU grace period (~15 ms): off the start/stop path. The
            # netns usually dies with the container and takes the pair with it anyway.
            self._unplug_later(plugged["veth"])
            n = self.networks.store.by_id(nid)
            if n is not None:
                self._emit("network", "disconnect", n.id, container=c.id, name=n.name, type=n.driver)
        c.endpoints = {}
        for name, ep in (c.network_settings.get("Networks") or {}).items():
            self._forget_address(name, ep)
        had_ports = bool(self.held.get(c.id))
        for h in self.held.pop(c.id, []):
            h.close()
        if c.network_settings.get("Ports"):
            c.network_settings["Ports"] = {}
        if had_ports or c.links or self._is_linked(c.id):
            await self.networks.apply_firewall()

    def _unplug_later(self, veth: str) -> None:
        def unplug() -> None:
            try:
                links.unplug(veth)
            except OSError as e:
                log.warning("removing %s: %s", veth, e)
        task = asyncio.ensure_future(asyncio.get_running_loop().run_in_executor(None, unplug))
        self._unplugging.add(task)
        task.add_done_callback(self._unplugging.discard)

    async def settle(self) -> None:
        """Wait for the links being removed in the background (daemon shutdown, tests)."""
        if self._unplugging:
            await asyncio.gather(*self._unplugging, return_exceptions=True)

    def _is_linked(self, cid: str) -> bool:
        return any(r.get("Child") == cid for p in self.networks.containers.all() for r in p.links)

    def _forget_address(self, name: str, ep: dict[str, Any]) -> None:
        n = self.networks.store.by_id(ep.get("NetworkID") or "") or self.networks.store.by_name(name)
        if n is not None and ep.get("IPAddress") and n.id in self.networks.address_pools:
            self.networks.pool(n).release(ipaddress.IPv4Address(ep["IPAddress"]))
        ep.update(ENDPOINT_OPERATIONAL)
        ep["DNSNames"] = None

    # ------------------------------------------------------------------ connect / disconnect
    def bind(self, lock_for: Callable[[str], asyncio.Lock], save: Callable[[Container], None]) -> None:
        """The container service's per-container lock and record writer (it is built after us)."""
        self._lock_for, self._save = lock_for, save

    async def connect(self, net_ref: str, container_ref: str, endpoint_config: Any) -> None:
        n = self.networks.get(net_ref)
        c = self.networks.containers.get(container_ref)
        async with self._lock_for(c.id):
            mode = network_mode(c)
            if mode.startswith("container:") or mode == "host" or not n.is_bridge:
                raise errors.InvalidArgument("container sharing network namespace with another container or host "
                                             "cannot be connected to any other network")
            if mode == "none":
                raise errors.InvalidArgument("container cannot be connected to multiple networks with one of the "
                                             "networks in private (none) mode")
            networks = c.network_settings.setdefault("Networks", {})
            if n.name in networks:
                raise errors.Forbidden(f"endpoint with name {c.name} already exists in network {n.name}")
            ep = self._endpoint_for(n, endpoint_config)
            if c.state.status.is_running and c.state.pid:
                await self._plug_running(c, n, ep)
            networks[n.name] = ep
            self._save(c)

    async def _plug_running(self, c: Container, n: Network, ep: dict[str, Any]) -> None:
        self._assign(c, n, ep)
        try:
            await self._plug_endpoint(c, c.state.pid, n, ep, want_dns=n.user_defined)
        except BaseException:
            self._forget_address(n.name, ep)
            raise

    async def _serve_dns(self, cid: str, listeners: tuple[Any, Any]) -> None:
        await self.dns.add(cid, *listeners)
        self._dns_clients.add(cid)

    def dns_served(self, cid: str) -> bool:
        return cid in self._dns_clients

    async def disconnect(self, net_ref: str, container_ref: str, force: bool) -> None:
        c = self.networks.containers.get(container_ref)
        try:
            n: Network | None = self.networks.get(net_ref)
        except errors.NotFound:
            if not force:
                raise
            n = None
        async with self._lock_for(c.id):
            networks = c.network_settings.setdefault("Networks", {})
            name = n.name if n is not None else net_ref
            if name not in networks:
                raise errors.Forbidden(f"container {c.id} is not connected to network {name}")
            if network_mode(c) == "host":
                raise errors.InvalidArgument("cannot disconnect container from host network - container was "
                                             "created in host network mode")
            plugged = c.endpoints.pop(n.id, None) if n is not None else None
            if plugged is not None:
                with contextlib.suppress(OSError):
                    await asyncio.get_running_loop().run_in_executor(None, links.unplug, plugged["veth"])
                self._emit("network", "disconnect", n.id, container=c.id, name=n.name, type=n.driver)
            self._forget_address(name, networks.pop(name))
            if not c.endpoints and self.held.get(c.id):
                await self.networks.apply_firewall()
            self._save(c)

    # ------------------------------------------------------------------ daemon restart
    async def restore(self, running: list[Container]) -> None:
        """Containers that outlived a daemon restart: hold their ports again, serve their DNS again."""
        for c in running:
            again = {}
            for key, bindings in (c.network_settings.get("Ports") or {}).items():
                port, _, proto = key.partition("/")
                for b in bindings or []:
                    ip = "" if b.get("HostIp") in ("", "0.0.0.0") else b["HostIp"]
                    again[(proto, int(port), ip)] = int(b.get("HostPort") or 0)
            try:
                self._hold_ports(c, again)
            except errors.DockyardError as e:
                log.warning("container %s: %s", c.id[:12], e)
            if any(self._is_user(ep) for ep in (c.network_settings.get("Networks") or {}).values()) and c.state.pid:
                try:
                    listeners = await asyncio.get_running_loop().run_in_executor(
                        None, _listeners_in, c.state.pid)
                    await self._serve_dns(c.id, listeners)
                except OSError as e:
                    log.warning("container %s: no embedded DNS after restart: %s", c.id[:12], e)

    def _is_user(self, ep: dict[str, Any]) -> bool:
        n = self.networks.store.by_id(ep.get("NetworkID") or "")
        return n is not None and n.user_defined and bool(ep.get("IPAddress"))

    # ------------------------------------------------------------------ firewall input
    def _port_rules(self) -> list[PortRule]:
        rules = []
        for cid, held in self.held.items():
            c = self.networks.containers.by_id(cid)
            if c is None or not held:
                continue
            target = self._primary_bridge_endpoint(c)
            if target is None:
                continue
            n, ip = target
            for h in held:
                rules.append(PortRule(h.request.proto, h.request.host_ip, h.host_port, ip,
                                      h.request.container_port, n.bridge))
        return rules

    def _primary_bridge_endpoint(self, c: Container) -> tuple[Network, str] | None:
        for ep in (c.network_settings.get("Networks") or {}).values():
            n = self.networks.store.by_id(ep.get("NetworkID") or "")
            if n is not None and n.is_bridge and ep.get("IPAddress"):
                return n, ep["IPAddress"]
        return None


def _listeners_in(pid: int) -> Any:
    return in_netns(pid, open_listeners)
