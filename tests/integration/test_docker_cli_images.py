"""Images through the real docker CLI: import, tag, images, rmi (and its refusals), history, prune."""

from __future__ import annotations

import json


def test_images_lists_busybox(daemon):
    out = daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout_text.split()
    assert "busybox:latest" in out


def test_import_tag_rmi_cycle(daemon, tmp_path):
    from daemon_harness import busybox_rootfs_tar
    tar = busybox_rootfs_tar(tmp_path)
    daemon.docker("import", str(tar), "solo:1")
    daemon.docker("tag", "solo:1", "solo:2")
    refs = daemon.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout_text.split()
    assert "solo:1" in refs and "solo:2" in refs
    assert "Untagged: solo:2" in daemon.docker("rmi", "solo:2").stdout_text
    daemon.docker("run", "-d", "--name", "holder", "solo:1", "sleep", "300")
    p = daemon.docker("rmi", "solo:1", check=False)
    assert p.returncode != 0 and "conflict" in p.stderr_text.lower()
    daemon.docker("rm", "-f", "holder")
    out = daemon.docker("rmi", "solo:1").stdout_text
    assert "Untagged: solo:1" in out and "Deleted: sha256:" in out
    assert daemon.docker("image", "inspect", "solo:1", check=False).returncode != 0


def test_import_changes_and_inspect(daemon, tmp_path):
    from daemon_harness import busybox_rootfs_tar
    tar = busybox_rootfs_tar(tmp_path)
    daemon.docker("import", "-c", "ENV A=1", "-c", "WORKDIR /tmp", "-c", 'CMD ["pwd"]', str(tar), "changed:1")
    try:
        doc = json.loads(daemon.docker("image", "inspect", "changed:1").stdout_text)[0]
        assert doc["Config"]["Cmd"] == ["pwd"] and "A=1" in doc["Config"]["Env"]
        assert doc["Id"].startswith("sha256:") and doc["RootFS"]["Layers"]
        assert daemon.docker("run", "--rm", "changed:1").stdout_text == "/tmp\n"
        hist = daemon.docker("history", "changed:1").stdout_text
        assert "IMAGE" in hist.splitlines()[0]
    finally:
        daemon.docker("rmi", "changed:1")


def test_short_id_and_same_layers_shared(daemon, tmp_path):
    img = daemon.docker("image", "inspect", "-f", "{{.Id}}", "busybox").stdout_text.strip()
    short = img.split(":")[1][:12]
    assert daemon.docker("run", "--rm", short, "echo", "by-id").stdout_text == "by-id\n"
