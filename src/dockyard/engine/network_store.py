"""Network records: in memory while the daemon runs, persisted in SQLite on every change."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field

from dockyard import errors
from dockyard.store.db import Database

__all__ = ["Network", "NetworkStore", "PREDEFINED"]

PREDEFINED = ("bridge", "host", "none")


@dataclass
class Network:
    id: str
    name: str
    driver: str                    # "bridge" | "host" | "null"
    created: str
    bridge: str = ""               # the Linux bridge's name (bridge driver)
    subnet: str = ""               # "172.18.0.0/16"
    gateway: str = ""              # "172.18.0.1"
    ip_range: str = ""
    aux_addresses: dict[str, str] = field(default_factory=dict)
    ipam_given: list[dict] = field(default_factory=list)   # IPAM.Config as the client sent it
    ipam_driver: str = "default"
    ipam_options: dict | None = None
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    options: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    default_bridge: bool = False

    @property
    def is_bridge(self) -> bool:
        return self.driver == "bridge"

    @property
    def user_defined(self) -> bool:
        return self.name not in PREDEFINED

    @property
    def icc(self) -> bool:
        return self.options.get("com.docker.network.bridge.enable_icc", "true") != "false"

    @property
    def masquerade(self) -> bool:
        return self.options.get("com.docker.network.bridge.enable_ip_masquerade", "true") != "false"

    @property
    def mtu(self) -> int:
        value = self.options.get("com.docker.network.driver.mtu", "")
        return int(value) if value.isdigit() else 0

    @classmethod
    def from_record(cls, text: str) -> Network:
        return cls(**json.loads(text))


class NetworkStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._by_id: dict[str, Network] = {}
        for row in db.query("SELECT record FROM networks"):
            n = Network.from_record(row["record"])
            self._by_id[n.id] = n

    def all(self) -> list[Network]:
        return list(self._by_id.values())

    def by_name(self, name: str) -> Network | None:
        return next((n for n in self._by_id.values() if n.name == name), None)

    def by_id(self, nid: str) -> Network | None:
        return self._by_id.get(nid)

    def get(self, ref: str) -> Network:
        """Docker's order: full id, then exact name, then unique id prefix."""
        if ref in self._by_id:
            return self._by_id[ref]
        n = self.by_name(ref)
        if n is not None:
            return n
        matches = [n for nid, n in self._by_id.items() if nid.startswith(ref)] if ref else []
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise errors.InvalidArgument(f"network {ref} is ambiguous ({len(matches)} matches found based on ID prefix)")
        raise errors.NotFound(f"network {ref} not found")

    def save(self, n: Network) -> None:
        try:
            with self.db.tx() as conn:
                conn.execute("INSERT INTO networks (id, name, record) VALUES (?, ?, ?) "
                             "ON CONFLICT(id) DO UPDATE SET name = excluded.name, record = excluded.record",
                             (n.id, n.name, json.dumps(asdict(n))))
        except sqlite3.IntegrityError:
            raise errors.Conflict(f"network with name {n.name} already exists") from None
        self._by_id[n.id] = n

    def delete(self, nid: str) -> None:
        with self.db.tx() as conn:
            conn.execute("DELETE FROM networks WHERE id = ?", (nid,))
        self._by_id.pop(nid, None)
