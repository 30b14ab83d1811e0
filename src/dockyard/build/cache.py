"""The build cache, keyed as Docker's classic builder keys it.

Every step of a build is committed as an image whose `parent` is the image the
step started from, and whose config records the step as `container_config`: the
run config at that point with `Cmd` set to what the step did (`RUN`'s command,
or `#(nop) COPY file:<content hash> in /dest` for the rest). A later step with
the same parent and the same `container_config` reuses that image instead of
running again, which is why an unchanged rebuild ends at the very same image ID.
"""

from __future__ import annotations

import json
from typing import Any

from dockyard.oci.image_spec import parse_rfc3339
from dockyard.store.content import ContentStore
from dockyard.store.db import Database

__all__ = ["BuildCache", "cache_key"]


def cache_key(container_config: dict[str, Any]) -> str:
    """Compare configs by their canonical JSON: key order and absent-vs-empty do not matter."""
    return json.dumps({k: v for k, v in container_config.items() if v not in (None, "", [], {}, False)},
                      sort_keys=True, separators=(",", ":"))


class BuildCache:
    def __init__(self, db: Database, content: ContentStore) -> None:
        self.db = db
        self.content = content

    def probe(self, parent: str, container_config: dict[str, Any]) -> str | None:
        """The newest image built from `parent` by the same step, if any."""
        want = cache_key(container_config)
        best: tuple[float, str] | None = None
        for row in self.db.query("SELECT id, created FROM images WHERE parent = ?", (parent,)):
            try:
                doc = json.loads(self.content.read(row["id"], verify=False))
            except (OSError, ValueError):
                continue
            if not isinstance(doc, dict) or cache_key(doc.get("container_config") or {}) != want:
                continue
            created = parse_rfc3339(row["created"] or "")
            if best is None or created > best[0]:
                best = (created, row["id"])
        return best[1] if best else None
