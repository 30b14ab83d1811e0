"""`dockyard registry garbage-collect`: what API deletes leave behind is freed, what a manifest
still uses never is, and nothing happens while a server has the root."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dockyard.distribution.registry.gc import RegistryBusy, collect
from registry_harness import RunningRegistry, sha256

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _image(reg: RunningRegistry, name: str, layer: bytes) -> tuple[dict, str]:
    config = reg.push_blob(name, b'{"architecture":"amd64","os":"linux"}')
    blob = reg.push_blob(name, layer)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 37},
           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob, "size": len(layer)}]}
    return doc, blob


def _blob_file(root, digest: str) -> str:
    alg, hex_ = digest.split(":")
    return os.path.join(root, "blobs", alg, hex_[:2], hex_)


def _populate(root):
    """a/app:1 and a/app:2 share a config; :2 is then deleted (by digest); an untagged third
    manifest in a/app; b/other:1 shares a/app:1's layer; a stray uploaded blob no manifest names."""
    reg = RunningRegistry(str(root))
    try:
        one, layer1 = _image(reg, "a/app", b"layer-one")
        d1 = reg.push_manifest("a/app", "1", one, OCI_MANIFEST).headers["docker-content-digest"]
        two, layer2 = _image(reg, "a/app", b"layer-two")
        d2 = reg.push_manifest("a/app", "2", two, OCI_MANIFEST).headers["docker-content-digest"]
        three, _ = _image(reg, "a/app", b"layer-three")
        d3 = sha256(json.dumps(three).encode())
        assert reg.push_manifest("a/app", d3, three, OCI_MANIFEST).status == 201
        other, _ = _image(reg, "b/other", b"layer-one")
        reg.push_manifest("b/other", "1", other, OCI_MANIFEST)
        stray = reg.push_blob("a/app", b"never used")
        assert reg.request("DELETE", f"/v2/a/app/manifests/{d2}").status == 202
    finally:
        reg.stop()
    return {"d1": d1, "d2": d2, "d3": d3, "layer1": layer1, "layer2": layer2, "stray": stray}


def test_gc_frees_only_what_no_manifest_uses(tmp_path):
    root = tmp_path / "root"
    ids = _populate(root)
    lines: list[str] = []
    dry = collect(str(root), dry_run=True, say=lines.append)
    assert sorted(dry.blobs_deleted) == sorted([ids["d2"], ids["layer2"], ids["stray"]])
    assert os.path.exists(_blob_file(root, ids["stray"]))          # a dry run deletes nothing
    assert "3 blobs and 0 manifests eligible for deletion" in "\n".join(lines)

    report = collect(str(root), say=lambda _line: None)
    assert sorted(report.blobs_deleted) == sorted(dry.blobs_deleted) and report.freed > 0
    for key in ("d2", "layer2", "stray"):
        assert not os.path.exists(_blob_file(root, ids[key])), key
    for key in ("d1", "d3", "layer1"):
        assert os.path.exists(_blob_file(root, ids[key])), key

    reg = RunningRegistry(str(root))    # what is left still serves
    try:
        accept = {"Accept": OCI_MANIFEST}
        assert reg.request("GET", "/v2/a/app/manifests/1", headers=accept).status == 200
        assert reg.request("GET", f"/v2/b/other/blobs/{ids['layer1']}").body == b"layer-one"
        assert reg.request("GET", f"/v2/a/app/manifests/{ids['d3']}", headers=accept).status == 200
    finally:
        reg.stop()


def test_delete_untagged_takes_manifests_no_tag_reaches(tmp_path):
    root = tmp_path / "root"
    ids = _populate(root)
    report = collect(str(root), delete_untagged=True, say=lambda _line: None)
    assert report.manifests_deleted == [("a/app", ids["d3"])]
    assert not os.path.exists(_blob_file(root, ids["d3"]))
    assert os.path.exists(_blob_file(root, ids["d1"])) and os.path.exists(_blob_file(root, ids["layer1"]))


def test_gc_refuses_while_served(tmp_path):
    reg = RunningRegistry(str(tmp_path / "root"))
    try:
        with pytest.raises(RegistryBusy, match="stop it first"):
            collect(str(tmp_path / "root"))
    finally:
        reg.stop()


def test_cli(tmp_path):
    root = tmp_path / "root"
    ids = _populate(root)
    run = [sys.executable, "-m", "dockyard.cli", "registry", "garbage-collect", "--root", str(root)]
    out = subprocess.run(run + ["--dry-run"], capture_output=True, text=True, check=True).stdout
    assert f"blob eligible for deletion: {ids['stray']}" in out
    out = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1].startswith("freed ")
    assert not os.path.exists(_blob_file(root, ids["stray"]))
