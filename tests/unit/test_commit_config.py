"""engine/commit.py's pure half: the committed image's config, as moby builds it (checked against dockerd 20.10)."""

from __future__ import annotations

import pytest

from dockyard.engine.commit import (
    child_image_config,
    commit_config,
    container_config_doc,
    merge_commit_config,
    request_config,
)
from dockyard.errors import InvalidArgument

CONTAINER = {
    "Hostname": "26cf5c9783df", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": True,
    "AttachStderr": True, "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": ["E=1"],
    "Cmd": ["sh", "-c", "echo x > /x"], "Image": "busybox", "Volumes": None, "WorkingDir": "/tmp",
    "Entrypoint": None, "OnBuild": None, "Labels": {"l": "v"},
}


def test_no_request_config_and_no_changes_is_the_containers_config() -> None:
    assert commit_config(CONTAINER, None, []) == CONTAINER


def test_changes_apply_over_the_container_config() -> None:
    got = commit_config(CONTAINER, None, ['ENTRYPOINT ["/bin/echo"]', "ENV E=2 F=3", "EXPOSE 80", "VOLUME /v",
                                          "USER nobody"])
    assert got["Entrypoint"] == ["/bin/echo"]
    assert got["Cmd"] is None            # ENTRYPOINT resets an inherited CMD, and merge keeps it so
    assert got["Env"] == ["E=2", "F=3"]
    assert got["ExposedPorts"] == {"80/tcp": {}} and got["Volumes"] == {"/v": {}}
    assert got["User"] == "nobody" and got["Hostname"] == "26cf5c9783df" and got["Image"] == "busybox"
    assert got["Labels"] == {"l": "v"} and got["WorkingDir"] == "/tmp"


def test_a_request_config_is_completed_from_the_container() -> None:
    got = commit_config(CONTAINER, {"Cmd": ["ls"], "Env": ["Z=9"], "Labels": {"m": "n"}}, [])
    assert got["Cmd"] == ["ls"] and got["Env"] == ["Z=9", "E=1"]
    assert got["Labels"] == {"m": "n", "l": "v"} and got["WorkingDir"] == "/tmp"
    assert got["Hostname"] == "" and got["Image"] == ""   # not merged: moby leaves them as requested
    assert got["AttachStdout"] is False


def test_merge_rules() -> None:
    base = {"User": "u", "ExposedPorts": {"80/tcp": {}}, "Env": ["A=1", "B=2"], "Cmd": ["c"], "Entrypoint": ["e"],
            "Volumes": {"/a": {}}, "StopSignal": "SIGINT",
            "Healthcheck": {"Test": ["CMD", "true"], "Interval": 5, "Retries": 3}}
    got = merge_commit_config({"ExposedPorts": {"90/tcp": {}}, "Env": ["B=3"], "Volumes": {"/b": {}},
                               "Healthcheck": {"Retries": 7}}, base)
    assert got["User"] == "u" and got["ExposedPorts"] == {"90/tcp": {}, "80/tcp": {}}
    assert got["Env"] == ["B=3", "A=1"] and got["Volumes"] == {"/b": {}, "/a": {}}
    assert got["Cmd"] == ["c"] and got["Entrypoint"] == ["e"] and got["StopSignal"] == "SIGINT"
    assert got["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 5, "Retries": 7}
    # an explicit empty Entrypoint is kept; Cmd still comes from the base
    got = merge_commit_config({"Entrypoint": []}, base)
    assert got["Entrypoint"] == [] and got["Cmd"] == ["c"]
    # a given Entrypoint keeps its own (absent) Cmd
    assert merge_commit_config({"Entrypoint": ["x"]}, base)["Cmd"] is None


def test_request_config_is_decoded_as_go_does() -> None:
    assert request_config(None) is None
    assert request_config({}) is None                       # docker-py's body: no config
    assert request_config({"Unknown": 1}) is None
    assert request_config({"cmd": ["ls"], "x": 1}) == {"Cmd": ["ls"]}
    with pytest.raises(InvalidArgument):
        request_config(["not", "an", "object"])


def test_container_config_doc_has_go_shape() -> None:
    doc = container_config_doc({"Cmd": ["a"]})
    assert list(doc) == ["Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty",
                         "OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint",
                         "OnBuild", "Labels"]
    assert "StopSignal" in container_config_doc({"StopSignal": "SIGINT"})


PARENT = {"architecture": "arm64", "variant": "v8", "os": "linux", "comment": "Imported from -",
          "docker_version": "x", "container": "old", "config": {"Cmd": ["sh"]},
          "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64]},
          "history": [{"created": "2024-01-01T00:00:00Z", "comment": "Imported from -"}]}


def test_child_image_config() -> None:
    doc = child_image_config(PARENT, diff_id="sha256:" + "2" * 64, container_id="c" * 64,
                             container_config=CONTAINER, config={"Cmd": ["x"]}, author="A <a@b>",
                             comment="msg", created="2025-01-01T00:00:00Z")
    assert doc == {
        "architecture": "arm64", "variant": "v8", "os": "linux", "config": {"Cmd": ["x"]}, "container": "c" * 64,
        "container_config": container_config_doc(CONTAINER), "created": "2025-01-01T00:00:00Z",
        "author": "A <a@b>",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
        "history": [{"created": "2024-01-01T00:00:00Z", "comment": "Imported from -"},
                    {"created": "2025-01-01T00:00:00Z", "author": "A <a@b>",
                     "created_by": "sh -c echo x > /x", "comment": "msg"}],
    }


def test_child_image_config_without_changes_has_an_empty_layer_entry() -> None:
    doc = child_image_config(PARENT, diff_id=None, container_id="c", container_config={"Cmd": ["true"]},
                             config={}, created="2025-01-01T00:00:00Z")
    assert doc["rootfs"]["diff_ids"] == PARENT["rootfs"]["diff_ids"]
    assert doc["history"][-1] == {"created": "2025-01-01T00:00:00Z", "created_by": "true", "empty_layer": True}
    assert "author" not in doc and "comment" not in doc
