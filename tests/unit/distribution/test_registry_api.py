"""Conformance-style tests: a real HTTP client against the registry on a 127.0.0.1 port."""

from __future__ import annotations

import json
import os

import pytest

from registry_harness import RunningRegistry, sha256, write_htpasswd

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


@pytest.fixture
def reg(tmp_path):
    r = RunningRegistry(str(tmp_path / "root"))
    yield r
    r.stop()


def _image(reg: RunningRegistry, name: str, media_type: str = OCI_MANIFEST, layer: bytes = b"layer") -> dict:
    config = reg.push_blob(name, b'{"architecture":"amd64","os":"linux"}')
    blob = reg.push_blob(name, layer)
    return {"schemaVersion": 2, "mediaType": media_type,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 37},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob,
                        "size": len(layer)}]}


def _files_under(path: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs)


def test_base_endpoint(reg):
    r = reg.request("GET", "/v2/")
    assert r.status == 200 and r.json() == {}
    assert r.headers["docker-distribution-api-version"] == "registry/2.0"


def test_monolithic_blob_upload_and_fetch(reg):
    data = os.urandom(300_000)
    d = reg.push_blob("lib/app", data)
    head = reg.request("HEAD", f"/v2/lib/app/blobs/{d}")
    assert head.status == 200 and head.headers["content-length"] == str(len(data))
    assert head.headers["docker-content-digest"] == d and head.body == b""
    got = reg.request("GET", f"/v2/lib/app/blobs/{d}")
    assert got.status == 200 and got.body == data
    part = reg.request("GET", f"/v2/lib/app/blobs/{d}", headers={"Range": "bytes=10-19"})
    assert part.status == 206 and part.body == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    # the blob belongs to lib/app only
    assert reg.request("GET", f"/v2/other/blobs/{d}").codes() == ["BLOB_UNKNOWN"]


def test_chunked_upload_with_status_and_ranges(reg):
    data = os.urandom(100_000)
    r = reg.request("POST", "/v2/chunky/blobs/uploads/")
    assert r.status == 202 and r.headers["range"] == "0-0"
    location, uuid = r.headers["location"], r.headers["docker-upload-uuid"]
    assert location.endswith(uuid)
    r = reg.request("PATCH", location, data[:60_000], {"Content-Range": "0-59999",
                                                       "Content-Type": "application/octet-stream"})
    assert r.status == 202 and r.headers["range"] == "0-59999"
    # a chunk that does not start where the upload ends is refused
    bad = reg.request("PATCH", location, data[60_000:], {"Content-Range": "10-50009"})
    assert bad.status == 416 and bad.codes() == ["RANGE_INVALID"]
    status = reg.request("GET", location)
    assert status.status == 204 and status.headers["range"] == "0-59999"
    assert status.headers["docker-upload-uuid"] == uuid
    r = reg.request("PATCH", location, data[60_000:90_000])
    assert r.status == 202 and r.headers["range"] == "0-89999"
    d = sha256(data)
    done = reg.request("PUT", f"{location}?digest={d}", data[90_000:])
    assert done.status == 201 and done.headers["docker-content-digest"] == d
    assert done.headers["location"] == f"/v2/chunky/blobs/{d}"
    assert reg.request("GET", f"/v2/chunky/blobs/{d}").body == data
    assert reg.request("GET", location).codes() == ["BLOB_UPLOAD_UNKNOWN"]


def test_digest_mismatch_leaves_nothing(reg, tmp_path):
    wrong = sha256(b"something else")
    r = reg.request("POST", f"/v2/m/blobs/uploads/?digest={wrong}", b"actual bytes")
    assert r.status == 400 and r.codes() == ["DIGEST_INVALID"]
    start = reg.request("POST", "/v2/m/blobs/uploads/")
    loc = start.headers["location"]
    r = reg.request("PUT", f"{loc}?digest={wrong}", b"actual bytes")
    assert r.codes() == ["DIGEST_INVALID"]
    assert reg.request("GET", loc).codes() == ["BLOB_UPLOAD_UNKNOWN"]
    root = str(tmp_path / "root")
    assert [f for f in _files_under(root) if "blobs" in f.split(os.sep)[0]] == []
    assert not any("_uploads" in f and f.endswith("data") for f in _files_under(root))
    assert reg.request("HEAD", f"/v2/m/blobs/{sha256(b'actual bytes')}").status == 404


def test_cancel_upload_and_size_invalid(reg):
    loc = reg.request("POST", "/v2/c/blobs/uploads/").headers["location"]
    assert reg.request("DELETE", loc).status == 204
    assert reg.request("DELETE", loc).codes() == ["BLOB_UPLOAD_UNKNOWN"]
    loc = reg.request("POST", "/v2/c/blobs/uploads/").headers["location"]
    r = reg.request("PATCH", loc, b"12345", {"Content-Range": "0-9"})
    assert r.status == 400 and r.codes() == ["SIZE_INVALID"]
    assert reg.request("PUT", loc).codes() == ["DIGEST_INVALID"]   # no ?digest=


def test_cross_repo_mount(reg):
    d = reg.push_blob("src/repo", b"shared layer")
    r = reg.request("POST", f"/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo")
    assert r.status == 201 and r.headers["location"] == f"/v2/dst/repo/blobs/{d}"
    assert reg.request("GET", f"/v2/dst/repo/blobs/{d}").body == b"shared layer"
    # a blob the source does not have: an ordinary upload starts instead
    missing = sha256(b"nope")
    r = reg.request("POST", f"/v2/dst/repo/blobs/uploads/?mount={missing}&from=src/repo")
    assert r.status == 202 and "docker-upload-uuid" in r.headers


def test_manifest_by_tag_and_digest(reg):
    doc = _image(reg, "web")
    r = reg.push_manifest("web", "v1", doc, OCI_MANIFEST)
    assert r.status == 201
    d = r.headers["docker-content-digest"]
    assert d == sha256(json.dumps(doc).encode()) and r.headers["location"] == f"/v2/web/manifests/{d}"
    for ref in ("v1", d):
        got = reg.request("GET", f"/v2/web/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
        assert got.status == 200 and got.headers["content-type"] == OCI_MANIFEST
        assert got.headers["docker-content-digest"] == d and json.loads(got.body) == doc
    head = reg.request("HEAD", "/v2/web/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert head.status == 200 and int(head.headers["content-length"]) == len(json.dumps(doc))
    assert reg.request("GET", "/v2/web/manifests/v1",
                       headers={"Accept": OCI_MANIFEST, "If-None-Match": f'"{d}"'}).status == 304
    # push by digest: the body must hash to it
    assert reg.push_manifest("web", d, doc, OCI_MANIFEST).status == 201
    r = reg.push_manifest("web", sha256(b"x"), doc, OCI_MANIFEST)
    assert r.codes() == ["DIGEST_INVALID"]


def test_accept_negotiation_as_distribution(reg):
    reg.push_manifest("neg", "oci", _image(reg, "neg"), OCI_MANIFEST)
    r = reg.request("GET", "/v2/neg/manifests/oci")   # no Accept: an OCI manifest is not returned
    assert r.status == 404 and r.codes() == ["MANIFEST_UNKNOWN"]
    assert "OCI manifest found" in r.json()["errors"][0]["message"]
    # Go clients send one Accept header per type: all of them count
    r = reg.request("GET", "/v2/neg/manifests/oci",
                    headers={"Accept": f"{DOCKER_MANIFEST}, {OCI_MANIFEST};q=0.5"})
    assert r.status == 200
    dm = reg.push_manifest("neg", "docker", _image(reg, "neg", DOCKER_MANIFEST), DOCKER_MANIFEST)
    assert reg.request("GET", "/v2/neg/manifests/docker").status == 200   # schema2 is always served
    child = dm.headers["docker-content-digest"]
    size = len(reg.request("GET", f"/v2/neg/manifests/{child}").body)
    lst = {"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [
        {"mediaType": DOCKER_MANIFEST, "digest": child, "size": size,
         "platform": {"architecture": "amd64", "os": "linux"}}]}
    assert reg.push_manifest("neg", "list", lst, DOCKER_LIST).status == 201
    # a client that does not take manifest lists gets linux/amd64's manifest, by tag
    r = reg.request("GET", "/v2/neg/manifests/list", headers={"Accept": DOCKER_MANIFEST})
    assert r.headers["content-type"] == DOCKER_MANIFEST and r.headers["docker-content-digest"] == child
    r = reg.request("GET", "/v2/neg/manifests/list", headers={"Accept": DOCKER_LIST})
    assert r.headers["content-type"] == DOCKER_LIST
    idx = dict(lst, mediaType=OCI_INDEX)
    idx["manifests"] = [dict(lst["manifests"][0])]
    assert reg.push_manifest("neg", "index", idx, OCI_INDEX).status == 201
    r = reg.request("GET", "/v2/neg/manifests/index", headers={"Accept": DOCKER_LIST})
    assert r.status == 404 and "OCI index found" in r.json()["errors"][0]["message"]


def test_manifest_verification(reg):
    doc = _image(reg, "v")
    doc["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                          "digest": sha256(b"never pushed"), "size": 12})
    r = reg.push_manifest("v", "t", doc, OCI_MANIFEST)
    assert r.status == 400 and r.codes() == ["MANIFEST_BLOB_UNKNOWN"]
    assert r.json()["errors"][0]["detail"]["digest"] == sha256(b"never pushed")
    # a blob pushed to another repository does not count
    other = _image(reg, "elsewhere", layer=b"mine")
    assert reg.push_manifest("v", "t", other, OCI_MANIFEST).codes() == ["MANIFEST_BLOB_UNKNOWN"]   # the layer
    # media type in the body must match Content-Type
    assert reg.push_manifest("v", "t", _image(reg, "v"), DOCKER_MANIFEST).codes() == ["MANIFEST_INVALID"]
    assert reg.request("PUT", "/v2/v/manifests/t", b"not json",
                       {"Content-Type": OCI_MANIFEST}).codes() == ["MANIFEST_INVALID"]
    idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": sha256(b"absent"), "size": 6}]}
    assert reg.push_manifest("v", "i", idx, OCI_INDEX).codes() == ["MANIFEST_BLOB_UNKNOWN"]
    assert reg.request("GET", "/v2/v/manifests/t", headers={"Accept": OCI_MANIFEST}).codes() == \
        ["MANIFEST_UNKNOWN"]


def test_tags_list_pagination_and_catalog(reg):
    doc = _image(reg, "tags/repo")
    for tag in ("c", "a", "b", "d"):
        assert reg.push_manifest("tags/repo", tag, doc, OCI_MANIFEST).status == 201
    assert reg.request("GET", "/v2/tags/repo/tags/list").json() == {"name": "tags/repo", "tags": list("abcd")}
    r = reg.request("GET", "/v2/tags/repo/tags/list?n=2")
    assert r.json()["tags"] == ["a", "b"]
    assert r.headers["link"] == '</v2/tags/repo/tags/list?n=2&last=b>; rel="next"'
    assert reg.request("GET", "/v2/tags/repo/tags/list?n=2&last=b").json()["tags"] == ["c", "d"]
    assert reg.request("GET", "/v2/tags/repo/tags/list?n=x").codes() == ["PAGINATION_NUMBER_INVALID"]
    assert reg.request("GET", "/v2/nothing/tags/list").codes() == ["NAME_UNKNOWN"]
    reg.push_manifest("alpha", "1", _image(reg, "alpha"), OCI_MANIFEST)
    assert reg.request("GET", "/v2/_catalog").json() == {"repositories": ["alpha", "tags/repo"]}
    r = reg.request("GET", "/v2/_catalog?n=1")
    assert r.json() == {"repositories": ["alpha"]} and "last=alpha" in r.headers["link"]


def test_deletes(reg):
    doc = _image(reg, "del")
    d = reg.push_manifest("del", "one", doc, OCI_MANIFEST).headers["docker-content-digest"]
    reg.push_manifest("del", "two", doc, OCI_MANIFEST)
    assert reg.request("DELETE", "/v2/del/manifests/one").status == 202
    assert reg.request("GET", "/v2/del/tags/list").json()["tags"] == ["two"]
    assert reg.request("DELETE", f"/v2/del/manifests/{d}").status == 202   # untags "two" too
    assert reg.request("GET", "/v2/del/tags/list").json()["tags"] == []
    assert reg.request("GET", f"/v2/del/manifests/{d}", headers={"Accept": OCI_MANIFEST}).status == 404
    layer = doc["layers"][0]["digest"]
    assert reg.request("DELETE", f"/v2/del/blobs/{layer}").status == 202
    assert reg.request("HEAD", f"/v2/del/blobs/{layer}").status == 404


def test_referrers(reg):
    subject = reg.push_manifest("ref", "img", _image(reg, "ref"), OCI_MANIFEST).headers["docker-content-digest"]
    empty = reg.push_blob("ref", b"{}")
    sig = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
           "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
           "layers": [], "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": 1},
           "annotations": {"who": "me"}}
    r = reg.push_manifest("ref", sha256(json.dumps(sig).encode()), sig, OCI_MANIFEST)
    assert r.status == 201 and r.headers["oci-subject"] == subject
    got = reg.request("GET", f"/v2/ref/referrers/{subject}")
    assert got.status == 200 and got.headers["content-type"] == OCI_INDEX
    [entry] = got.json()["manifests"]
    assert entry["artifactType"] == "application/vnd.example.sig" and entry["annotations"] == {"who": "me"}
    filtered = reg.request("GET", f"/v2/ref/referrers/{subject}?artifactType=other/type")
    assert filtered.json()["manifests"] == [] and filtered.headers["oci-filters-applied"] == "artifactType"


@pytest.mark.parametrize("path", [
    "/v2/UPPER/tags/list", "/v2/a/../../etc/tags/list", "/v2/a/%2e%2e/b/tags/list", "/v2/-a/tags/list",
    "/v2/a//b/tags/list", "/v2/_uploads/tags/list",
])
def test_bad_names_refused(reg, path):
    r = reg.request("GET", path)
    assert r.status == 400 and r.codes() == ["NAME_INVALID"]


@pytest.mark.parametrize("digest", ["sha256:abc", "sha256:" + "A" * 64, "md5:" + "0" * 32,
                                    "sha256:../../../../etc/passwd", "sha256%3A..%2F.."])
def test_bad_digests_refused(reg, digest):
    r = reg.request("GET", f"/v2/ok/blobs/{digest}")
    # refused as an invalid digest, or (slashes in it) as no route at all
    assert r.status in (400, 404) and r.codes()[0] in ("DIGEST_INVALID", "UNSUPPORTED")
    assert b"root:" not in r.body


def test_bad_upload_id_and_tag(reg):
    assert reg.request("GET", "/v2/ok/blobs/uploads/..%2F..%2Fx").status == 404
    assert reg.request("GET", "/v2/ok/blobs/uploads/not-a-uuid").codes() == ["BLOB_UPLOAD_UNKNOWN"]
    r = reg.request("GET", "/v2/ok/manifests/.hidden")
    assert r.codes() == ["TAG_INVALID"]


@pytest.fixture
def secured(tmp_path):
    hp = write_htpasswd(str(tmp_path / "htpasswd"), {"alice": "s3cret"})
    r = RunningRegistry(str(tmp_path / "root"), htpasswd=hp)
    yield r
    r.stop()


def _basic(user: str, password: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_token_flow(secured):
    r = secured.request("GET", "/v2/")
    assert r.status == 401 and r.codes() == ["UNAUTHORIZED"]
    assert r.headers["www-authenticate"] == \
        f'Bearer realm="http://{secured.addr}/token",service="dockyard-registry"'
    r = secured.request("GET", "/v2/lib/x/tags/list")
    assert 'scope="repository:lib/x:pull"' in r.headers["www-authenticate"]
    assert secured.request("GET", "/token?service=dockyard-registry").status == 401
    assert secured.request("GET", "/token?service=dockyard-registry", headers=_basic("alice", "no")).status == 401
    tok = secured.request("GET", "/token?service=dockyard-registry&scope=repository:lib/x:pull",
                          headers=_basic("alice", "s3cret")).json()
    assert tok["token"] == tok["access_token"] and tok["expires_in"] == 300 and tok["issued_at"].endswith("Z")
    bearer = {"Authorization": f"Bearer {tok['token']}"}
    assert secured.request("GET", "/v2/", headers=bearer).status == 200
    assert secured.request("GET", "/v2/lib/x/tags/list", headers=bearer).codes() == ["NAME_UNKNOWN"]
    # the token is for pull on lib/x only
    r = secured.request("POST", "/v2/lib/x/blobs/uploads/", headers=bearer)
    assert r.status == 401 and 'error="insufficient_scope"' in r.headers["www-authenticate"]
    assert secured.request("GET", "/v2/lib/y/tags/list", headers=bearer).status == 401
    forged = tok["token"][:-4] + ("AAAA" if not tok["token"].endswith("AAAA") else "BBBB")
    r = secured.request("GET", "/v2/", headers={"Authorization": f"Bearer {forged}"})
    assert r.status == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    # Basic credentials work on requests too
    assert secured.request("GET", "/v2/", headers=_basic("alice", "s3cret")).status == 200
    assert secured.request("GET", "/v2/_catalog", headers=_basic("alice", "s3cret")).status == 200
