"""The build cache on the wire and in the CLI: BuildCache records per API version, the
/build/prune query, and `system df -v`'s build-cache rows as docker 28.2 prints them."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from dockyard.api import wire
from dockyard.api.handlers.build import prune_options_from_query
from dockyard.api.http import Request
from dockyard.build.cache_records import CacheRecord
from dockyard.cli.systemdf import CacheRow, sort_build_cache
from dockyard.engine.diskusage import DiskUsage
from dockyard.errors import InvalidArgument

S = 1_000_000_000
REC = CacheRecord("4fcen8s7xq5imlm0y55lg3088", "source.local", "local source for context", 24576,
                  1_800_000_000 * S + 500, 1_800_000_060 * S, 3)


def test_record_shapes_before_and_from_api_1_42() -> None:
    assert wire.build_cache_record(REC) == {
        "ID": "4fcen8s7xq5imlm0y55lg3088", "Parents": None, "Type": "source.local",
        "Description": "local source for context", "InUse": False, "Shared": False, "Size": 24576,
        "CreatedAt": "2027-01-15T08:00:00.0000005Z", "LastUsedAt": "2027-01-15T08:01:00Z", "UsageCount": 3}
    old = wire.build_cache_record(CacheRecord("x", "regular", "", 1, 0, None, 0, parents=("p1", "p2")), parents=False)
    assert old["Parent"] == "p1" and "Parents" not in old and old["LastUsedAt"] is None


def test_disk_usage_has_builder_size_only_before_1_42() -> None:
    du = DiskUsage(build_cache=[REC, REC])
    new = wire.disk_usage(du, image_name=str)
    assert "BuilderSize" not in new and len(new["BuildCache"]) == 2
    assert wire.disk_usage(du, image_name=str, api_1_42=False)["BuilderSize"] == 2 * 24576
    assert "BuilderSize" not in wire.disk_usage(DiskUsage(build_cache=[]), image_name=str, api_1_42=False)
    assert wire.disk_usage(DiskUsage(), image_name=str)["BuildCache"] is None      # not asked for
    assert wire.build_prune_report([], 0) == {"CachesDeleted": None, "SpaceReclaimed": 0}


def request(query: str, version: str = "1.50") -> Request:
    return Request.build("POST", f"/build/prune?{query}", {}, version, "/build/prune", None)


def test_prune_query_names_the_limits_as_the_api_version_does() -> None:
    o = prune_options_from_query(request("all=1&keep-storage=100&max-used-space=500&min-free-space=7"))
    assert (o.all, o.reserved_space, o.max_used_space, o.min_free_space) == (True, 100, 500, 7)
    o = prune_options_from_query(request("reserved-space=200&keep-storage=100"))
    assert o.reserved_space == 200 and not o.all
    o = prune_options_from_query(request("reserved-space=200&keep-storage=100&max-used-space=5", "1.47"))
    assert (o.reserved_space, o.max_used_space) == (100, 0)        # only keep-storage before 1.48
    with pytest.raises(InvalidArgument) as e:
        prune_options_from_query(request("keep-storage=1GB"))
    assert e.value.message == ('keep-storage is in bytes and expects an integer, got 1GB: '
                               'strconv.Atoi: parsing "1GB": invalid syntax')


def test_prune_query_filters() -> None:
    o = prune_options_from_query(request("filters=" + quote(json.dumps({"type": {"source.local": True}}))))
    assert o.filter.matches(REC)
    with pytest.raises(InvalidArgument, match="invalid filter 'dangling'"):
        prune_options_from_query(request("filters=" + quote(json.dumps({"dangling": ["true"]}))))


def test_cache_rows_as_docker_prints_them() -> None:
    now = 1_800_000_000 + 7200
    b = wire.build_cache_record(REC)
    row = CacheRow(b, now=now)
    assert (row.ID(), row.CacheType(), row.Size(), row.CreatedSince(), row.LastUsedSince(), row.UsageCount(),
            row.Shared(), row.InUse()) == ("4fcen8s7xq5i", "source.local", "24.6kB", "2 hours ago", "2 hours ago",
                                           "3", "false", "false")
    assert CacheRow(dict(b, InUse=True), trunc=False, now=now).ID() == "4fcen8s7xq5imlm0y55lg3088*"
    assert row.CreatedAt() == "2027-01-15 08:00:00.0000005 +0000 UTC" and row.Parent() == ""
    fresh = CacheRow(dict(b, LastUsedAt=None), now=time.time())
    assert fresh.LastUsedSince() == "" and fresh.LastUsedAt() == ""


def test_cache_rows_sort_never_used_first_then_by_last_use() -> None:
    rows = [{"ID": "b", "LastUsedAt": "2027-01-15T08:01:00Z"}, {"ID": "c", "LastUsedAt": None},
            {"ID": "a", "LastUsedAt": "2027-01-15T08:01:00Z"}, {"ID": "d", "LastUsedAt": "2027-01-15T07:00:00.5Z"}]
    assert [r["ID"] for r in sort_build_cache(rows)] == ["c", "d", "a", "b"]
