import hashlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.oci.image_spec import (
    MEDIA_TYPE_OCI_CONFIG,
    MEDIA_TYPE_OCI_LAYER,
    Descriptor,
    Healthcheck,
    HistoryItem,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    RunConfig,
    canonical_json,
    chain_ids,
    parse_rfc3339,
    rfc3339,
)

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64


def test_chain_ids_follow_the_spec() -> None:
    assert chain_ids([]) == []
    assert chain_ids([D1]) == [D1]
    c2 = "sha256:" + hashlib.sha256(f"{D1} {D2}".encode()).hexdigest()
    c3 = "sha256:" + hashlib.sha256(f"{c2} {D3}".encode()).hexdigest()
    assert chain_ids([D1, D2, D3]) == [D1, c2, c3]


def test_chain_id_known_vector() -> None:
    # computed independently: printf 'sha256:1...1 sha256:2...2' | sha256sum
    expected = "9932074217c35353d2e03a3f5a86549f7c67bfeb0ba53e23d69f4d4c8f7958f5"
    assert chain_ids([D1, D2])[1] == "sha256:" + expected


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [1, {"d": "é", "c": None}]}) == '{"a":[1,{"c":null,"d":"é"}],"b":1}'.encode()


def test_image_config_roundtrip_and_shape() -> None:
    cfg = ImageConfig(
        diff_ids=(D1, D2),
        config=RunConfig(user="nobody", exposed_ports=("80/tcp",), env=("PATH=/bin",), entrypoint=("/init",),
                         cmd=("sh",), volumes=("/data",), working_dir="/w", labels={"a": "b"},
                         stop_signal="SIGQUIT", healthcheck=Healthcheck(("CMD", "true"), interval=10**9, retries=3),
                         on_build=("RUN x",), shell=("/bin/bash", "-c")),
        history=(HistoryItem(created="2024-01-01T00:00:00Z", created_by="x", comment="c"),
                 HistoryItem(created="2024-01-01T00:00:00Z", empty_layer=True)),
        created="2024-01-01T00:00:00Z", author="me")
    doc = cfg.to_json()
    assert doc["rootfs"] == {"type": "layers", "diff_ids": [D1, D2]}
    assert doc["architecture"] == "amd64" and doc["os"] == "linux"
    assert doc["config"]["ExposedPorts"] == {"80/tcp": {}}
    assert doc["config"]["Volumes"] == {"/data": {}}
    assert doc["config"]["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 10**9, "Retries": 3}
    assert doc["history"][1] == {"created": "2024-01-01T00:00:00Z", "empty_layer": True}
    again = ImageConfig.from_bytes(cfg.to_bytes())
    assert again == cfg
    assert again.to_bytes() == cfg.to_bytes()


def test_unknown_fields_survive() -> None:
    raw = {"architecture": "amd64", "os": "linux", "docker_version": "20.10",
           "config": {"Hostname": "", "Cmd": ["sh"], "AttachStdin": False},
           "rootfs": {"type": "layers", "diff_ids": [D1]}, "created": "2024-01-01T00:00:00Z"}
    cfg = ImageConfig.from_json(raw)
    assert cfg.extra == {"docker_version": "20.10"}
    assert cfg.config.extra == {"Hostname": "", "AttachStdin": False}
    assert cfg.to_json() == raw


def test_empty_cmd_is_kept_distinct_from_none() -> None:
    assert "Cmd" not in RunConfig().to_json()
    assert RunConfig(cmd=()).to_json()["Cmd"] == []
    assert RunConfig.from_json({"Entrypoint": None}).entrypoint is None


def test_manifest_and_index() -> None:
    m = Manifest(config=Descriptor(MEDIA_TYPE_OCI_CONFIG, D1, 10),
                 layers=(Descriptor(MEDIA_TYPE_OCI_LAYER, D2, 20),))
    doc = json.loads(canonical_json(m.to_json()))
    assert doc == {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "config": {"mediaType": MEDIA_TYPE_OCI_CONFIG, "digest": D1, "size": 10},
                   "layers": [{"mediaType": MEDIA_TYPE_OCI_LAYER, "digest": D2, "size": 20}]}
    assert Manifest.from_json(doc) == m
    idx = Index(manifests=(Descriptor("application/vnd.oci.image.manifest.v1+json", D3, 5,
                                      platform=Platform("arm64", "linux", "v8")),))
    assert Index.from_json(idx.to_json()) == idx
    assert idx.to_json()["manifests"][0]["platform"] == {"architecture": "arm64", "os": "linux", "variant": "v8"}


@pytest.mark.parametrize("ns, text", [
    (0, "1970-01-01T00:00:00Z"),
    (1_704_067_200_000_000_000, "2024-01-01T00:00:00Z"),
    (1_704_067_200_500_000_000, "2024-01-01T00:00:00.5Z"),
    (1_704_067_200_123_456_789, "2024-01-01T00:00:00.123456789Z"),
])
def test_rfc3339(ns: int, text: str) -> None:
    assert rfc3339(ns) == text
    assert parse_rfc3339(text) == pytest.approx(ns / 1e9)


def test_parse_rfc3339_offsets_and_garbage() -> None:
    assert parse_rfc3339("2024-01-01T02:00:00+02:00") == parse_rfc3339("2024-01-01T00:00:00Z")
    assert parse_rfc3339("") == 0.0
    assert parse_rfc3339("yesterday") == 0.0


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)


@given(st.builds(
    RunConfig, user=_text, env=st.lists(_text, max_size=3).map(tuple),
    cmd=st.one_of(st.none(), st.lists(_text, max_size=3).map(tuple)),
    entrypoint=st.one_of(st.none(), st.lists(_text, max_size=3).map(tuple)),
    labels=st.dictionaries(_text, _text, max_size=3), working_dir=_text))
def test_run_config_roundtrip(cfg: RunConfig) -> None:
    assert RunConfig.from_json(json.loads(canonical_json(cfg.to_json()))) == cfg
