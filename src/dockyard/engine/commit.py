"""`docker commit`: a container's changes become a new image on top of the container's image.

As moby's daemon/commit.go (CreateImageFromContainer) and image.NewChildImage:

- a dead container or one being removed cannot be committed (409); a missing one is 404;
- a running container is paused while its changes are read, unless `pause` is off (a
  failing pause is ignored, as moby does), and unpaused afterwards;
- the image's Config is the request's config (or, with none, the container's), with the
  `changes` (Dockerfile lines) applied, then completed from the container's config;
- `container` and `container_config` record the container and its own config; the new
  history entry's `created_by` is the container's Cmd joined by spaces; `author` is kept
  top-level and in history, the comment only in history;
- an empty diff adds no layer, only a history entry marked `empty_layer`;
- the parent image is recorded (the images table's `parent`), the new image tagged if asked;
  events: image `create`, image `tag`, container `commit` (comment, imageID, imageRef).

The config building is pure (dicts in, dict out); `commit()` does the I/O.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

from dockyard import errors
from dockyard.engine.control import ContainerControl
from dockyard.engine.images_changes import apply_changes
from dockyard.engine.state import Status
from dockyard.oci.image_spec import RunConfig, canonical_json, rfc3339_now
from dockyard.store import references

__all__ = ["CommitOptions", "commit", "commit_config", "merge_commit_config", "child_image_config",
           "container_config_doc", "request_config"]

# container.Config as Go marshals it: every field, in its order; (key, default, omitted when empty)
_CONFIG_FIELDS: tuple[tuple[str, Any, bool], ...] = (
    ("Hostname", "", False), ("Domainname", "", False), ("User", "", False),
    ("AttachStdin", False, False), ("AttachStdout", False, False), ("AttachStderr", False, False),
    ("ExposedPorts", None, True), ("Tty", False, False), ("OpenStdin", False, False),
    ("StdinOnce", False, False), ("Env", None, False), ("Cmd", None, False), ("Healthcheck", None, True),
    ("ArgsEscaped", False, True), ("Image", "", False), ("Volumes", None, False), ("WorkingDir", "", False),
    ("Entrypoint", None, False), ("NetworkDisabled", False, True), ("MacAddress", "", True),
    ("OnBuild", None, False), ("Labels", None, False), ("StopSignal", "", True), ("StopTimeout", None, True),
    ("Shell", None, True),
)
# what RunConfig models, so a change that clears one of them (ENTRYPOINT resets CMD) really clears it
_RUN_FIELDS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
               "StopSignal", "ArgsEscaped", "Healthcheck", "OnBuild", "Shell")


@dataclass(frozen=True)
class CommitOptions:
    repo: str = ""
    tag: str = ""
    author: str = ""
    comment: str = ""
    pause: bool = True
    changes: list[str] = field(default_factory=list)
    config: dict[str, Any] | None = None    # the request body's container config; None: the container's


# ---------------------------------------------------------------- pure config building

def request_config(body: Any) -> dict[str, Any] | None:
    """The container config a commit request carries, as Go decodes it into an embedded
    *container.Config: field names match case-insensitively, unknown keys are ignored, and
    with no field given the pointer stays nil (None: use the container's config). docker-py
    always sends `{}`."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise errors.InvalidArgument("invalid JSON: the body must be an object")
    canonical = {key.lower(): key for key, _, _ in _CONFIG_FIELDS}
    out = {canonical[k.lower()]: v for k, v in body.items() if k.lower() in canonical}
    return out or None


def container_config_doc(config: dict[str, Any]) -> dict[str, Any]:
    """`config` in container.Config's shape: every field present (or omitted when empty, as Go does)."""
    out: dict[str, Any] = {}
    for key, default, omit_empty in _CONFIG_FIELDS:
        value = config.get(key, default)
        if omit_empty and not value:
            continue
        out[key] = copy.deepcopy(value) if value is not None else default
    return out


def merge_commit_config(user: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    """moby's daemon.merge: fill what `user` leaves unset from `base` (the container's config)."""
    out = copy.deepcopy(user)
    if not out.get("User"):
        out["User"] = base.get("User") or ""
    ports = out.get("ExposedPorts") or {}
    out["ExposedPorts"] = {**ports, **{p: v for p, v in (base.get("ExposedPorts") or {}).items()
                                       if p not in ports}} if ports else base.get("ExposedPorts")
    env = list(out.get("Env") or [])
    if not env:
        out["Env"] = base.get("Env")
    else:
        keys = {e.split("=", 1)[0] for e in env}
        out["Env"] = env + [e for e in base.get("Env") or [] if e.split("=", 1)[0] not in keys]
    labels = dict(out.get("Labels") or {})
    for k, v in (base.get("Labels") or {}).items():
        labels.setdefault(k, v)
    out["Labels"] = labels
    if not out.get("Entrypoint"):
        if not out.get("Cmd"):
            out["Cmd"] = base.get("Cmd")
        if out.get("Entrypoint") is None:
            out["Entrypoint"] = base.get("Entrypoint")
    base_hc = base.get("Healthcheck")
    if base_hc:
        hc = out.get("Healthcheck")
        if not hc:
            out["Healthcheck"] = copy.deepcopy(base_hc)
        else:
            for key in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
                if not hc.get(key):
                    if base_hc.get(key):
                        hc[key] = base_hc[key]
    if not out.get("WorkingDir"):
        out["WorkingDir"] = base.get("WorkingDir") or ""
    volumes = out.get("Volumes") or {}
    out["Volumes"] = {**volumes, **(base.get("Volumes") or {})} if volumes else base.get("Volumes")
    if not out.get("StopSignal") and base.get("StopSignal"):
        out["StopSignal"] = base["StopSignal"]
    return container_config_doc(out)


def commit_config(container_config: dict[str, Any], request_config: dict[str, Any] | None,
                  changes: list[str]) -> dict[str, Any]:
    """The new image's Config: request (or container) config, `changes` applied, merged over the container's."""
    start = container_config if request_config is None else request_config
    if changes:
        run = apply_changes(RunConfig.from_json(start), list(changes))
        doc = run.to_json()
        start = {**{k: v for k, v in start.items() if k not in _RUN_FIELDS}, **doc}
    return merge_commit_config(start, container_config)


def child_image_config(parent: dict[str, Any], *, diff_id: str | None, container_id: str,
                       container_config: dict[str, Any], config: dict[str, Any], author: str = "",
                       comment: str = "", created: str = "") -> dict[str, Any]:
    """image.NewChildImage: the parent's rootfs and history plus one layer (none if `diff_id` is None)."""
    created = created or rfc3339_now()
    rootfs = parent.get("rootfs") or {}
    diff_ids = list(rootfs.get("diff_ids") or [])
    if diff_id is not None:
        diff_ids.append(diff_id)
    entry: dict[str, Any] = {"created": created}
    if author:
        entry["author"] = author
    created_by = " ".join(container_config.get("Cmd") or [])
    if created_by:
        entry["created_by"] = created_by
    if comment:
        entry["comment"] = comment
    if diff_id is None:
        entry["empty_layer"] = True
    doc: dict[str, Any] = {
        "architecture": parent.get("architecture") or "amd64",
        "os": "linux",
        "config": config,
        "container": container_id,
        "container_config": container_config_doc(container_config),
        "created": created,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [*list(parent.get("history") or []), entry],
    }
    if author:
        doc["author"] = author
    for key in ("variant", "os.version", "os.features"):
        if parent.get(key):
            doc[key] = parent[key]
    return doc


# ---------------------------------------------------------------- the verb

async def commit(containers: Any, ref: str, opts: CommitOptions) -> str:
    """Commit container `ref` (ContainerService); returns the new image id."""
    tag_ref = references.repo_tag_reference(opts.repo, opts.tag or None) if opts.repo else None
    c = containers.get(ref)
    _check_committable(c)
    control = ContainerControl(containers)
    paused = False
    if opts.pause and c.state.status is not Status.PAUSED:
        try:
            await control.pause(c.id)
            paused = True
        except errors.DockyardError:
            pass  # not running (or cannot freeze): commit as it is, as moby does
    try:
        async with containers._lock(c.id):
            c = containers.get(c.id)  # NotFound if it was removed meanwhile
            _check_committable(c)
            config = commit_config(c.config, opts.config, opts.changes)
            image_id = await asyncio.get_running_loop().run_in_executor(
                None, _commit_image, containers, c, config, opts, tag_ref)
    finally:
        if paused:
            try:
                await control.unpause(c.id)
            except errors.DockyardError:
                pass  # it exited meanwhile
    emit = containers._emit
    emit("image", "create", image_id, name=image_id)
    image_ref = ""
    if tag_ref is not None:
        image_ref = tag_ref.familiar
        emit("image", "tag", image_id, name=image_ref)
    emit("container", "commit", c, comment=opts.comment, imageID=image_id, imageRef=image_ref)
    return image_id


def _check_committable(c: Any) -> None:
    if c.state.status is Status.DEAD:
        raise errors.Conflict(f"You cannot commit container {c.id} which is Dead")
    if c.state.status is Status.REMOVING:
        raise errors.Conflict(f"You cannot commit container {c.id} which is being removed")


def _commit_image(containers: Any, c: Any, config: dict[str, Any], opts: CommitOptions,
                  tag_ref: references.Reference | None) -> str:
    images = containers.images
    parent = images.resolve(c.image_id)
    upper = containers.paths.container(c.id) / "rw" / "upper"
    layer = images.commit_layer(upper, images.rootfs_lowerdirs(c.image_id))
    try:
        doc = child_image_config(parent.config, diff_id=layer.diff_id if layer else None, container_id=c.id,
                                 container_config=c.config, config=config, author=opts.author,
                                 comment=opts.comment)
        layers = images.image_layers(parent.id) + ([layer] if layer else [])
    except BaseException:
        if layer is not None:
            images.discard_layers([layer])
        raise
    record = images.store_image(canonical_json(doc), layers, [str(tag_ref)] if tag_ref else [],
                                parent=parent.id)
    return str(record.id)
