"""SQLite metadata store: WAL mode, numbered migrations, one connection per thread.

Every multi-row change goes through `Database.tx()`, so a crash never leaves a
half-written record. Rows hold the facts that need indexes or uniqueness
(ids, names, tags); the rest of a record is a JSON document in one column.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Database"]

# Append only: a migration, once released, is never edited.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE images (
        id TEXT PRIMARY KEY,              -- sha256:<config digest>
        manifest_digest TEXT,             -- sha256 of the manifest we store for it
        top_chain_id TEXT,                -- chain id of its top layer, NULL for no layers
        size INTEGER NOT NULL DEFAULT 0,  -- sum of its uncompressed layer sizes
        created TEXT NOT NULL,            -- from the image config
        added_at REAL NOT NULL            -- when this daemon stored it
    );
    CREATE TABLE tags (
        reference TEXT PRIMARY KEY,       -- normalised: docker.io/library/busybox:latest
        image_id TEXT NOT NULL REFERENCES images(id)
    );
    CREATE INDEX tags_image ON tags(image_id);
    CREATE TABLE snapshots (
        chain_id TEXT PRIMARY KEY,        -- sha256:<chain id>
        parent TEXT,                      -- chain id of the layer below, NULL at the bottom
        diff_id TEXT NOT NULL,            -- sha256 of the uncompressed layer tar
        blob_digest TEXT NOT NULL,        -- the stored layer blob it was unpacked from
        size INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,        -- without the leading slash
        image_id TEXT NOT NULL,
        created REAL NOT NULL,
        record TEXT NOT NULL              -- JSON: config, host config, state
    );
    CREATE INDEX containers_image ON containers(image_id);
    """,
    # 2: image parents (build), last tag time (inspect Metadata), and the layer stacks
    # that containers of force-removed images still need (engine/images.py).
    """
    ALTER TABLE images ADD COLUMN parent TEXT NOT NULL DEFAULT '';
    ALTER TABLE images ADD COLUMN last_tag_time REAL;
    CREATE TABLE snapshot_holds (
        holder TEXT PRIMARY KEY,          -- a container id
        image_id TEXT NOT NULL,           -- the removed image it was created from
        top_chain_id TEXT                 -- that image's top layer, NULL for no layers
    );
    """,
    # 3: the build cache looks up an image's children (build/cache.py).
    """
    CREATE INDEX images_parent ON images(parent);
    """,
    # 4: networks (engine/network_store.py); endpoints live in their containers' records.
    """
    CREATE TABLE networks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        record TEXT NOT NULL              -- JSON: driver, IPAM, options, labels
    );
    """,
    # 5: named volumes (engine/volume_store.py); which containers use one is read from their records.
    """
    CREATE TABLE volumes (
        name TEXT PRIMARY KEY,
        driver TEXT NOT NULL,
        record TEXT NOT NULL              -- JSON: created, labels, driver options
    );
    """,
]


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._migrate()

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        return self.connection().execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        return self.connection().execute(sql, params).fetchone()

    def _migrate(self) -> None:
        conn = self.connection()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
