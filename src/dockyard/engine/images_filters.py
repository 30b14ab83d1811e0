"""Filter arguments for image list/prune, with moby's validation and wording; `docker images`."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from dockyard.engine.images_changes import parse_duration
from dockyard.engine.images_model import ImageRecord
from dockyard.errors import InvalidArgument
from dockyard.oci.image_spec import parse_rfc3339
from dockyard.store import references

if TYPE_CHECKING:
    from dockyard.engine.images import ImageService

__all__ = ["Filters", "get_timestamp", "list_images", "LIST_FILTERS", "PRUNE_FILTERS"]

LIST_FILTERS = frozenset({"dangling", "label", "before", "since", "reference", "until"})
PRUNE_FILTERS = frozenset({"dangling", "label", "label!", "until"})


class Filters:
    """`{"label": ["a=b"], "dangling": ["true"]}` as the API layer decodes Docker's filters JSON."""

    def __init__(self, raw: Mapping[str, Iterable[str]] | None) -> None:
        self.args: dict[str, list[str]] = {k: list(v) for k, v in (raw or {}).items()}

    def validate(self, accepted: Iterable[str]) -> None:
        allowed = set(accepted)
        for key in self.args:
            if key not in allowed:
                raise InvalidArgument(f"invalid filter '{key}'")

    def contains(self, key: str) -> bool:
        return key in self.args

    def get(self, key: str) -> list[str]:
        return self.args.get(key, [])

    def bool_or_default(self, key: str, default: bool) -> bool:
        """filters.GetBoolOrDefault: all values must agree on true/1 or false/0."""
        values = self.get(key)
        if not values:
            return default
        truthy = {v.lower() in ("true", "1") for v in values}
        if any(v.lower() not in ("true", "1", "false", "0") for v in values) or len(truthy) > 1:
            raise InvalidArgument(f"invalid filter '{key}={_go_list(values)}'")
        return truthy.pop()

    def match_kv_list(self, key: str, labels: Mapping[str, str] | None) -> bool:
        """Every `key` value ("k" or "k=v") must be satisfied by `labels`."""
        values = self.get(key)
        if not values:
            return True
        labels = labels or {}
        for value in values:
            name, eq, want = value.partition("=")
            if name not in labels:
                return False
            if eq and labels[name] != want:
                return False
        return True


def _go_list(values: list[str]) -> str:
    return "[" + " ".join(values) + "]"


_NUMERIC_RE = re.compile(r"-?\d+(?:\.\d+)?")
_DATE_RE = re.compile(r"\d{4}-\d\d-\d\d")
_LOCAL_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d(?::\d\d(?::\d\d(?:\.\d+)?)?)?")


def get_timestamp(value: str, now: float | None = None) -> float:
    """moby's timetypes.GetTimestamp: a Go duration ("10m", meaning that long ago), unix
    seconds ("1700000000.5"), or an RFC 3339 date/time. Returns unix seconds."""
    now = time.time() if now is None else now
    if not value:
        raise InvalidArgument("invalid timestamp: empty")
    if _NUMERIC_RE.fullmatch(value):
        return float(value)
    try:
        return now - parse_duration(value) / 1e9
    except InvalidArgument:
        pass
    if _DATE_RE.fullmatch(value):
        value += "T00:00:00Z"
    elif _LOCAL_RE.fullmatch(value):
        parts = value.split("T")[1].split(":")
        value += ":00" * (3 - len(parts)) + "Z"
    ts = parse_rfc3339(value)
    if ts == 0.0 and not value.startswith("1970-01-01"):
        raise InvalidArgument(f'failed to parse value as time or duration: "{value}"')
    return ts


def list_images(svc: ImageService, *, all: bool, filters: Mapping[str, Iterable[str]] | None) -> list[ImageRecord]:
    """moby's daemon/images/images.go Images(): newest first; untagged images with children
    are hidden unless `all`; a reference filter narrows each image's tags to the matching ones."""
    f = Filters(filters)
    f.validate(LIST_FILTERS)
    dangling_only = f.bool_or_default("dangling", False) if f.contains("dangling") else False
    before = max((parse_rfc3339(svc.resolve(v).created) for v in f.get("before")), default=None)
    since = max((parse_rfc3339(svc.resolve(v).created) for v in f.get("since")), default=None)
    until = min((get_timestamp(v) for v in f.get("until")), default=None)
    rows = svc.db.query("SELECT * FROM images")
    has_children = {r["parent"] for r in rows if r["parent"]}
    out: list[tuple[float, ImageRecord]] = []
    for row in rows:
        image_id = row["id"]
        if dangling_only and image_id in has_children:
            continue
        created = parse_rfc3339(row["created"])
        if (before is not None and created >= before) or (since is not None and created <= since) \
                or (until is not None and created > until):
            continue
        refs = svc._refs(image_id)
        if dangling_only and any(r.tag for r in refs):
            continue
        if f.contains("reference"):
            refs = [r for r in refs if any(references.familiar_match(p, r) for p in f.get("reference"))]
        if not refs and ((not all and image_id in has_children)
                         or (f.contains("dangling") and not dangling_only) or f.contains("reference")):
            continue
        record = svc._record(row, refs)
        if f.contains("label") and not f.match_kv_list("label", (record.config.get("config") or {}).get("Labels")):
            continue
        out.append((created, record))
    out.sort(key=lambda item: item[0], reverse=True)
    return [record for _, record in out]
