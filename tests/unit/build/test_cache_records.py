"""build/cache_records.py: record IDs, prune filters in moby's words, and BuildKit's choice of
what a prune removes (in use never, until, selectors, space limits least-valuable first)."""

from __future__ import annotations

import re

import pytest

from dockyard.build.cache_records import (
    CacheRecord,
    PruneOptions,
    RecordFilter,
    keep_bytes,
    plan_prune,
    record_id,
)
from dockyard.engine.images_filters import get_timestamp
from dockyard.errors import InvalidArgument

S = 1_000_000_000
NOW = 1_800_000_000


def rec(rid: str, *, size: int = 100, used: int | None = NOW - 3600, count: int = 1, type_: str = "source.local",
        in_use: bool = False, shared: bool = False, desc: str = "local source for context") -> CacheRecord:
    return CacheRecord(rid, type_, desc, size, (NOW - 7200) * S, used * S if used is not None else None, count,
                       in_use=in_use, shared=shared)


def parse(filters: dict[str, list[str]]) -> RecordFilter:
    return RecordFilter.parse(filters, lambda v: get_timestamp(v, now=NOW))


def ids(records: list[CacheRecord]) -> list[str]:
    return [r.id for r in records]


def test_record_id_is_stable_and_shaped_like_buildkits() -> None:
    a = record_id("k1")
    assert a == record_id("k1") and a != record_id("k2")
    assert re.fullmatch(r"[0-9a-z]{25}", a)


@pytest.mark.parametrize(("filters", "message"), [
    ({"bogus": ["1"]}, "invalid filter 'bogus'"),
    ({"mutable": []}, "invalid filter 'mutable'"),          # BuildKit's, not exposed by moby
    ({"type": ["a", "b"]}, "filters expect only one value"),
    ({"until": ["1h", "2h"]}, "filters expect only one value"),
    ({"until": ["1h"], "unused-for": ["2h"]}, 'conflicting filters: "until" and "unused-for"'),
    ({"id": ["("]}, "failed to parse prune filters [id~=(]"),
])
def test_bad_filters_are_refused_in_mobys_words(filters, message) -> None:
    with pytest.raises(InvalidArgument) as e:
        parse(filters)
    assert e.value.message.startswith(message)


def test_a_bad_until_names_the_filter() -> None:
    with pytest.raises(InvalidArgument) as e:
        parse({"unused-for": ["yesterday"]})
    assert e.value.message.startswith("\"unused-for\" filter expects a duration (e.g., '24h') or a timestamp: ")


def test_in_use_records_are_never_pruned_and_all_decides_internal_and_shared() -> None:
    records = [rec("busy", in_use=True), rec("ctx"), rec("int", type_="internal"), rec("fe", type_="frontend"),
               rec("sh", shared=True), rec("reg", type_="regular")]
    assert ids(plan_prune(records, PruneOptions())) == ["ctx", "reg"]
    assert ids(plan_prune(records, PruneOptions(all=True))) == ["ctx", "int", "fe", "sh", "reg"]


def test_until_keeps_what_was_used_after_the_cut_off() -> None:
    records = [rec("old", used=NOW - 3 * 86400), rec("new", used=NOW - 60), rec("never", used=None)]
    assert ids(plan_prune(records, PruneOptions(filter=parse({"until": ["24h"]})))) == ["old", "never"]
    assert ids(plan_prune(records, PruneOptions(filter=parse({"unused-for": ["10s"]})))) == ["old", "new", "never"]
    at = str(NOW - 86400)   # unix seconds work too
    assert ids(plan_prune(records, PruneOptions(filter=parse({"until": [at]})))) == ["old", "never"]


def test_selectors_all_have_to_match() -> None:
    records = [rec("abc123"), rec("abd456", type_="regular", desc="mount / from exec"), rec("xyz", shared=True)]
    opts = PruneOptions(all=True)

    def pick(filters: dict[str, list[str]]) -> list[str]:
        return ids(plan_prune(records, PruneOptions(all=opts.all, filter=parse(filters))))

    assert pick({"id": ["^ab"]}) == ["abc123", "abd456"]          # a regular expression, as BuildKit's id~=
    assert pick({"id": ["c1"]}) == ["abc123"]
    assert pick({"type": ["regular"]}) == ["abd456"]
    assert pick({"description": ["mount / from exec"]}) == ["abd456"]
    assert pick({"description": ["mount"]}) == []                # equality, not a prefix
    assert pick({"id": ["^ab"], "type": ["source.local"]}) == ["abc123"]
    assert pick({"shared": []}) == ["xyz"] and pick({"private": []}) == ["abc123", "abd456"]
    assert pick({"private": [""]}) == ["abc123", "abd456"]
    assert pick({"private": ["true"]}) == []                     # BuildKit compares the flag's empty text
    assert pick({"inuse": []}) == []                             # in use: never pruned anyway
    assert pick({"parent": ["abc123"]}) == []                    # none of these has parents
    assert pick({"label": ["a=b"], "label!": ["c"]}) == ["abc123", "abd456", "xyz"]   # accepted, ignored (moby)


def test_keep_bytes_follows_buildkit() -> None:
    assert keep_bytes(1000, 0, PruneOptions()) == 0
    assert keep_bytes(1000, 0, PruneOptions(reserved_space=300)) == 300
    assert keep_bytes(1000, 0, PruneOptions(max_used_space=400, reserved_space=300)) == 400
    assert keep_bytes(1000, 0, PruneOptions(max_used_space=200, reserved_space=300)) == 300
    # 250 bytes short of the free space asked for: keep what the total minus them leaves
    assert keep_bytes(1000, 750, PruneOptions(min_free_space=1000)) == 750
    assert keep_bytes(1000, 750, PruneOptions(min_free_space=1000, max_used_space=600)) == 600
    assert keep_bytes(1000, 5000, PruneOptions(min_free_space=1000)) == 1000   # enough free already


def test_space_limits_remove_least_recently_and_least_often_used_first() -> None:
    records = [rec("a", size=100, used=NOW - 10, count=5), rec("b", size=100, used=NOW - 1000, count=1),
               rec("c", size=100, used=NOW - 500, count=2), rec("busy", size=100, in_use=True)]
    # 400 in all, in-use bytes included; keep below 250: b then c go (oldest, rarest), a stays
    assert ids(plan_prune(records, PruneOptions(reserved_space=250))) == ["b", "c"]
    assert ids(plan_prune(records, PruneOptions(reserved_space=401))) == []
    # keeping 400 when 400 are used still frees one: BuildKit prunes while the total is >= the limit
    assert ids(plan_prune(records, PruneOptions(max_used_space=400))) == ["b"]
    assert ids(plan_prune(records, PruneOptions(min_free_space=10_000), free=9_850)) == ["b", "c"]
    assert ids(plan_prune(records, PruneOptions(reserved_space=1, filter=parse({"id": ["^[ac]$"]})))) == ["c", "a"]
