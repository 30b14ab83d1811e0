"""Human-readable values, tabwriter, list formats: compared with strings docker prints."""

from __future__ import annotations

import pytest

from dockyard.cli.format import format_rows
from dockyard.cli.formatting import (
    container_status,
    display_ports,
    ellipsis,
    human_duration,
    human_size,
    parse_duration,
    tabwrite,
    time_ago,
    truncate_id,
)
from dockyard.cli.images import DEFAULT_TABLE as IMAGES_TABLE
from dockyard.cli.images import ImageRow, image_rows
from dockyard.cli.ps import DEFAULT_TABLE as PS_TABLE
from dockyard.cli.ps import ContainerRow


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0B"), (999, "999B"), (1000, "1kB"), (1234, "1.23kB"), (4261000, "4.26MB"), (4_400_000, "4.4MB"),
     (77_800_000, "77.8MB"), (1_500_000_000, "1.5GB"), (123_456_789, "123MB")],
)
def test_human_size(size, text):
    assert human_size(size) == text


@pytest.mark.parametrize(
    ("secs", "text"),
    [(0.3, "Less than a second"), (1, "1 second"), (3, "3 seconds"), (59, "59 seconds"), (60, "About a minute"),
     (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
     (5399, "About an hour"), (5400, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"),
     (14 * 86400, "2 weeks"), (60 * 86400, "2 months"), (800 * 86400, "2 years")],
)
def test_human_duration(secs, text):
    assert human_duration(secs) == text


def test_time_ago_and_status():
    assert time_ago(1000, now=1090) == "About a minute ago"
    assert container_status("running", 100, None, 0, now=103) == "Up 3 seconds"
    assert container_status("exited", 100, 1000, 0, now=1120) == "Exited (0) 2 minutes ago"
    assert container_status("created", None, None, 0) == "Created"
    assert container_status("paused", 100, None, 0, now=160) == "Up About a minute (Paused)"


def test_ids_and_ellipsis():
    assert truncate_id("sha256:" + "a" * 64) == "a" * 12
    assert truncate_id("b" * 64) == "b" * 12
    assert ellipsis("sh -c 'while true; do sleep 1; done'", 20) == "sh -c 'while true; …"
    assert ellipsis("short", 20) == "short"


def test_ports():
    assert display_ports([
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 18081, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 18081, "Type": "tcp"},
    ]) == "0.0.0.0:18081->80/tcp, [::]:18081->80/tcp"
    assert display_ports([
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 80, "Type": "tcp"},
        {"IP": "0.0.0.0", "PrivatePort": 81, "PublicPort": 81, "Type": "tcp"},
        {"PrivatePort": 53, "Type": "udp"},
    ]) == "53/udp, 0.0.0.0:80-81->80-81/tcp"
    assert display_ports([{"IP": "::", "PrivatePort": 80, "PublicPort": 80, "Type": "tcp"}]) == ":::80->80/tcp"
    assert display_ports([]) == ""


def test_tabwriter_like_go():
    assert tabwrite("CONTAINER ID\tIMAGE\tNAMES\nabc\tbusybox:latest\tx\n") == (
        "CONTAINER ID   IMAGE            NAMES\n"
        "abc            busybox:latest   x\n"
    )
    # the last cell of a line is not a column cell; minwidth 10
    assert tabwrite("a\tb\n") == "a         b\n"
    # a line without tabs ends the column block
    assert tabwrite("aa\tb\nplain\nc\td\n") == "aa        b\nplain\nc         d\n"
    assert tabwrite(" Version:\t1\n API version:\t2\n", minwidth=20, padding=1) == (
        " Version:           1\n API version:       2\n")


def test_parse_duration():
    assert parse_duration("1h30m") == 5400
    assert parse_duration("1.5s") == 1.5
    assert parse_duration("300ms") == 0.3
    with pytest.raises(ValueError):
        parse_duration("10")
    with pytest.raises(ValueError):
        parse_duration("abc")


CONTAINER = {
    "Id": "fc2b8ac09b5cff1096a6c6a408f98557a3ba428b3d752cafc2e153ac99a4c8d6",
    "Names": ["/web"],
    "Image": "busybox:latest",
    "Command": "httpd -f -p 80 -h /var/www/html",
    "Created": 1000,
    "Ports": [{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 18081, "Type": "tcp"}],
    "Labels": {"b": "2", "a": "1"},
    "State": "running",
    "Status": "Up 3 seconds",
    "NetworkSettings": {"Networks": {"bridge": {}}},
    "Mounts": [],
}


def test_ps_default_table():
    out = format_rows("", [ContainerRow(CONTAINER, now=1003)], ContainerRow.HEADERS, PS_TABLE)
    assert out == (
        "CONTAINER ID   IMAGE            COMMAND                  CREATED         STATUS         "
        "PORTS                   NAMES\n"
        'fc2b8ac09b5c   busybox:latest   "httpd -f -p 80 -h /…"   3 seconds ago   Up 3 seconds   '
        "0.0.0.0:18081->80/tcp   web\n"
    )


def test_ps_empty_table_prints_header():
    out = format_rows("", [], ContainerRow.HEADERS, PS_TABLE)
    assert out == "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n"


def test_ps_custom_formats():
    rows = [ContainerRow(CONTAINER, now=1003)]
    assert format_rows("{{.Names}} {{.Labels}} {{.Label \"a\"}}", rows, ContainerRow.HEADERS, PS_TABLE) == (
        "web a=1,b=2 1\n")
    assert format_rows("table {{.Names}}\\t{{.State}}", rows, ContainerRow.HEADERS, PS_TABLE) == (
        "NAMES     STATE\nweb       running\n")
    assert format_rows("{{.ID}}", [ContainerRow(CONTAINER, trunc=False)], ContainerRow.HEADERS, PS_TABLE) == (
        CONTAINER["Id"] + "\n")
    js = format_rows("json", rows, ContainerRow.HEADERS, PS_TABLE)
    assert js.startswith('{"Command":"\\"httpd -f -p 80 -h /…\\""') and '"Names":"web"' in js


def test_images_rows_and_table():
    images = [
        {"Id": "sha256:" + "e" * 64, "RepoTags": ["busybox:latest", "docker.io/me/app:1"],
         "RepoDigests": [], "Created": 1000, "Size": 4261000},
        {"Id": "sha256:" + "f" * 64, "RepoTags": [], "RepoDigests": [], "Created": 0, "Size": 0},
    ]
    rows = image_rows(images, digests=False, trunc=True, now=1000 + 7200)
    assert [(r.Repository(), r.Tag()) for r in rows] == [("busybox", "latest"), ("me/app", "1"), ("<none>", "<none>")]
    out = format_rows("", rows, ImageRow.HEADERS, IMAGES_TABLE)
    assert out.splitlines() == [
        "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE",
        "busybox      latest    eeeeeeeeeeee   2 hours ago   4.26MB",
        "me/app       1         eeeeeeeeeeee   2 hours ago   4.26MB",
        "<none>       <none>    ffffffffffff   N/A           0B",
    ]
