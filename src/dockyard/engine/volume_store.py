"""Volume records: in memory while the daemon runs, persisted in SQLite on every change."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from dockyard import errors
from dockyard.store.db import Database

__all__ = ["Volume", "VolumeStore", "ANONYMOUS_LABEL"]

ANONYMOUS_LABEL = "com.docker.volume.anonymous"


@dataclass
class Volume:
    name: str
    driver: str
    created: float                          # seconds since the epoch
    labels: dict[str, str] | None = None    # None and {} differ on the wire (null vs {}), as in Docker
    options: dict[str, str] | None = None   # the driver options it was created with

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in (self.labels or {})


class VolumeStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._by_name: dict[str, Volume] = {}
        for row in db.query("SELECT name, driver, record FROM volumes"):
            rec = json.loads(row["record"])
            self._by_name[row["name"]] = Volume(name=row["name"], driver=row["driver"], **rec)

    def all(self) -> list[Volume]:
        return list(self._by_name.values())

    def find(self, name: str) -> Volume | None:
        return self._by_name.get(name)

    def get(self, name: str) -> Volume:
        v = self._by_name.get(name)
        if v is None:
            raise errors.NotFound(f"get {name}: no such volume")
        return v

    def save(self, v: Volume) -> None:
        rec = {k: val for k, val in asdict(v).items() if k not in ("name", "driver")}
        with self.db.tx() as conn:
            conn.execute("INSERT INTO volumes (name, driver, record) VALUES (?, ?, ?) "
                         "ON CONFLICT(name) DO UPDATE SET driver = excluded.driver, record = excluded.record",
                         (v.name, v.driver, json.dumps(rec)))
        self._by_name[v.name] = v

    def delete(self, name: str) -> None:
        with self.db.tx() as conn:
            conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
        self._by_name.pop(name, None)
