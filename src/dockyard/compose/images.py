"""Images for services: pulled through `POST /images/create`, built through `POST /build`.

A service with `build:` and no `image:` is tagged `<project>-<service>`, as compose v2 does.
"""

from __future__ import annotations

import json
import os
import tempfile

from dockyard.compose.errors import BUILD_FAILURE, PULL_FAILURE, ComposeError
from dockyard.compose.naming import image_name
from dockyard.errors import NotFound

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.client.api import Client
    from dockyard.compose.model import Project
    from dockyard.compose.progress import Progress

__all__ = ["service_image", "build_service", "pull_service", "push_service", "ensure_image"]


def service_image(project: Project, name: str) -> str:
    svc = project.services[name]
    return svc.get("image") or image_name(project.name, name)


def _split_ref(ref: str) -> tuple[str, str]:
    last = ref.rsplit("/", 1)[-1]
    if "@" in ref:
        repo, _, digest = ref.partition("@")
        return repo, digest
    if ":" in last:
        repo, _, tag = ref.rpartition(":")
        return repo, tag
    return ref, "latest"


def _check_stream(messages: Any, fail_code: int, out: Any = None) -> None:
    for m in messages:
        if not isinstance(m, dict):
            continue
        if m.get("error") or m.get("errorDetail"):
            raise ComposeError((m.get("errorDetail") or {}).get("message") or m.get("error"), fail_code)
        if out is not None and m.get("stream"):
            out.write(m["stream"])


def build_service(client: Client, project: Project, name: str, progress: Progress, out: Any = None) -> str:
    from dockyard.build.contexttar import make_context_tar

    b = project.services[name]["build"]
    tag = service_image(project, name)
    progress.event("Service", name, "Building")
    with tempfile.TemporaryFile() as tmp:
        # compose resolves `dockerfile` against the context directory, not the current one
        dockerfile = make_context_tar(b["context"], os.path.join(b["context"], b.get("dockerfile") or "Dockerfile"),
                                      tmp)
        tmp.seek(0)
        params = {"t": tag, "dockerfile": dockerfile, "target": b.get("target") or None, "rm": "1",
                  "buildargs": json.dumps({k: v for k, v in (b.get("args") or {}).items() if v is not None})
                  if b.get("args") else None,
                  "labels": json.dumps(b["labels"]) if isinstance(b.get("labels"), dict) else None,
                  "nocache": "1" if b.get("no_cache") else None, "version": "1"}
        messages = client.stream_json("POST", "/build", params, body=tmp, headers={"Content-Type": "application/x-tar"})
        _check_stream(messages, BUILD_FAILURE, out)
    progress.event("Service", name, "Built")
    return tag


def pull_service(client: Client, ref: str, progress: Progress, name: str) -> None:
    repo, tag = _split_ref(ref)
    progress.event("Image", ref, "Pulling")
    try:
        _check_stream(client.stream_json("POST", "/images/create", {"fromImage": repo, "tag": tag}), PULL_FAILURE)
    except NotFound as e:
        raise ComposeError(e.message, PULL_FAILURE) from None
    progress.event("Image", ref, "Pulled")


def push_service(client: Client, ref: str, progress: Progress) -> None:
    from dockyard.client.api import quote

    repo, tag = _split_ref(ref)
    progress.event("Image", ref, "Pushing")
    _check_stream(client.stream_json("POST", f"/images/{quote(repo, safe='/:')}/push", {"tag": tag},
                                     headers={"X-Registry-Auth": "e30="}), 1)
    progress.event("Image", ref, "Pushed")


def ensure_image(client: Client, project: Project, name: str, progress: Progress, build: bool = False) -> str:
    """The image ID for a service: built when asked or missing, pulled when missing."""
    ref = service_image(project, name)
    svc = project.services[name]
    if "build" in svc and build:
        build_service(client, project, name, progress)
    try:
        return client.inspect_image(ref)["Id"]
    except NotFound:
        if "build" in svc:
            build_service(client, project, name, progress)
        else:
            pull_service(client, ref, progress, name)
        return client.inspect_image(ref)["Id"]
