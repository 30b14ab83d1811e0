"""VolumeService: `volume create/ls/inspect/rm/prune`, and the volumes containers mount.

Which containers use a volume is read from their records (their mount points), so it is
right after a restart with no bookkeeping of its own: a volume any container names —
running or not — is "in use" and cannot be removed, as in Docker. Errors carry moby's
wording: "get x: no such volume", "remove x: volume is in use - [ids]".
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

from dockyard import errors
from dockyard.engine.container_filters import label_match
from dockyard.engine.container_store import ContainerStore
from dockyard.engine.volume_store import ANONYMOUS_LABEL, Volume, VolumeStore
from dockyard.gostrconv import parse_bool
from dockyard.volume.local import DRIVER, LocalDriver

__all__ = ["VolumeService", "LIST_FILTERS", "PRUNE_FILTERS"]

log = logging.getLogger("dockyard.volumes")

LIST_FILTERS = {"dangling", "name", "driver", "label"}
PRUNE_FILTERS = {"label", "label!", "all"}


def _go_list(values: list[str]) -> str:
    return "[" + " ".join(values) + "]"


def _bool_filter(f: dict[str, list[str]], key: str) -> bool | None:
    """moby's GetBoolOrDefault: true/1 or false/0, anything else (or both) is refused."""
    values = f.get(key) or []
    if not values:
        return None
    yes = any(v in ("1", "true") for v in values)
    no = any(v in ("0", "false") for v in values)
    if yes == no:
        raise errors.InvalidArgument(f"invalid filter '{key}={_go_list(values)}'")
    return yes


def _parse_go_bool(key: str, text: str) -> bool:
    try:
        return parse_bool(text)
    except ValueError as e:
        raise errors.InvalidArgument(f"invalid filter '{key}': {e}") from None


def _name_match(wanted: list[str], name: str) -> bool:
    """filters.Match: the exact name, or any value read as a regular expression found in it."""
    for w in wanted:
        if w == name:
            return True
        try:
            if re.search(w, name):
                return True
        except re.error:
            continue
    return False


def _labels_match(labels: dict[str, str] | None, wanted: list[str]) -> bool:
    return all(label_match(labels or {}, w) for w in wanted) if labels else not wanted


class VolumeService:
    def __init__(self, store: VolumeStore, driver: LocalDriver, containers: ContainerStore,
                 emit: Callable[..., Any] | None = None) -> None:
        self.store = store
        self.driver = driver
        self.containers = containers
        self._emit = emit or (lambda *a, **k: None)
        self._reserved: dict[str, set[str]] = {}   # volume → ids of containers being created with it

    # ------------------------------------------------------------------ start
    def restore(self) -> None:
        """Finish interrupted removals; a data dir without a record is a volume (Docker's local
        driver lists directories)."""
        self.driver.sweep()
        for name in self.driver.names():
            if self.store.find(name) is None:
                log.info("adopting volume %s found on disk", name)
                self.store.save(Volume(name=name, driver=DRIVER, created=self.driver.created_at(name) or time.time()))

    # ------------------------------------------------------------------ lookup
    def get(self, name: str) -> Volume:
        return self.store.get(name)

    def mountpoint(self, v: Volume) -> str:
        return str(self.driver.data_path(v.name))

    def users(self, name: str) -> list[str]:
        """Ids of the containers (any state) whose mounts name this volume, and of those being
        created with it (a create fills its volumes before the container is recorded)."""
        recorded = [c.id for c in self.containers.all()
                    if any(mp.get("type") == "volume" and mp.get("name") == name for mp in c.mount_points)]
        return recorded + sorted(self._reserved.get(name, set()) - set(recorded))

    @contextlib.contextmanager
    def reserved(self, names: list[str], cid: str) -> Iterator[None]:
        """These volumes count as used by container `cid` meanwhile."""
        for name in names:
            self._reserved.setdefault(name, set()).add(cid)
        try:
            yield
        finally:
            for name in names:
                users = self._reserved.get(name, set())
                users.discard(cid)
                if not users:
                    self._reserved.pop(name, None)

    def list(self, f: dict[str, list[str]]) -> list[Volume]:
        dangling = _bool_filter(f, "dangling")
        out = []
        for v in sorted(self.store.all(), key=lambda v: v.created):
            if f.get("driver") and v.driver not in f["driver"]:
                continue
            if f.get("name") and not _name_match(f["name"], v.name):
                continue
            if f.get("label") and not _labels_match(v.labels, f["label"]):
                continue
            if dangling is not None and (not self.users(v.name)) != dangling:
                continue
            out.append(v)
        return out

    # ------------------------------------------------------------------ create / remove
    def create(self, name: str = "", driver: str = "", opts: dict[str, str] | None = None,
               labels: dict[str, str] | None = None) -> Volume:
        """A new volume, or the existing one of that name (as Docker: creating twice is no error).
        No name: an anonymous volume, a random name and the anonymous label."""
        if not name:
            name = secrets.token_hex(32)
            labels = {**(labels or {}), ANONYMOUS_LABEL: ""}
        driver = driver or DRIVER
        if driver != DRIVER:
            raise errors.NotFound(f'create {name}: error looking up volume plugin {driver}: plugin "{driver}" not found')
        existing = self.store.find(name)
        if existing is not None:
            return existing
        for key, value in list((opts or {}).items()) + list((labels or {}).items()):
            if not isinstance(key, str) or not isinstance(value, str):
                raise errors.InvalidArgument(f"create {name}: options and labels must be strings")
        try:
            self.driver.create(name, opts)
        except errors.DockyardError as e:
            raise type(e)(f"create {name}: {e.message}") from None
        v = Volume(name=name, driver=driver, created=time.time(), labels=labels, options=opts or None)
        try:
            self.store.save(v)
        except BaseException:
            self.driver.remove(name, opts)
            raise
        self._emit("volume", "create", name, driver=driver)
        return v

    def remove(self, name: str, force: bool = False) -> None:
        v = self.store.find(name)
        if v is None:
            if force:
                return
            raise errors.NotFound(f"get {name}: no such volume")
        users = self.users(name)
        if users:
            raise errors.Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
        try:
            self.driver.remove(name, v.options)
        except (OSError, errors.DockyardError) as e:
            if not force:
                raise errors.SystemError_(f"remove {name}: {e}") from None
            log.warning("removing volume %s: %s; forgetting it anyway", name, e)
        self.store.delete(name)
        self._emit("volume", "destroy", name, driver=v.driver)

    def prune(self, f: dict[str, list[str]]) -> tuple[list[str], int]:
        """Unused local volumes without driver options; only anonymous ones unless `all`."""
        all_ = f.get("all") or []
        if len(all_) > 1:
            raise errors.InvalidArgument(f"invalid filter 'all={_go_list(all_)}': only one value is expected")
        everything = bool(all_) and _parse_go_bool("all", all_[0])
        deleted, reclaimed = [], 0
        for v in self.store.all():
            if v.driver != DRIVER or v.options or self.users(v.name):
                continue
            if not everything and not v.anonymous:
                continue
            if f.get("label") and not _labels_match(v.labels, f["label"]):
                continue
            if f.get("label!") and _labels_match(v.labels, f["label!"]):
                continue
            size = self.driver.size(v.name)
            try:
                self.remove(v.name)
            except errors.DockyardError as e:
                log.warning("pruning volume %s: %s", v.name, e)
                continue
            deleted.append(v.name)
            reclaimed += size
        self._emit("volume", "prune", "", reclaimed=str(reclaimed))
        return deleted, reclaimed

    # ------------------------------------------------------------------ containers
    def mount(self, name: str, cid: str) -> str:
        v = self.store.get(name)
        try:
            return str(self.driver.mount(v.name, v.options, cid))
        except errors.DockyardError as e:
            raise errors.SystemError_(f"error while mounting volume '{self.mountpoint(v)}': {e.message}") from None

    def adopt(self, name: str, cid: str) -> None:
        """After a daemon restart: container `cid`, started before it, holds this volume's mount."""
        v = self.store.find(name)
        if v is not None:
            self.driver.adopt(v.name, v.options, cid)

    def unmount(self, name: str, cid: str) -> None:
        v = self.store.find(name)
        if v is not None:
            self.driver.unmount(v.name, v.options, cid)
