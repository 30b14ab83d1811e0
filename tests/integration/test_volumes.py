"""Named and anonymous volumes, binds, tmpfs and volumes-from, end to end through the docker CLI and
`dockyard` (docker-py in test_volumes_more.py): data that outlives containers and daemon restarts,
copy-up, read-only binds, removal rules, prune, and Docker's errors for bad specs."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest


def _inspect(d, *args: str) -> dict:
    return json.loads(d.docker("inspect", *args).stdout)[0]


def _volumes(d) -> set[str]:
    return set(d.docker("volume", "ls", "-q").stdout_text.split())


def _containers(d) -> set[str]:
    return set(d.docker("ps", "-aq", "--no-trunc").stdout_text.split())


def _restart(d) -> None:
    d.proc.send_signal(signal.SIGTERM)
    d.proc.wait(30)
    d.start()


@pytest.fixture(params=["docker", "dockyard"])
def cli(request, daemon):
    return getattr(daemon, request.param)


def test_named_volume_outlives_its_containers_and_a_restart(daemon, cli):
    d = daemon
    cli("volume", "create", "keep")
    cli("run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo persist > /data/f")
    cli("run", "--name", "w2", "-v", "keep:/data", "busybox", "sh", "-c", "echo more >> /data/f")
    cli("rm", "-v", "w2")   # -v takes anonymous volumes only
    assert (d.dir / "root" / "volumes" / "keep" / "_data" / "f").read_text() == "persist\nmore\n"
    _restart(d)
    assert "keep" in _volumes(d)
    out = cli("run", "--rm", "-v", "keep:/data:ro", "busybox", "cat", "/data/f").stdout_text
    assert out == "persist\nmore\n"
    info = json.loads(cli("volume", "inspect", "keep").stdout_text)[0]
    assert info["Name"] == "keep" and info["Driver"] == "local" and info["Scope"] == "local"
    assert info["Mountpoint"] == str(d.dir / "root" / "volumes" / "keep" / "_data")
    cli("volume", "rm", "keep")
    assert not (d.dir / "root" / "volumes" / "keep").exists()


def test_bind_mounts_rw_and_ro(daemon, cli, tmp_path):
    host = tmp_path / "bind"
    host.mkdir()
    cli("run", "--rm", "-v", f"{host}:/mnt", "busybox", "sh", "-c", "echo x > /mnt/y")
    assert (host / "y").read_text() == "x\n"
    p = cli("run", "--rm", "-v", f"{host}:/mnt:ro", "busybox", "sh", "-c", "echo z > /mnt/z", check=False)
    assert p.returncode != 0 and "Read-only file system" in p.stderr_text
    assert not (host / "z").exists()
    p = cli("run", "--rm", "--mount", f"type=bind,source={host},target=/m,readonly", "busybox",
            "sh", "-c", "cat /m/y; touch /m/n", check=False)
    assert p.stdout_text == "x\n" and p.returncode != 0 and not (host / "n").exists()
    # a missing -v source is made; a missing --mount source is an error
    cli("run", "--rm", "-v", f"{tmp_path}/made/here:/m", "busybox", "true")
    assert (tmp_path / "made" / "here").is_dir()


@pytest.fixture
def nested_host_mount(tmp_path):
    """A host dir with a tmpfs mounted inside it: a bind of the dir carries the tmpfs along."""
    outer = tmp_path / "outer"
    inner = outer / "inner"
    inner.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(inner)], check=True)
    try:
        yield outer
    finally:
        subprocess.run(["umount", "-l", str(inner)], check=False)


def test_read_only_binds_are_recursive(daemon, cli, nested_host_mount):
    outer = nested_host_mount
    write = "touch /m/top; echo $?; touch /m/inner/sub; echo $?"
    out = cli("run", "--rm", "-v", f"{outer}:/m:ro", "busybox", "sh", "-c", write + " 2>/dev/null").stdout_text
    assert out.split() == ["1", "1"], "the submount must be read-only too (Docker 25+: rro)"
    out = cli("run", "--rm", "--mount", f"type=bind,src={outer},dst=/m,readonly,bind-recursive=writable",
              "busybox", "sh", "-c", write + " 2>/dev/null").stdout_text
    assert out.split() == ["1", "0"] and (outer / "inner" / "sub").exists()
    out = cli("run", "--rm", "--mount", f"type=bind,src={outer},dst=/m,readonly,bind-recursive=disabled",
              "busybox", "sh", "-c", "ls /m/inner | wc -l; touch /m/x 2>/dev/null; echo $?").stdout_text
    assert out.split() == ["0", "1"], "non-recursive: the tmpfs is not carried into the container"
    cli("run", "--rm", "--mount", f"type=bind,src={outer},dst=/m,readonly,bind-recursive=readonly,"
        "bind-propagation=rprivate", "busybox", "sh", "-c", "! touch /m/inner/y 2>/dev/null")
    assert not (outer / "top").exists() and not (outer / "inner" / "y").exists()


def test_read_only_bind_is_not_recursive_for_old_api_clients(daemon, nested_host_mount):
    import docker

    client = docker.DockerClient(base_url=f"unix://{daemon.socket}", version="1.43")
    try:
        out = client.containers.run("busybox", ["sh", "-c", "touch /m/inner/old && echo ok"], remove=True,
                                    volumes={str(nested_host_mount): {"bind": "/m", "mode": "ro"}})
        assert out == b"ok\n" and (nested_host_mount / "inner" / "old").exists()
        body = {"Image": "busybox", "HostConfig": {"Mounts": [{
            "Type": "bind", "Source": str(nested_host_mount), "Target": "/m", "ReadOnly": True,
            "BindOptions": {"ReadOnlyForceRecursive": True}}]}}
        r = client.api._post_json(client.api._url("/containers/create"), data=body)
        assert r.status_code == 400
        assert r.json()["message"] == "BindOptions.ReadOnlyForceRecursive needs API v1.44 or newer"
    finally:
        client.close()


def test_copy_up_of_image_content(daemon, cli):
    d = daemon
    out = cli("run", "--rm", "-v", "cu-etc:/etc", "busybox", "cat", "/etc/passwd").stdout_text
    assert out.startswith("root:x:0:0:")
    # the copy is in the volume now, and a non-empty volume is never filled again
    assert (d.dir / "root" / "volumes" / "cu-etc" / "_data" / "group").exists()
    cli("run", "--rm", "-v", "cu-etc:/etc", "busybox", "rm", "/etc/group")
    out = cli("run", "--rm", "-v", "cu-etc:/etc", "busybox", "ls", "/etc").stdout_text.split()
    assert "passwd" in out and "group" not in out
    # nocopy: an empty volume stays empty
    out = cli("run", "--rm", "-v", "cu-none:/etc:nocopy", "busybox", "ls", "-A", "/etc").stdout_text.split()
    assert "passwd" not in out
    cli("volume", "rm", "cu-etc", "cu-none")


def test_image_volume_is_anonymous_and_filled(daemon, tmp_path):
    d = daemon
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN mkdir /data && echo seeded > /data/seed\n"
                                         "VOLUME /data\nRUN echo lost > /data/after\n")
    before = _volumes(d)
    d.docker("build", "-q", "-t", "t/vol:1", str(tmp_path))
    assert _volumes(d) == before   # the build's RUN containers left no anonymous volume behind
    cid = d.docker("create", "t/vol:1", "cat", "/data/seed", "/data/after").stdout_text.strip()
    mounts = _inspect(d, cid)["Mounts"]
    assert len(mounts) == 1 and mounts[0]["Type"] == "volume" and mounts[0]["Destination"] == "/data"
    assert len(mounts[0]["Name"]) == 64 and mounts[0]["Mode"] == "" and mounts[0]["RW"] is True
    vol = mounts[0]["Name"]
    labels = json.loads(d.docker("volume", "inspect", vol).stdout)[0]["Labels"]
    assert labels == {"com.docker.volume.anonymous": ""}
    p = d.docker("start", "-a", cid, check=False)
    assert p.stdout_text == "seeded\n" and "No such file" in p.stderr_text   # /data/after went with the RUN
    d.docker("rm", "-v", cid)
    assert vol not in _volumes(d)
    d.docker("rmi", "t/vol:1")


def test_anonymous_volumes_go_with_rm_v_and_auto_remove(daemon, cli):
    d = daemon
    before = _volumes(d)
    cli("run", "--rm", "-v", "/anon", "-v", "kept:/named", "busybox", "true")
    assert _volumes(d) - before == {"kept"}
    cli("run", "--name", "holder", "-v", "/anon", "--mount", "type=volume,target=/anon2", "busybox", "true")
    made = _volumes(d) - before - {"kept"}
    assert len(made) == 2
    cli("rm", "holder")   # without -v they stay, dangling
    dangling = set(cli("volume", "ls", "-q", "-f", "dangling=true").stdout_text.split())
    assert made <= dangling and "kept" in dangling
    out = cli("volume", "prune", "-f").stdout_text
    assert out.startswith("Deleted Volumes:\n") and "Total reclaimed space:" in out
    assert _volumes(d) - before == {"kept"}   # named ones are kept unless --all
    cli("volume", "prune", "-af", "--filter", "label=nope")
    assert "kept" in _volumes(d)
    cli("volume", "prune", "-af")
    assert "kept" not in _volumes(d)


def test_volume_in_use_cannot_be_removed(daemon, cli):
    d = daemon
    cid = cli("create", "-v", "busy:/data", "busybox", "true").stdout_text.strip()
    for attempt in (["volume", "rm", "busy"], ["volume", "rm", "-f", "busy"]):
        p = cli(*attempt, check=False)
        assert p.returncode == 1
        assert p.stderr_text == f"Error response from daemon: remove busy: volume is in use - [{cid}]\n"
    p = cli("volume", "rm", "nope-vol", check=False)
    assert p.stderr_text == "Error response from daemon: get nope-vol: no such volume\n"
    cli("volume", "rm", "-f", "nope-vol")
    out = d.docker("ps", "-a", "--filter", "volume=busy", "--format", "{{.ID}} {{.Mounts}}").stdout_text
    assert out == f"{cid[:12]} busy\n"
    assert d.docker("ps", "-a", "-q", "--filter", "volume=/data", "--no-trunc").stdout_text.split() == [cid]
    cli("rm", cid)
    cli("volume", "rm", "busy")


def test_inspect_mounts_fields(daemon, tmp_path):
    d = daemon
    cid = d.docker("create", "-v", "insp:/v:ro", "-v", f"{tmp_path}:/b", "--mount",
                   f"type=bind,src={tmp_path},dst=/c,bind-propagation=rslave", "--mount",
                   "type=tmpfs,dst=/t,tmpfs-size=1m", "--tmpfs", "/run", "busybox", "true").stdout_text.strip()
    mounts = {m["Destination"]: m for m in _inspect(d, cid)["Mounts"]}
    assert set(mounts) == {"/v", "/b", "/c", "/t"}   # HostConfig.Tmpfs is not among them, as in Docker
    assert mounts["/v"] == {"Type": "volume", "Name": "insp", "Source": str(d.dir / "root/volumes/insp/_data"),
                            "Destination": "/v", "Driver": "local", "Mode": "ro", "RW": False, "Propagation": ""}
    assert mounts["/b"] == {"Type": "bind", "Source": str(tmp_path), "Destination": "/b", "Mode": "",
                            "RW": True, "Propagation": "rprivate"}
    assert mounts["/c"]["Propagation"] == "rslave"
    assert mounts["/t"] == {"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "", "RW": True,
                            "Propagation": ""}
    d.docker("rm", cid)
    d.docker("volume", "rm", "insp")


def test_tmpfs_mounts_and_a_tmpfs_volume(daemon, cli):
    out = cli("run", "--rm", "--tmpfs", "/t:size=1m,mode=1777", "--mount", "type=tmpfs,target=/u,tmpfs-size=2m",
              "busybox", "sh", "-c", "grep -E ' /(t|u) ' /proc/mounts; stat -c %a /t").stdout_text
    assert "tmpfs /t tmpfs rw,nosuid,nodev,noexec,relatime,size=1024k" in out
    assert "tmpfs /u tmpfs rw,nosuid,nodev,noexec,relatime,size=2048k" in out
    assert out.endswith("1777\n")
    cli("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=4m", "tv")
    cli("run", "-d", "--name", "tv1", "-v", "tv:/s", "busybox", "sh", "-c", "echo shared > /s/f; sleep 300")
    try:
        out = cli("run", "--rm", "-v", "tv:/s", "busybox", "sh", "-c",
                  "for i in 1 2 3 4 5 6 7 8 9 10; do [ -s /s/f ] && break; sleep 0.2; done; cat /s/f; "
                  "grep ' /s ' /proc/mounts").stdout_text
        assert out.startswith("shared\ntmpfs /s tmpfs") and "size=4096k" in out
    finally:
        cli("rm", "-f", "tv1")
    # the last user gone, the tmpfs went with it
    assert cli("run", "--rm", "-v", "tv:/s", "busybox", "ls", "-A", "/s").stdout_text == ""
    cli("volume", "rm", "tv")


def test_volumes_from(daemon, cli, tmp_path):
    (tmp_path / "hostfile").write_text("from-host\n")
    cli("create", "--name", "src-c", "-v", "vf:/data", "-v", f"{tmp_path}:/hostdir", "busybox", "true")
    cli("run", "--rm", "-v", "vf:/data", "busybox", "sh", "-c", "echo shared > /data/x")
    out = cli("run", "--rm", "--volumes-from", "src-c", "busybox", "cat", "/data/x", "/hostdir/hostfile").stdout_text
    assert out == "shared\nfrom-host\n"
    p = cli("run", "--rm", "--volumes-from", "src-c:ro", "busybox", "sh", "-c", "echo no > /data/y", check=False)
    assert p.returncode != 0 and "Read-only file system" in p.stderr_text
    p = cli("run", "--rm", "--volumes-from", "nope-c", "busybox", "true", check=False)
    assert p.returncode == 125 and "No such container: nope-c" in p.stderr_text
    cli("rm", "src-c")
    cli("volume", "rm", "vf")


@pytest.mark.parametrize("args, message", [
    (["--mount", "type=bind,source=/nope,target=/x"],
     'invalid mount config for type "bind": bind source path does not exist: /nope'),
    (["-v", "/tmp:/data", "-v", "/var:/data"], "Duplicate mount point: /data"),
    (["-v", "newvol-a:/data", "--mount", "type=volume,src=newvol-b,dst=/data"], "Duplicate mount point: /data"),
    (["--mount", "type=volume,src=x,dst=/data"],
     "create x: volume name is too short, names should be at least two alphanumeric characters"),
    (["-v", "bad/name:/data"], 'create bad/name: "bad/name" includes invalid characters for a local volume name'),
    (["-v", "ok:rel"], "invalid volume specification: 'ok:rel': invalid mount config for type \"volume\": "
                       "invalid mount path: 'rel' mount path must be absolute"),
    (["-v", "/a:/b:zz"], "invalid mode: zz"),
    (["--tmpfs", "/t:bogus"], 'invalid tmpfs option "bogus"'),
    (["--tmpfs", "rel"], "invalid mount path: 'rel' mount path must be absolute"),
    (["--volumes-from", "nope-c"], "No such container: nope-c"),
])
def test_bad_specs_give_dockers_errors_and_leave_nothing(daemon, args, message):
    d = daemon
    vols, ctrs = _volumes(d), _containers(d)
    p = d.docker("run", "--rm", *args, "busybox", "true", check=False)
    assert p.returncode == 125 and message in p.stderr_text, p.stderr_text
    assert _volumes(d) == vols and _containers(d) == ctrs


def test_a_failure_after_volumes_were_made_takes_them_back(daemon, tmp_path):
    d = daemon
    (tmp_path / "Dockerfile").write_text("FROM busybox\nVOLUME /etc/passwd\n")
    d.docker("build", "-q", "-t", "t/filevol", str(tmp_path))
    vols, ctrs = _volumes(d), _containers(d)
    p = d.docker("run", "--rm", "-v", "newvol-a:/data", "t/filevol", "true", check=False)
    assert p.returncode == 125 and "cannot mount volume over existing file, file exists" in p.stderr_text
    assert _volumes(d) == vols and _containers(d) == ctrs
    d.docker("rmi", "t/filevol")


def test_volume_events(daemon):
    d = daemon
    start = str(time.time())
    d.docker("volume", "create", "ev")
    d.docker("run", "--rm", "-v", "ev:/e", "busybox", "true")
    d.docker("volume", "rm", "ev")
    out = d.docker("events", "--since", start, "--until", str(time.time() + 1), "--filter", "type=volume",
                   "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}} "
                               "{{index .Actor.Attributes \"destination\"}}").stdout_text.splitlines()
    assert out == ["create ev local ", "mount ev local /e", "unmount ev local ", "destroy ev local "]
