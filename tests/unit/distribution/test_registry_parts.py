"""Pure parts of the registry: names, digests, scopes, tokens, htpasswd, manifest parsing."""

from __future__ import annotations

import pytest

from dockyard.distribution.registry.auth import Access, TokenIssuer, load_htpasswd, parse_scope
from dockyard.distribution.registry.errors import RegistryError
from dockyard.distribution.registry.manifests import OCI_INDEX, accepted_types, parse_manifest
from dockyard.distribution.registry.names import check_name, parse_digest
from registry_harness import write_htpasswd


@pytest.mark.parametrize("name", ["a", "library/busybox", "a.b_c__d---e/f0", "x" * 255])
def test_good_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "A", "a/", "/a", "a..b", "a/../b", "_a", "a_", "a___b", "x" * 256])
def test_bad_names(name):
    with pytest.raises(RegistryError) as e:
        check_name(name)
    assert e.value.code == "NAME_INVALID"


def test_digests():
    assert str(parse_digest("sha256:" + "a" * 64)) == "sha256:" + "a" * 64
    assert parse_digest("sha512:" + "0" * 128).algorithm == "sha512"
    for bad in ("sha256:" + "a" * 63, "sha256:" + "G" * 64, "blake3:" + "a" * 64, "sha256", ""):
        with pytest.raises(RegistryError):
            parse_digest(bad)


def test_scope_parsing():
    assert parse_scope("repository:127.0.0.1:5000/a:pull,push registry:catalog:*") == [
        Access("repository", "127.0.0.1:5000/a", ("pull", "push")), Access("registry", "catalog", ("*",))]


def test_tokens_expire_and_bind_to_service():
    issuer = TokenIssuer("svc", secret=b"k" * 32, ttl=60)
    token = issuer.issue("alice", [Access("repository", "a", ("pull",))], now=1000)["token"]
    assert issuer.verify(token, now=1030)["access"][0]["name"] == "a"
    assert issuer.verify(token, now=1061) is None
    assert TokenIssuer("other", secret=b"k" * 32).verify(token, now=1030) is None
    assert TokenIssuer("svc", secret=b"x" * 32).verify(token, now=1030) is None


def test_htpasswd_bcrypt_only(tmp_path):
    users = load_htpasswd(write_htpasswd(str(tmp_path / "h"), {"bob": "pw"}))
    assert users.check("bob", "pw") and not users.check("bob", "nope") and not users.check("eve", "pw")
    (tmp_path / "md5").write_text("bob:$apr1$abc$def\n")
    with pytest.raises(ValueError, match="bcrypt"):
        load_htpasswd(str(tmp_path / "md5"))


def test_manifest_kind_and_accept():
    m = parse_manifest("", b'{"schemaVersion": 2, "manifests": []}')
    assert m.media_type == OCI_INDEX and m.is_index
    with pytest.raises(RegistryError):
        parse_manifest("", b'{"schemaVersion": 1}')
    assert accepted_types(["*/*", "application/vnd.oci.image.index.v1+json; q=0.1"]) == {OCI_INDEX}
