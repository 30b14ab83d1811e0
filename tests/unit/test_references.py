import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from dockyard.errors import InvalidArgument
from dockyard.store import references as refs
from dockyard.store.references import Reference

DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.mark.parametrize("given_, normalized, familiar", [
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    ("user/app:1", "docker.io/user/app:1", "user/app:1"),
    ("library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
    ("localhost:5000/a/b:tag", "localhost:5000/a/b:tag", "localhost:5000/a/b:tag"),
    ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
    ("127.0.0.1:5000/r/img", "127.0.0.1:5000/r/img:latest", "127.0.0.1:5000/r/img:latest"),
    ("host.io/x@" + DIGEST, "host.io/x@" + DIGEST, "host.io/x@" + DIGEST),
    ("busybox@" + DIGEST, "docker.io/library/busybox@" + DIGEST, "busybox@" + DIGEST),
    ("name:tag@" + DIGEST, "docker.io/library/name:tag@" + DIGEST, "name:tag@" + DIGEST),
    ("[::1]:5000/foo", "[::1]:5000/foo:latest", "[::1]:5000/foo:latest"),
    ("Foo.io/bar", "Foo.io/bar:latest", "Foo.io/bar:latest"),
    ("a__b/c--d.e_f:Tag_1.x-y", "docker.io/a__b/c--d.e_f:Tag_1.x-y", "a__b/c--d.e_f:Tag_1.x-y"),
])
def test_normalize_and_familiar(given_: str, normalized: str, familiar: str) -> None:
    assert refs.normalize(given_) == normalized
    assert refs.parse_normalized(normalized).with_default_tag().familiar == familiar
    assert refs.normalize(normalized) == normalized


def test_parts() -> None:
    r = refs.parse_normalized("localhost:5000/a/b:tag")
    assert (r.domain, r.path, r.tag, r.digest) == ("localhost:5000", "a/b", "tag", "")
    assert r.name == "localhost:5000/a/b"
    assert r.familiar_name == "localhost:5000/a/b"
    r = refs.parse_normalized("busybox")
    assert (r.domain, r.path, r.tag) == ("docker.io", "library/busybox", "")
    assert r.familiar_name == "busybox"
    assert r.familiar == "busybox"


def test_docker_ref_drops_tag_when_digested() -> None:
    r = refs.parse_normalized("name:tag@" + DIGEST)
    assert str(r.docker_ref()) == "docker.io/library/name@" + DIGEST
    assert str(refs.parse_normalized("name").docker_ref()) == "docker.io/library/name:latest"


@pytest.mark.parametrize("value, message", [
    ("", "invalid reference format"),
    ("Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"),
    ("user/App:1", "invalid reference format: repository name (user/App) must be lowercase"),
    ("busybox:", "invalid reference format"),
    (":tag", "invalid reference format"),
    ("busy box", "invalid reference format"),
    ("busybox:-tag", "invalid reference format"),
    ("busybox:" + "t" * 129, "invalid reference format"),
    ("a//b", "invalid reference format"),
    ("a/", "invalid reference format"),
    ("-a", "invalid reference format"),
    ("a-", "invalid reference format"),
    ("a@sha256:abc", "invalid reference format"),
    ("a@sha256:" + "a" * 40, "invalid checksum digest length"),
    ("a@md5:" + "a" * 32, "unsupported digest algorithm"),
    ("0123456789abcdef" * 4,
     "invalid repository name (" + "0123456789abcdef" * 4 + "), cannot specify 64-byte hexadecimal strings"),
    ("a" * 256, "repository name must not be more than 255 characters"),
])
def test_invalid(value: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        refs.parse_normalized(value)
    assert str(exc.value) == message


def test_parse_without_normalisation() -> None:
    with pytest.raises(InvalidArgument, match="^repository name must have at least one component$"):
        refs.parse("")
    with pytest.raises(InvalidArgument, match="^repository name must be lowercase$"):
        refs.parse("example.com/Foo")


def test_parse_any() -> None:
    hexid = "ab" * 32
    assert refs.parse_any(hexid) == "sha256:" + hexid
    assert refs.parse_any("sha256:" + hexid) == "sha256:" + hexid
    assert isinstance(refs.parse_any("abc123"), Reference)
    assert str(refs.parse_any("sha256:abc")) == "docker.io/library/sha256:abc"


def test_ids() -> None:
    hexid = "ab" * 32
    assert refs.is_full_id(hexid) and refs.is_full_id("sha256:" + hexid)
    assert not refs.is_full_id(hexid[:12]) and not refs.is_full_id("busybox")
    assert refs.is_id_prefix("ab12") and refs.is_id_prefix("sha256:ab") and refs.is_id_prefix(hexid)
    assert not refs.is_id_prefix("busybox") and not refs.is_id_prefix("AB12") and not refs.is_id_prefix("")


def test_repo_tag_reference() -> None:
    assert str(refs.repo_tag_reference("busybox", None)) == "docker.io/library/busybox:latest"
    assert str(refs.repo_tag_reference("busybox", "1")) == "docker.io/library/busybox:1"
    assert str(refs.repo_tag_reference("busybox:2", "3")) == "docker.io/library/busybox:3"
    with pytest.raises(InvalidArgument, match="^invalid tag format$"):
        refs.repo_tag_reference("busybox", "bad tag")
    with pytest.raises(InvalidArgument, match="cannot import digest reference"):
        refs.repo_tag_reference("busybox@" + DIGEST, None)
    with pytest.raises(InvalidArgument, match="ambiguous tag"):
        refs.repo_tag_reference("sha256", None)


@pytest.mark.parametrize("pattern, ref, expected", [
    ("busybox", "busybox:latest", True),
    ("busybox:*", "busybox:latest", True),
    ("busybox:l*", "busybox:1", False),
    ("user/*", "user/app:1", True),
    ("*", "user/app:1", False),
    ("*/*", "user/app:1", True),
    ("user/ap?", "user/app:1", True),
    ("user/[a-c]pp:1", "user/app:1", True),
    ("user/[^a]pp", "user/app:1", False),
    ("localhost:5000/a/*", "localhost:5000/a/b:tag", True),
])
def test_familiar_match(pattern: str, ref: str, expected: bool) -> None:
    assert refs.familiar_match(pattern, refs.parse_normalized(ref)) is expected


def test_familiar_match_bad_pattern() -> None:
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        refs.familiar_match("a[", refs.parse_normalized("a"))


_component = st.from_regex(r"[a-z0-9]+(?:[._-][a-z0-9]+)?", fullmatch=True)
_names = st.builds(lambda parts: "/".join(parts), st.lists(_component, min_size=1, max_size=3))
_domains = st.sampled_from(["", "localhost/", "localhost:5000/", "example.com/", "docker.io/",
                            "index.docker.io/", "10.0.0.1:443/"])
_tags = st.one_of(st.just(""), st.from_regex(r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True))
_digests = st.one_of(st.just(""), st.just("@" + DIGEST))


@given(st.text(max_size=80))
def test_never_crashes_and_is_idempotent(value: str) -> None:
    try:
        normalized = refs.normalize(value)
    except InvalidArgument:
        return
    assert refs.normalize(normalized) == normalized
    if _familiar_is_unambiguous(normalized):
        assert refs.normalize(refs.familiar(normalized)) == normalized


def _familiar_is_unambiguous(normalized: str) -> bool:
    # As in Docker, "docker.io/0.0/x" shows as "0.0/x", which then reads as a registry.
    first = refs.parse_normalized(normalized).familiar_name.split("/")[0]
    return "/" not in refs.parse_normalized(normalized).familiar_name or not (
        "." in first or ":" in first or first == "localhost")


@given(_domains, _names, _tags, _digests)
def test_valid_references_roundtrip(domain: str, name: str, tag: str, digest: str) -> None:
    value = domain + name + tag + digest
    assume(len(value) < 200)
    normalized = refs.normalize(value)
    assert refs.normalize(normalized) == normalized
    parsed = refs.parse_normalized(normalized)
    if _familiar_is_unambiguous(normalized):
        assert refs.normalize(parsed.familiar) == normalized
    assert parsed.tag == (tag[1:] if tag else ("" if digest else "latest"))
    assert parsed.digest == digest[1:]
