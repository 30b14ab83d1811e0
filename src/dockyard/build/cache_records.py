"""Build-cache records as BuildKit reports them, and which of them a prune removes.

The builder's cache that is not an image (today: the unpacked build contexts kept for
the next build, see context_cache.py) is shown to clients as BuildKit's cache records
(`GET /system/df` BuildCache, `POST /build/prune`). This module is pure: it decides, from
a snapshot of records, what a prune with the given options and filters takes, following
BuildKit's cache manager:

* records in use are never pruned; without `all`, neither are "internal" and "frontend"
  records nor shared ones;
* `until` keeps records last used after that time;
* the other filters are BuildKit selectors, all of which must match: `id` is a regular
  expression (`id~=v`), `type`, `description` and `parent` compare for equality, and the
  flags `inuse`, `shared`, `private` match a record that has the flag (BuildKit compares a
  given value with the flag's empty text, so `inuse=true` matches nothing); `label` and
  `label!` are accepted and ignored, as moby does;
* with a space limit (`reserved-space`/`keep-storage`, `max-used-space`,
  `min-free-space`), records go one at a time, least recently and least often used first,
  while the cache still takes at least what may be kept (BuildKit's calculateKeepBytes).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument

__all__ = ["CacheRecord", "PruneOptions", "RecordFilter", "record_id", "plan_prune", "keep_bytes",
           "PRUNE_FILTERS", "SOURCE_LOCAL"]

SOURCE_LOCAL = "source.local"
_NOT_BY_DEFAULT = ("internal", "frontend")      # only `all` prunes these (BuildKit)
_FLAGS = {"inuse": lambda r: r.in_use, "shared": lambda r: r.shared, "private": lambda r: not r.shared}
_FIELDS = ("id", "parent", "type", "description", *_FLAGS)
PRUNE_FILTERS = frozenset({"until", "unused-for", "label", "label!", *_FIELDS})
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def record_id(key: str) -> str:
    """A stable record ID for a cache key: 25 base-36 characters, shaped like BuildKit's."""
    n = int.from_bytes(hashlib.sha256(key.encode()).digest()[:16], "big")
    out = []
    for _ in range(25):
        n, r = divmod(n, 36)
        out.append(_BASE36[r])
    return "".join(out)


@dataclass(frozen=True)
class CacheRecord:
    id: str
    type: str
    description: str
    size: int                         # bytes on disk
    created_ns: int
    last_used_ns: int | None          # None until a first use ended
    usage_count: int
    in_use: bool = False
    shared: bool = False
    parents: tuple[str, ...] = ()


@dataclass(frozen=True)
class RecordFilter:
    """The parsed `filters` of a prune: selectors and the `until` cut-off (seconds)."""

    until: float | None = None
    selectors: tuple[Callable[[CacheRecord], bool], ...] = ()

    @classmethod
    def parse(cls, filters: Mapping[str, Sequence[str]], parse_time: Callable[[str], float]) -> RecordFilter:
        """moby's validation, in moby's words; `parse_time` reads an `until` value (a duration,
        unix seconds or a date) into seconds since the epoch, raising InvalidArgument."""
        for key in filters:
            if key not in PRUNE_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
        until_values, unused_for = list(filters.get("until") or []), list(filters.get("unused-for") or [])
        if until_values and unused_for:
            raise InvalidArgument('conflicting filters: "until" and "unused-for"')
        name = "unused-for" if unused_for else "until"
        values = until_values + unused_for
        if len(values) > 1:
            raise InvalidArgument("filters expect only one value")
        until = None
        if values:
            try:
                until = parse_time(values[0])
            except InvalidArgument as e:
                raise InvalidArgument(f"\"{name}\" filter expects a duration (e.g., '24h') or a timestamp: "
                                      f"{e.message}") from None
        selectors = []
        for key in _FIELDS:
            if key not in filters:
                continue
            given = list(filters[key])
            if len(given) > 1:
                raise InvalidArgument("filters expect only one value")
            selectors.append(_selector(key, given[0] if given else None))
        return cls(until, tuple(selectors))

    def matches(self, record: CacheRecord) -> bool:
        return all(s(record) for s in self.selectors)


def _selector(key: str, value: str | None) -> Callable[[CacheRecord], bool]:
    if key in _FLAGS:
        has = _FLAGS[key]
        return lambda r: has(r) and (value is None or value == "")
    if value is None:   # a bare field: the record has one
        return {"id": lambda r: bool(r.id), "parent": lambda r: bool(r.parents),
                "type": lambda r: bool(r.type), "description": lambda r: bool(r.description)}[key]
    if key == "id":
        try:
            pattern = re.compile(value)
        except re.error as e:
            raise InvalidArgument(f"failed to parse prune filters [id~={value}]: {e}") from None
        return lambda r: pattern.search(r.id) is not None
    if key == "parent":
        return lambda r: value in r.parents
    if key == "type":
        return lambda r: r.type == value
    return lambda r: r.description == value


@dataclass(frozen=True)
class PruneOptions:
    all: bool = False
    reserved_space: int = 0           # keep at least this much (keep-storage before API 1.48)
    max_used_space: int = 0           # keep at most this much
    min_free_space: int = 0           # free the disk down to this much
    filter: RecordFilter = field(default_factory=RecordFilter)

    @property
    def limits_space(self) -> bool:
        return bool(self.reserved_space or self.max_used_space or self.min_free_space)


def keep_bytes(total: int, free: int, opts: PruneOptions) -> int:
    """How many bytes of cache may stay (0: no limit), as BuildKit's calculateKeepBytes."""
    if not opts.limits_space:
        return 0
    keep = opts.max_used_space
    excess = opts.min_free_space - free
    if excess > 0:
        keep = total - excess if keep == 0 else min(keep, total - excess)
    elif opts.min_free_space and keep == 0:
        keep = total
    return max(keep, opts.reserved_space)


def _prunable(record: CacheRecord, opts: PruneOptions) -> bool:
    if record.in_use:
        return False
    if not opts.all and (record.type in _NOT_BY_DEFAULT or record.shared):
        return False
    until = opts.filter.until
    if until is not None and record.last_used_ns is not None and record.last_used_ns / 1e9 > until:
        return False
    return opts.filter.matches(record)


def _least_valuable_first(records: list[CacheRecord]) -> list[CacheRecord]:
    """BuildKit's sortDeleteRecords: rank by last use and by use count, oldest and rarest first."""
    by_time = sorted(records, key=lambda r: (r.last_used_ns is not None, r.last_used_ns or 0, r.id))
    time_rank: dict[str, float] = {}
    rank, latest = 1.0, 0
    for r in by_time:
        if r.last_used_ns is not None and r.last_used_ns > latest:
            latest = r.last_used_ns
            rank += 1
        time_rank[r.id] = rank
    max_time = rank
    count_rank: dict[str, float] = {}
    rank, count = 1.0, 0
    for r in sorted(records, key=lambda r: (r.usage_count, r.id)):
        if r.usage_count != count:
            count = r.usage_count
            rank += 1
        count_rank[r.id] = rank
    max_count = rank
    return sorted(records, key=lambda r: (time_rank[r.id] / max_time + count_rank[r.id] / max_count, r.id))


def plan_prune(records: Sequence[CacheRecord], opts: PruneOptions, *, free: int = 0) -> list[CacheRecord]:
    """The records a prune removes, in the order it removes them. `free` is the free space
    of the cache's filesystem (read only when `min_free_space` is set)."""
    candidates = [r for r in records if _prunable(r, opts)]
    if not opts.limits_space:
        return candidates
    total = sum(r.size for r in records if not r.shared)
    keep = keep_bytes(total, free, opts)
    chosen: list[CacheRecord] = []
    while candidates and total >= keep:
        victim = _least_valuable_first(candidates)[0]
        candidates.remove(victim)
        chosen.append(victim)
        total -= victim.size
    return chosen
