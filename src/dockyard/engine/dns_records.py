"""What the embedded DNS answers: container names, aliases and short ids on the asker's user networks.

Answers come from the live container records, so a `network connect` is
resolvable as soon as it returns and a stopped container disappears at once.
"""

from __future__ import annotations

from dockyard.engine.container_store import Container
from dockyard.engine.links import parse_link
from dockyard.engine.networks import NetworkService
from dockyard.errors import DockyardError

__all__ = ["NetworkRecords"]


class NetworkRecords:
    """The DnsResolver of network/dns.py."""

    def __init__(self, networks: NetworkService) -> None:
        self.networks = networks

    def _user_networks(self, client: str) -> dict[str, str]:
        """network id → network name, for the asker's live endpoints on user-defined networks."""
        c = self.networks.containers.by_id(client)
        out: dict[str, str] = {}
        for _name, ep in ((c.network_settings.get("Networks") or {}).items() if c else ()):
            n = self.networks.store.by_id(ep.get("NetworkID") or "")
            if n is not None and n.user_defined and ep.get("IPAddress"):
                out[n.id] = n.name
        return out

    def _peers(self, client: str):
        for nid, net_name in self._user_networks(client).items():
            for c in self.networks.containers.all():
                ep = (c.network_settings.get("Networks") or {}).get(net_name)
                if ep and ep.get("NetworkID") == nid and ep.get("IPAddress"):
                    yield c, net_name, ep

    def _link_target(self, client: str, name: str) -> tuple[str, str] | None:
        """`--link child:alias` on a user network: the asker's own alias → (child name, network name).
        Like libnetwork's sandbox aliases, only the linking container sees them; `alias.net` works too."""
        c = self.networks.containers.by_id(client)
        for net_name, ep in ((c.network_settings.get("Networks") or {}).items() if c else ()):
            for value in ep.get("Links") or []:
                try:
                    target, alias = parse_link(value)
                except DockyardError:
                    continue
                if name in (alias.lower(), f"{alias.lower()}.{net_name.lower()}"):
                    return target.lower(), net_name
        return None

    def lookup(self, client: str, name: str) -> list[str] | None:
        name = name.lower().rstrip(".")
        only_net = None
        link = self._link_target(client, name)
        if link is not None:
            name, only_net = link
        found: list[str] = []
        for _c, net_name, ep in self._peers(client):
            if only_net is not None and net_name != only_net:
                continue
            names = [n.lower() for n in ep.get("DNSNames") or []]
            if name in names or any(name == f"{n}.{net_name.lower()}" for n in names):
                if ep["IPAddress"] not in found:
                    found.append(ep["IPAddress"])
        return found or None

    def reverse(self, client: str, ip: str) -> str | None:
        for c, net_name, ep in self._peers(client):
            if ep["IPAddress"] == ip:
                first = (ep.get("DNSNames") or [c.name])[0]
                return f"{first}.{net_name}"
        return None

    def may_forward(self, client: str) -> bool:
        c: Container | None = self.networks.containers.by_id(client)
        for ep in (c.network_settings.get("Networks") or {}).values() if c else ():
            n = self.networks.store.by_id(ep.get("NetworkID") or "")
            if n is not None and not n.internal:
                return True
        return False
