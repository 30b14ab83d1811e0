"""NetworkService: the networks themselves — predefined ones, `network create/rm/prune`, inspect, the firewall.

Containers join and leave networks through engine/endpoints.py; this module
owns the records, the bridges, the address pools and the one nftables table
that holds this daemon's NAT and isolation rules.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from typing import Any

from dockyard import errors
from dockyard.engine.container_store import Container, ContainerStore
from dockyard.engine.network_config import network_from_request
from dockyard.engine.network_store import Network, NetworkStore
from dockyard.engine.timeutil import now_rfc3339
from dockyard.network import bridge as links
from dockyard.network.firewall import BridgeRules, Firewall, LinkRule, PortRule
from dockyard.network.ipam import DEFAULT_POOLS, AddressPool, Pool, pick_subnet

__all__ = ["NetworkService"]

log = logging.getLogger("dockyard.networks")

_DEFAULT_BRIDGE_OPTIONS = {
    "com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.enable_icc": "true",
    "com.docker.network.bridge.enable_ip_masquerade": "true",
    "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0", "com.docker.network.driver.mtu": "1500"}


class NetworkService:
    def __init__(self, store: NetworkStore, containers: ContainerStore, firewall: Firewall, *, owner: str,
                 default_bridge: str, bip: str = "", pools: Iterable[Pool] = DEFAULT_POOLS,
                 icc: bool = True, emit: Callable[..., Any] | None = None) -> None:
        self.store = store
        self.containers = containers
        self.firewall = firewall
        self.owner = owner
        self.default_bridge_name = default_bridge
        self.bip = bip
        self.icc = icc   # dockerd's --icc: may the default bridge's containers talk to each other
        self.pools = tuple(pools)
        self._emit = emit or (lambda *a, **k: None)
        self.address_pools: dict[str, AddressPool] = {}
        self.port_rules: Callable[[], list[PortRule]] = lambda: []   # set by the endpoint manager
        self.link_rules: Callable[[], list[LinkRule]] = lambda: []   # legacy links, default bridge only
        self._fw_lock = threading.Lock()
        self._fw_generation = 0
        self._fw_applied = 0

    # ------------------------------------------------------------------ lookup
    def get(self, ref: str) -> Network:
        return self.store.get(ref)

    def list(self) -> list[Network]:
        return sorted(self.store.all(), key=lambda n: n.created)

    def default(self) -> Network:
        n = self.store.by_name("bridge")
        assert n is not None, "the default bridge is created at start"
        return n

    def pool(self, n: Network) -> AddressPool:
        return self.address_pools[n.id]

    def endpoints_on(self, n: Network) -> list[tuple[Container, dict]]:
        """Running containers attached to `n`, with their endpoint settings."""
        out = []
        for c in self.containers.all():
            ep = (c.network_settings.get("Networks") or {}).get(n.name)
            if ep and ep.get("NetworkID") == n.id and ep.get("EndpointID"):
                out.append((c, ep))
        return out

    def configured_on(self, n: Network) -> list[Container]:
        """Containers (running or not) whose configuration names `n`."""
        return [c for c in self.containers.all()
                if (c.network_settings.get("Networks") or {}).get(n.name) is not None]

    # ------------------------------------------------------------------ start / stop
    async def start(self) -> None:
        """Predefined networks, every bridge up, addresses of running containers claimed, rules applied."""
        await asyncio.get_running_loop().run_in_executor(None, self._start_blocking)

    def _start_blocking(self) -> None:
        self._ensure_predefined()
        ours = {n.bridge for n in self.store.all() if n.is_bridge}
        for leftover in set(links.owned_bridges(self.owner)) - ours:
            log.info("removing bridge %s left by an earlier run", leftover)
            self._drop_bridge(leftover)
        for n in self.store.all():
            if n.is_bridge:
                self._bring_up(n)
        for c in self.containers.all():
            if c.state.status.is_running:
                self._claim_addresses(c)
        self._apply_firewall_now()

    def _ensure_predefined(self) -> None:
        for name, driver in (("none", "null"), ("host", "host")):
            if self.store.by_name(name) is None:
                self.store.save(Network(id=secrets.token_hex(32), name=name, driver=driver, created=now_rfc3339()))
        current = self.store.by_name("bridge")
        n = current or Network(id=secrets.token_hex(32), name="bridge", driver="bridge", created=now_rfc3339(),
                               default_bridge=True)
        n.bridge = self.default_bridge_name
        n.options = {**_DEFAULT_BRIDGE_OPTIONS, "com.docker.network.bridge.name": self.default_bridge_name,
                     "com.docker.network.bridge.enable_icc": "true" if self.icc else "false"}
        if self.bip:
            iface = ipaddress.IPv4Interface(self.bip)
            n.subnet, n.gateway = str(iface.network), str(iface.ip)
        elif not n.subnet or self._clashes(n):
            subnet = pick_subnet(self._taken(exclude=n), self.pools)
            n.subnet, n.gateway = str(subnet), str(next(subnet.hosts()))
        self.store.save(n)

    def _taken(self, exclude: Network | None = None) -> list[ipaddress.IPv4Network]:
        ours = {m.bridge for m in self.store.all() if m.is_bridge}
        taken = links.routes_in_use(ignore=ours)
        taken += [ipaddress.IPv4Network(m.subnet) for m in self.store.all()
                  if m.subnet and m is not exclude]
        return taken

    def _clashes(self, n: Network) -> bool:
        return any(ipaddress.IPv4Network(n.subnet).overlaps(t) for t in self._taken(exclude=n))

    def _bring_up(self, n: Network) -> None:
        subnet = ipaddress.IPv4Network(n.subnet)
        links.ensure_bridge(n.bridge, f"{n.gateway}/{subnet.prefixlen}", self.owner, n.mtu)
        self.firewall.enable_bridge(n.bridge)
        reserved = {ipaddress.IPv4Address(a) for a in n.aux_addresses.values()}
        self.address_pools[n.id] = AddressPool(
            subnet, ipaddress.IPv4Address(n.gateway),
            ipaddress.IPv4Network(n.ip_range) if n.ip_range else None, reserved)

    def _claim_addresses(self, c: Container) -> None:
        for ep in (c.network_settings.get("Networks") or {}).values():
            n = self.store.by_id(ep.get("NetworkID") or "")
            if n is not None and n.id in self.address_pools and ep.get("IPAddress"):
                try:
                    self.address_pools[n.id].claim(ipaddress.IPv4Address(ep["IPAddress"]))
                except errors.DockyardError as e:
                    log.warning("container %s: %s", c.id[:12], e)

    async def shutdown(self, *, live_restore: bool) -> None:
        """Without live restore nothing runs any more: take the bridges and the rules away."""
        if live_restore:
            return
        await asyncio.get_running_loop().run_in_executor(None, self._teardown)

    def _teardown(self) -> None:
        for n in self.store.all():
            if n.is_bridge:
                self._drop_bridge(n.bridge)
        self.firewall.remove()

    # ------------------------------------------------------------------ firewall
    def _rules(self) -> tuple[list[BridgeRules], list[PortRule]]:
        link_rules = tuple(self.link_rules())
        bridges = [BridgeRules(n.bridge, n.subnet, internal=n.internal, masquerade=n.masquerade, icc=n.icc,
                               links=link_rules if n.name == "bridge" and not n.icc else ())
                   for n in self.store.all() if n.is_bridge and n.id in self.address_pools]
        return bridges, self.port_rules()

    def _apply_firewall_now(self) -> None:
        with self._fw_lock:
            self.firewall.apply(*self._rules())

    async def apply_firewall(self) -> None:
        """Regenerate this daemon's table from the current state, atomically (a newer state wins)."""
        self._fw_generation += 1
        generation, rules = self._fw_generation, self._rules()

        def apply() -> None:
            with self._fw_lock:
                if generation > self._fw_applied:
                    self.firewall.apply(*rules)
                    self._fw_applied = generation
        await asyncio.get_running_loop().run_in_executor(None, apply)

    # ------------------------------------------------------------------ create / remove
    async def create(self, body: Any) -> Network:
        name = body.get("Name") if isinstance(body, dict) else None
        if isinstance(name, str) and self.store.by_name(name) is not None and name not in ("bridge", "host", "none"):
            raise errors.Conflict(f"network with name {name} already exists")
        n = network_from_request(body, secrets.token_hex(32), now_rfc3339())
        if any(m.bridge == n.bridge for m in self.store.all() if m.is_bridge):
            raise errors.Conflict(f"bridge name {n.bridge} is already used by another network")
        if n.subnet:
            wanted = ipaddress.IPv4Network(n.subnet)
            if any(wanted.overlaps(t) for t in self._taken()):
                raise errors.Forbidden("invalid pool request: Pool overlaps with other one on this address space")
        else:
            subnet = pick_subnet(self._taken(), self.pools)
            n.subnet, n.gateway = str(subnet), str(next(subnet.hosts()))
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._bring_up, n)
            self.store.save(n)
        except BaseException:
            self.address_pools.pop(n.id, None)
            await loop.run_in_executor(None, self._drop_bridge, n.bridge)
            raise
        await self.apply_firewall()
        self._emit("network", "create", n.id, name=n.name, type=n.driver)
        return n

    def _drop_bridge(self, bridge: str) -> None:
        if not links.owned(bridge, self.owner):   # never touch an interface someone else made
            return
        try:
            self.firewall.disable_bridge(bridge)
            links.delete_bridge(bridge, self.owner)
        except OSError as e:
            log.warning("removing bridge %s: %s", bridge, e)

    async def remove(self, ref: str) -> None:
        n = self.get(ref)
        if not n.user_defined:
            raise errors.Forbidden(f"{n.name} is a pre-defined network and cannot be removed")
        active = self.endpoints_on(n)
        if active:
            names = ", ".join(c.name for c, _ in active)
            raise errors.Forbidden(f"error while removing network: network {n.name} has active endpoints ({names})")
        self.store.delete(n.id)
        self.address_pools.pop(n.id, None)
        await self.apply_firewall()
        await asyncio.get_running_loop().run_in_executor(None, self._drop_bridge, n.bridge)
        self._emit("network", "destroy", n.id, name=n.name, type=n.driver)

    async def prune(self, keep: Callable[[Network], bool]) -> list[str]:
        """Remove user-defined networks no container uses (and that `keep` does not protect)."""
        removed = []
        for n in self.list():
            if n.user_defined and not self.configured_on(n) and not keep(n):
                await self.remove(n.id)
                removed.append(n.name)
        return removed
