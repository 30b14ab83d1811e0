"""The builder's cache that is not images (the unpacked build contexts it keeps) through
`GET /system/df`, `docker system df [-v]`, `docker builder prune` and `docker system prune`,
with the real docker CLI and dockyard's: sizes as on disk, dirs really gone, builds still right."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from daemon_harness import DOCKER
from dockyard.units import human_size

CLIS = ["docker", "dockyard"]
DESCRIPTION = "local source for context"


def api(daemon, path: str, method: str = "GET") -> tuple[int, dict]:
    p = subprocess.run(["curl", "-s", "-X", method, "-w", "\n%{http_code}", "--unix-socket", str(daemon.socket),
                        f"http://x{path}"], capture_output=True, text=True, check=True)
    body, _, status = p.stdout.rpartition("\n")
    return int(status), json.loads(body)


def records(daemon) -> list[dict]:
    status, du = api(daemon, "/v1.50/system/df?type=build-cache")
    assert status == 200 and du["Images"] is None
    return du["BuildCache"]


def context_dirs(daemon) -> list[Path]:
    return sorted((daemon.dir / "root").rglob("build/contexts/ctx-*"))


def du_bytes(path: Path) -> int:
    """GNU du's count of the allocated bytes: the daemon must report the same."""
    return int(subprocess.run(["du", "-s", "-B1", str(path)], capture_output=True, text=True,
                              check=True).stdout.split()[0])


def make_context(tmp_path: Path, name: str, dockerfile: str, size: int = 20_000) -> tuple[Path, bytes]:
    d = tmp_path / name
    d.mkdir()
    data = os.urandom(size)
    (d / "data.bin").write_bytes(data)
    (d / "Dockerfile").write_text(dockerfile)
    return d, data


def prune_all(daemon) -> None:
    daemon.docker("builder", "prune", "-af")
    assert records(daemon) == [] and context_dirs(daemon) == []


def total(n: int) -> str:
    return f"Total reclaimed space: {human_size(n, 4)}"


def test_a_build_context_is_a_cache_record_as_big_as_on_disk_and_prune_frees_it(daemon, tmp_path):
    prune_all(daemon)
    ctx, data = make_context(tmp_path, "c1", "FROM busybox\nCOPY data.bin /data.bin\n")
    started = time.time()
    daemon.docker("build", "-t", "bcache-one", str(ctx))
    [rec] = records(daemon)
    [on_disk] = context_dirs(daemon)
    assert rec["Size"] == du_bytes(on_disk) > len(data)
    assert (rec["Type"], rec["Description"], rec["InUse"], rec["Shared"], rec["Parents"], rec["UsageCount"]) == \
        ("source.local", DESCRIPTION, False, False, None, 1)
    assert re.fullmatch(r"[0-9a-z]{25}", rec["ID"]) and rec["CreatedAt"] <= rec["LastUsedAt"]

    # old API versions: the single Parent, and BuilderSize
    status, old = api(daemon, "/v1.41/system/df")
    assert status == 200 and old["BuilderSize"] == rec["Size"] and old["BuildCache"][0]["Parent"] == ""
    assert "BuilderSize" not in api(daemon, "/v1.50/system/df")[1]

    for cli in CLIS:
        rows = getattr(daemon, cli)("system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}"
                                    "|{{.Reclaimable}}").stdout_text.splitlines()
        size = human_size(rec["Size"], 4)
        assert rows[-1] == f"Build Cache|1|0|{size}|{size}"
    verbose = {cli: getattr(daemon, cli)("system", "df", "-v").stdout_text.partition("Build cache usage:")[2]
               for cli in CLIS}
    lines = verbose["docker"].splitlines()
    assert lines[0] == f" {human_size(rec['Size'], 4)}"
    assert lines[2].split() == ["CACHE", "ID", "CACHE", "TYPE", "SIZE", "CREATED", "LAST", "USED", "USAGE", "SHARED"]
    assert lines[3].split()[:3] == [rec["ID"][:12], "source.local", human_size(rec["Size"], 3)]
    assert lines[3].split()[-2:] == ["1", "false"]

    def clockless(text: str) -> str:
        return re.sub(r"(Less than a second|About a minute|\d+ (second|minute)s?) ago", "AGO", text)
    assert clockless(verbose["docker"]) == clockless(verbose["dockyard"])

    # filters that leave it alone
    for flt in ("type=regular", "until=1h", "description=something else", "id=^nomatch", "inuse="):
        assert daemon.docker("builder", "prune", "-f", "--filter", flt).stdout_text == total(0) + "\n", flt
    assert records(daemon) == [rec]

    out = daemon.docker("builder", "prune", "-f").stdout_text
    assert out == f"Deleted build cache objects:\n{rec['ID']}\n\n{total(rec['Size'])}\n"
    assert not on_disk.exists() and records(daemon) == [] and context_dirs(daemon) == []
    events = daemon.docker("events", "--since", str(int(started)), "--until", str(time.time() + 1), "--filter",
                           "type=builder", "--format", "{{.Type}} {{.Action}} {{.Actor.Attributes.reclaimed}}")
    assert f"builder prune {rec['Size']}" in events.stdout_text.splitlines()

    # the next build unpacks the context again, and its image is still right
    daemon.docker("build", "--no-cache", "-t", "bcache-one", str(ctx))
    got = daemon.docker("run", "--rm", "bcache-one", "cat", "/data.bin").stdout
    assert got == data
    [again] = records(daemon)
    assert again["ID"] == rec["ID"] and again["UsageCount"] == 1 and len(context_dirs(daemon)) == 1
    daemon.docker("rmi", "bcache-one")


def test_prune_spares_the_context_of_a_running_build(daemon, tmp_path):
    prune_all(daemon)
    ctx, _ = make_context(tmp_path, "slow", f"FROM busybox\nCOPY data.bin /d\nRUN sleep 4 # {os.urandom(4).hex()}\n")
    build = subprocess.Popen([DOCKER, "build", "-t", "bcache-slow", str(ctx)],
                             env=daemon.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        busy: list[dict] = []
        while time.time() < deadline and not busy:
            busy = [r for r in records(daemon) if r["InUse"]]
            time.sleep(0.2)
        assert busy, "the build's context never showed as in use"
        [rec] = busy
        assert rec["UsageCount"] == 0 and rec["LastUsedAt"] is None     # its first use has not ended
        for cli in CLIS:
            assert getattr(daemon, cli)("builder", "prune", "-af").stdout_text == total(0) + "\n"
            text = getattr(daemon, cli)("system", "df", "-v").stdout_text
            assert f"{rec['ID'][:12]}*" in text                        # starred: in use
        assert len(context_dirs(daemon)) == 1
        out, err = build.communicate(timeout=120)
        assert build.returncode == 0, err
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()
    [done] = records(daemon)
    assert not done["InUse"] and done["UsageCount"] == 1
    assert daemon.docker("builder", "prune", "-f").stdout_text.startswith(f"Deleted build cache objects:\n{rec['ID']}\n")
    daemon.docker("rmi", "bcache-slow")


def test_keep_storage_removes_the_least_recently_used_first(daemon, tmp_path):
    prune_all(daemon)
    first, _ = make_context(tmp_path, "first", "FROM busybox\nCOPY data.bin /a\n", size=30_000)
    second, _ = make_context(tmp_path, "second", "FROM busybox\nCOPY data.bin /b\n", size=10_000)
    daemon.docker("build", "-t", "bcache-first", str(first))
    [a] = records(daemon)
    daemon.docker("build", "-t", "bcache-second", str(second))
    [b] = [r for r in records(daemon) if r["ID"] != a["ID"]]
    both = a["Size"] + b["Size"]
    out = daemon.docker("builder", "prune", "-f", "--keep-storage", str(both + 1)).stdout_text
    assert out == total(0) + "\n"                                  # under the limit: nothing goes
    out = daemon.docker("builder", "prune", "-f", "--keep-storage", str(both)).stdout_text
    assert out == f"Deleted build cache objects:\n{a['ID']}\n\n{total(a['Size'])}\n"
    assert [r["ID"] for r in records(daemon)] == [b["ID"]] and len(context_dirs(daemon)) == 1
    # the newer API names: max-used-space above the total keeps everything
    status, report = api(daemon, f"/v1.50/build/prune?max-used-space={10 * both}", "POST")
    assert (status, report) == (200, {"CachesDeleted": None, "SpaceReclaimed": 0})
    status, report = api(daemon, "/v1.50/build/prune?reserved-space=1", "POST")
    assert (status, report) == (200, {"CachesDeleted": [b["ID"]], "SpaceReclaimed": b["Size"]})
    daemon.docker("rmi", "bcache-first", "bcache-second")


@pytest.mark.parametrize("cli", CLIS)
def test_filters_pick_records_and_bad_ones_are_refused(daemon, tmp_path, cli):
    prune_all(daemon)
    one, _ = make_context(tmp_path, "one", "FROM busybox\nCOPY data.bin /1\n")
    two, _ = make_context(tmp_path, "two", "FROM busybox\nCOPY data.bin /2\n")
    daemon.docker("build", "-t", f"bcache-f-{cli}", str(one))
    [a] = records(daemon)
    daemon.docker("build", "-t", f"bcache-f-{cli}", str(two))
    [b] = [r for r in records(daemon) if r["ID"] != a["ID"]]
    run = getattr(daemon, cli)
    out = run("builder", "prune", "-f", "--filter", f"id={a['ID'][:10]}").stdout_text
    assert out == f"Deleted build cache objects:\n{a['ID']}\n\n{total(a['Size'])}\n"
    out = run("builder", "prune", "-f", "--filter", "type=source.local", "--filter",
              f"description={DESCRIPTION}").stdout_text
    assert out == f"Deleted build cache objects:\n{b['ID']}\n\n{total(b['Size'])}\n"
    assert context_dirs(daemon) == []
    for flt, message in ((["bogus=1"], "invalid filter 'bogus'"),
                         (["dangling=true"], "invalid filter 'dangling'"),
                         (["until=soon"], "\"until\" filter expects a duration (e.g., '24h') or a timestamp"),
                         (["type=a", "type=b"], "filters expect only one value"),
                         (["until=1h", "unused-for=2h"], 'conflicting filters: "until" and "unused-for"')):
        p = run("builder", "prune", "-f", *[a for f in flt for a in ("--filter", f)], check=False)
        assert p.returncode != 0 and message in p.stderr_text, (flt, p.stderr_text)
    status, body = api(daemon, "/v1.50/build/prune?filters=%7B%22bogus%22%3A%5B%221%22%5D%7D", "POST")
    assert (status, body) == (400, {"message": "invalid filter 'bogus'"})
    daemon.docker("rmi", f"bcache-f-{cli}")


@pytest.mark.parametrize("cli", CLIS)
def test_system_prune_takes_the_build_cache_too(daemon, tmp_path, cli):
    prune_all(daemon)
    ctx, _ = make_context(tmp_path, "sys", "FROM busybox\nCOPY data.bin /s\n")
    daemon.docker("build", "-t", f"bcache-sys-{cli}", str(ctx))
    [rec] = records(daemon)
    out = getattr(daemon, cli)("system", "prune", "-f").stdout_text
    assert f"Deleted build cache objects:\n{rec['ID']}\n\n" in out
    assert out.splitlines()[-1].startswith("Total reclaimed space: ")
    assert records(daemon) == [] and context_dirs(daemon) == []
    daemon.docker("rmi", f"bcache-sys-{cli}")


def test_a_daemon_restart_empties_the_cache_it_would_not_know_about(daemon, tmp_path):
    ctx, data = make_context(tmp_path, "restart", "FROM busybox\nCOPY data.bin /r\n")
    daemon.docker("build", "-t", "bcache-restart", str(ctx))
    assert len(records(daemon)) == 1 and len(context_dirs(daemon)) == 1
    daemon.kill9()      # a crash: nothing had the chance to clean up
    time.sleep(0.5)
    daemon.start()
    assert records(daemon) == [] and context_dirs(daemon) == []
    daemon.docker("build", "-t", "bcache-restart", str(ctx))
    assert daemon.docker("run", "--rm", "bcache-restart", "cat", "/r").stdout == data
    assert [r["UsageCount"] for r in records(daemon)] == [1]
    daemon.docker("builder", "prune", "-f")
    daemon.docker("rmi", "bcache-restart")
