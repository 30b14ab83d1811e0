"""Container records: kept in memory for speed, persisted in SQLite on every change.

The daemon is the only writer, so the in-memory index is authoritative while
it runs; SQLite makes each change durable and atomic (a crash mid-change
leaves the previous record).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

from dockyard import errors
from dockyard.engine.state import ContainerState
from dockyard.store.db import Database

__all__ = ["Container", "ContainerStore"]


@dataclass
class Container:
    id: str
    name: str                   # without the leading slash
    created: str                # RFC3339Nano
    created_ts: float
    image_id: str
    config: dict                # Docker's container Config, merged with the image's defaults
    host_config: dict           # Docker's HostConfig as given at create (normalised)
    state: ContainerState = field(default_factory=ContainerState)
    path: str = ""
    args: list[str] = field(default_factory=list)
    restart_count: int = 0
    network_settings: dict = field(default_factory=dict)
    # Docker's HasBeenManuallyStopped: stop/kill by hand, so `unless-stopped` stays down.
    manually_stopped: bool = False
    health: dict | None = None  # State.Health: {"Status", "FailingStreak", "Log"}
    # network id → {"veth": host end, "ifname": name inside}: what a running container is plugged with
    endpoints: dict = field(default_factory=dict)
    # Docker's MountPoints: binds, volumes and tmpfs mounts resolved at create (volume/mounts.py records)
    mount_points: list = field(default_factory=list)
    # legacy links (default bridge): [{"Alias": "/parent/alias", "Child": child id}] (engine/links.py)
    links: list = field(default_factory=list)

    def record(self) -> dict:
        return {
            "Created": self.created,
            "Config": self.config,
            "HostConfig": self.host_config,
            "State": self.state.to_json(),
            "Path": self.path,
            "Args": self.args,
            "RestartCount": self.restart_count,
            "NetworkSettings": self.network_settings,
            "HasBeenManuallyStopped": self.manually_stopped,
            "Health": self.health,
            "Endpoints": self.endpoints,
            "MountPoints": self.mount_points,
            "Links": self.links,
        }

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Container:
        rec = json.loads(row["record"])
        return cls(
            id=row["id"], name=row["name"], created=rec["Created"], created_ts=row["created"],
            image_id=row["image_id"], config=rec["Config"], host_config=rec["HostConfig"],
            state=ContainerState.from_json(rec["State"]), path=rec.get("Path", ""),
            args=rec.get("Args", []), restart_count=rec.get("RestartCount", 0),
            network_settings=rec.get("NetworkSettings", {}),
            manually_stopped=rec.get("HasBeenManuallyStopped", False), health=rec.get("Health"),
            endpoints=rec.get("Endpoints") or {},
            mount_points=rec.get("MountPoints") or [],
            links=rec.get("Links") or [],
        )


class ContainerStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._by_id: dict[str, Container] = {}
        for row in db.query("SELECT * FROM containers"):
            c = Container.from_row(row)
            self._by_id[c.id] = c

    def all(self) -> list[Container]:
        return list(self._by_id.values())

    def names(self) -> set[str]:
        return {c.name for c in self._by_id.values()}

    def by_id(self, cid: str) -> Container | None:
        """The container with this full id, or None (no prefix or name matching)."""
        return self._by_id.get(cid)

    def by_name(self, name: str) -> Container | None:
        for c in self._by_id.values():
            if c.name == name:
                return c
        return None

    def get(self, ref: str) -> Container:
        """By full id, name (with or without '/'), or unique id prefix — Docker's order."""
        if not ref:
            raise errors.NotFound("No such container: ")
        c = self._by_id.get(ref)
        if c is not None:
            return c
        c = self.by_name(ref.lstrip("/"))
        if c is not None:
            return c
        matches = [c for cid, c in self._by_id.items() if cid.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise errors.InvalidArgument(f"Multiple IDs found with provided prefix: {ref}")
        raise errors.NotFound(f"No such container: {ref}")

    def check_name_free(self, name: str) -> None:
        existing = self.by_name(name)
        if existing is not None:
            raise self._name_conflict(name, existing.id)

    def insert(self, c: Container) -> None:
        existing = self.by_name(c.name)
        if existing is not None:
            raise self._name_conflict(c.name, existing.id)
        try:
            with self.db.tx() as conn:
                conn.execute(
                    "INSERT INTO containers (id, name, image_id, created, record) VALUES (?, ?, ?, ?, ?)",
                    (c.id, c.name, c.image_id, c.created_ts, json.dumps(c.record())))
        except sqlite3.IntegrityError:
            raise self._name_conflict(c.name, "") from None
        self._by_id[c.id] = c

    def save(self, c: Container) -> None:
        with self.db.tx() as conn:
            conn.execute("UPDATE containers SET name = ?, record = ? WHERE id = ?",
                         (c.name, json.dumps(c.record()), c.id))

    def delete(self, cid: str) -> None:
        with self.db.tx() as conn:
            conn.execute("DELETE FROM containers WHERE id = ?", (cid,))
        self._by_id.pop(cid, None)

    def users_of_image(self, image_id: str) -> list[Container]:
        return [c for c in self._by_id.values() if c.image_id == image_id]

    @staticmethod
    def _name_conflict(name: str, cid: str) -> errors.Conflict:
        return errors.Conflict(
            f'Conflict. The container name "/{name}" is already in use by container "{cid}". '
            "You have to remove (or rename) that container to be able to reuse that name.")
