"""`diff`, `export` (→ `import` → `run`), `system df` and the prunes, through docker and dockyard."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile

import pytest

CLIS = ["docker", "dockyard"]


def _changes(daemon, cli: str, name: str) -> list[str]:
    return getattr(daemon, cli)("diff", name).stdout_text.splitlines()


@pytest.mark.parametrize("cli", CLIS)
def test_diff_after_adds_changes_deletes(daemon, cli):
    name = f"df-diff-{cli}"
    daemon.docker("run", "--name", name, "busybox", "sh", "-c",
                  "rm /etc/group && echo more >> /etc/passwd && mkdir -p /new/deep && echo n > /new/deep/f")
    try:
        assert _changes(daemon, cli, name) == [
            "C /etc", "C /etc/passwd", "D /etc/group", "A /new", "A /new/deep", "A /new/deep/f"]
        api = json.loads(subprocess.run(["curl", "-s", "--unix-socket", str(daemon.socket),
                                         f"http://x/containers/{name}/changes"], capture_output=True).stdout)
        assert {"Path": "/etc/group", "Kind": 2} in api and {"Path": "/new", "Kind": 1} in api
    finally:
        daemon.docker("rm", "-f", name)


@pytest.mark.parametrize("cli", CLIS)
def test_diff_of_a_fresh_and_a_running_container(daemon, cli):
    name = f"df-fresh-{cli}"
    daemon.docker("create", "--name", name, "busybox", "sleep", "300")
    try:
        assert _changes(daemon, cli, name) == []
        daemon.docker("start", name)
        assert _changes(daemon, cli, name) == []   # /etc/hosts, /proc, ... are the runtime's, not changes
        daemon.docker("exec", name, "touch", "/tmp/t")
        assert _changes(daemon, cli, name) == ["C /tmp", "A /tmp/t"]
        p = getattr(daemon, cli)("diff", "no-such-container", check=False)
        assert p.returncode == 1 and p.stderr_text.strip() == "Error response from daemon: No such container: no-such-container"
    finally:
        daemon.docker("rm", "-f", name)


@pytest.mark.parametrize("cli", CLIS)
def test_export_import_run(daemon, cli, tmp_path):
    run = getattr(daemon, cli)
    name = f"df-export-{cli}"
    daemon.docker("run", "-d", "--name", name, "busybox", "sh", "-c", "echo exported > /marker; sleep 300")
    try:
        daemon.docker("exec", name, "ls", "/marker")
        streamed = run("export", name).stdout
        with tarfile.open(fileobj=io.BytesIO(streamed)) as tf:
            names = tf.getnames()
            assert tf.extractfile("marker").read() == b"exported\n"
        assert "bin/sh" in names and "marker" in names and not any(n.startswith(("/", "./")) for n in names)
        assert "proc" in names and not any(n.startswith("proc/") for n in names)
        out = tmp_path / "fs.tar"
        run("export", "-o", str(out), name)
        assert oct(os.stat(out).st_mode & 0o777) == "0o600"
        daemon.docker("stop", "-t", "0", name)
        stopped = run("export", name).stdout
        assert tarfile.open(fileobj=io.BytesIO(stopped)).getnames() == names   # the same files, stopped
        run("import", str(out), f"exported-{cli}:1")
        assert daemon.docker("run", "--rm", f"exported-{cli}:1", "cat", "/marker").stdout_text == "exported\n"
    finally:
        daemon.docker("rm", "-f", name, check=False)
        daemon.docker("rmi", f"exported-{cli}:1", check=False)


@pytest.mark.parametrize("cli", CLIS)
def test_export_refuses_a_terminal(daemon, cli):
    import shutil

    if not shutil.which("script"):
        pytest.skip("needs script(1)")
    name = f"df-tty-{cli}"
    daemon.docker("create", "--name", name, "busybox")
    try:
        cmd = {"docker": "docker", "dockyard": f"{os.sys.executable} -m dockyard.cli"}[cli]
        p = subprocess.run(["script", "-qec", f"{cmd} export {name}", "/dev/null"], env=daemon.env,
                           capture_output=True, text=True)
        assert p.returncode == 1
        assert "cowardly refusing to save to a terminal. Use the -o flag or redirect" in p.stdout
    finally:
        daemon.docker("rm", "-f", name)


def _df_json(daemon) -> dict:
    p = subprocess.run(["curl", "-s", "--unix-socket", str(daemon.socket), "http://x/v1.50/system/df"],
                       capture_output=True, check=True)
    return json.loads(p.stdout)


def test_system_df_matches_images_and_containers(daemon):
    daemon.docker("run", "--name", "df-a", "busybox", "sh", "-c", "head -c 5000 /dev/zero > /big")
    daemon.docker("run", "-d", "--name", "df-b", "busybox", "sleep", "300")
    try:
        du = _df_json(daemon)
        ids = set(daemon.docker("ps", "-aq", "--no-trunc").stdout_text.split())
        assert {c["Id"] for c in du["Containers"]} == ids
        sizes = {c["Names"][0]: c["SizeRw"] for c in du["Containers"]}
        assert sizes["/df-a"] == 5000
        images = set(daemon.docker("images", "-q", "--no-trunc").stdout_text.split())
        assert {i["Id"] for i in du["Images"]} == images
        busybox = next(i for i in du["Images"] if "busybox:latest" in i["RepoTags"])
        assert busybox["Containers"] == len(ids) and busybox["Size"] > 0
        assert du["LayersSize"] >= busybox["Size"] and du["Volumes"] == [] and du["BuildCache"] == []
        only = json.loads(subprocess.run(["curl", "-s", "--unix-socket", str(daemon.socket),
                                          "http://x/v1.50/system/df?type=container"], capture_output=True).stdout)
        assert only["Images"] is None and len(only["Containers"]) == len(ids)

        for cli in CLIS:
            rows = getattr(daemon, cli)("system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}").stdout_text
            assert rows.splitlines() == [f"Images|{len(images)}|1", f"Containers|{len(ids)}|1",
                                         "Local Volumes|0|0", "Build Cache|0|0"]
        assert daemon.docker("system", "df").stdout_text == daemon.dockyard("system", "df").stdout_text
        import re

        def verbose(cli: str) -> str:   # the same tables, but for the clock ticking between the two calls
            text = getattr(daemon, cli)("system", "df", "-v").stdout_text
            return re.sub(r"(Less than a second|About a minute|\d+ (second|minute)s?) ago", "AGO", text)

        assert verbose("docker") == verbose("dockyard")
    finally:
        daemon.docker("rm", "-f", "df-a", "df-b", check=False)


@pytest.mark.parametrize("cli", CLIS)
def test_container_prune_reports_reclaimed_space(daemon, cli):
    daemon.docker("run", "--name", f"df-prune-{cli}", "busybox", "sh", "-c", "head -c 3000 /dev/zero > /f")
    out = getattr(daemon, cli)("container", "prune", "-f").stdout_text
    cid = daemon.docker("ps", "-aq", "--no-trunc").stdout_text.split()
    assert cid == []
    assert out.startswith("Deleted Containers:\n") and out.endswith("\n\nTotal reclaimed space: 3kB\n")


@pytest.mark.parametrize("cli", CLIS)
def test_system_prune(daemon, cli, tmp_path):
    run = getattr(daemon, cli)
    daemon.docker("run", "--name", f"df-sys-{cli}", "busybox", "true")
    daemon.docker("network", "create", f"df-net-{cli}")
    daemon.docker("run", "--name", f"df-img-{cli}", "busybox", "sh", "-c", "echo x > /x")
    dangling = daemon.docker("commit", f"df-img-{cli}", f"df-dangling-{cli}:1").stdout_text.strip()
    daemon.docker("commit", "-m", "again", f"df-img-{cli}", f"df-dangling-{cli}:1")   # the first one: dangling
    daemon.docker("tag", "busybox", f"df-unused-{cli}:1")
    p = run("system", "prune", input=b"n\n")
    assert "WARNING! This will remove:\n  - all stopped containers\n" in p.stdout_text
    assert daemon.docker("ps", "-aq").stdout_text.split() != []    # "n": nothing removed
    out = run("system", "prune", "-f").stdout_text
    assert "Deleted Containers:" in out and f"Deleted Networks:\ndf-net-{cli}\n" in out
    assert f"Deleted Images:\ndeleted: {dangling}\n" in out
    assert out.splitlines()[-1].startswith("Total reclaimed space: ")
    assert daemon.docker("ps", "-aq").stdout_text.split() == []
    assert f"df-net-{cli}" not in daemon.docker("network", "ls", "--format", "{{.Name}}").stdout_text
    assert daemon.docker("image", "inspect", f"df-unused-{cli}:1", check=False).returncode == 0  # tagged: kept
    out = run("system", "prune", "-a", "-f").stdout_text
    assert f"untagged: df-unused-{cli}:1" in out and f"untagged: df-dangling-{cli}:1" in out
    assert daemon.docker("images", "-q").stdout_text.split() == []
    du = _df_json(daemon)
    assert du["Images"] == [] and du["Containers"] == [] and du["LayersSize"] == 0
    # the module's other tests need busybox back
    from daemon_harness import busybox_rootfs_tar
    daemon.docker("import", "-c", 'CMD ["sh"]', str(busybox_rootfs_tar(tmp_path)), "busybox:latest")


@pytest.mark.parametrize("cli", CLIS)
def test_builder_prune(daemon, cli):
    out = getattr(daemon, cli)("builder", "prune", "-f").stdout_text
    assert out.splitlines()[-1] == "Total reclaimed space: 0B"


def test_system_df_counts_volumes(daemon):
    daemon.docker("volume", "create", "df-vol")
    daemon.docker("run", "--name", "df-v", "-v", "df-vol:/data", "busybox", "sh", "-c",
                  "head -c 3000 /dev/zero > /data/f")
    try:
        vols = {v["Name"]: v for v in _df_json(daemon)["Volumes"]}
        assert vols["df-vol"]["UsageData"] == {"Size": 3000, "RefCount": 1}
        assert vols["df-vol"]["Mountpoint"].endswith("/volumes/df-vol/_data")
        for cli in CLIS:
            rows = getattr(daemon, cli)("system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}").stdout_text
            assert "Local Volumes|1|1" in rows.splitlines()
    finally:
        daemon.docker("rm", "-f", "df-v")
        daemon.docker("volume", "rm", "df-vol")
