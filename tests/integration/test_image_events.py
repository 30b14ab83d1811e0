"""Image events: tag, untag, delete and import reach `docker events` as Docker sends them."""

from __future__ import annotations

import json
import time


def test_image_tag_untag_delete_import_events(daemon, tmp_path):
    from daemon_harness import busybox_rootfs_tar
    since = str(time.time() - 1)
    tar = busybox_rootfs_tar(tmp_path)
    daemon.docker("import", str(tar), "evimg:1")
    image = daemon.docker("image", "inspect", "-f", "{{.Id}}", "evimg:1").stdout_text.strip()
    daemon.docker("tag", "evimg:1", "evimg:2")
    daemon.docker("rmi", "evimg:1", "evimg:2")
    until = str(time.time() + 1)
    out = daemon.docker("events", "--since", since, "--until", until, "--filter", "type=image",
                        "--format", "{{json .}}").stdout_text
    events = [json.loads(line) for line in out.splitlines()]
    seen = [(e["Action"], e["Actor"]["Attributes"]["name"]) for e in events if e["Actor"]["ID"] == image]
    assert seen == [("import", image), ("tag", "evimg:2"), ("untag", image), ("untag", image),
                    ("delete", image)]
