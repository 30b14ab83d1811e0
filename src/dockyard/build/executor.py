"""The builder: a parsed Dockerfile and its context in, an image out, step by step.

::

    prepare (worker thread)            run (event loop)
    context tar → dir, .dockerignore   for each needed stage: FROM → state
    Dockerfile → stages                  for each instruction: Step n/N, expand, cache probe,
    errors here: HTTP 400                  then metadata | RUN (container) | COPY/ADD/WORKDIR (mount)
                                           → commit_step → " ---> <id>"
                                       tag the target stage's image

As Docker's classic builder: every step is an image whose parent is the previous
step's, the cache matches (parent, container_config); RUN runs in a real
container. Unlike it, stages the target does not need are skipped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dockyard import errors
from dockyard.build import context as build_context
from dockyard.build import instructions as ins
from dockyard.build.cache import BuildCache
from dockyard.build.cache_records import CacheRecord, PruneOptions, plan_prune
from dockyard.build.context_cache import CachedContext, ContextCache
from dockyard.build.output import BuildOutput
from dockyard.build.stages import BuildRun, StepFailed, stage_index
from dockyard.engine.containers import ContainerService
from dockyard.engine.images import ImageService
from dockyard.mountinfo import mounts_under
from dockyard.store import references
from dockyard.store.paths import Paths
from dockyard.store.snapshots import unmount

__all__ = ["BuildOptions", "Builder", "PreparedBuild"]


@dataclass(frozen=True)
class BuildOptions:
    tags: tuple[str, ...] = ()
    dockerfile: str = "Dockerfile"
    build_args: Mapping[str, str | None] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    remove: bool = True                  # rm: remove intermediate containers after a successful step
    force_remove: bool = False           # forcerm: also after a failed one
    quiet: bool = False
    network_mode: str = ""               # RUN's network; "" = the default (see Builder.default_network)
    extra_hosts: tuple[str, ...] = ()
    memory: int = 0
    shm_size: int = 0


@dataclass
class PreparedBuild:
    options: BuildOptions
    context: CachedContext               # the unpacked context, shared with builds of the same tar
    dockerfile: ins.Dockerfile
    tags: list[str]                      # normalised references to tag the result with
    release: Callable[[CachedContext], None]

    @property
    def context_dir(self) -> Path:
        return self.context.dir

    def close(self) -> None:
        self.release(self.context)


class Builder:
    def __init__(self, paths: Paths, images: ImageService, containers: ContainerService, *,
                 default_network: str = "bridge", emit: Callable[..., Any] | None = None) -> None:
        self.paths = paths
        self.images = images
        self.containers = containers
        self.cache = BuildCache(images.db, images.content)
        self.contexts = ContextCache(self.scratch_dir / "contexts")
        # RUN's network when the client names none: the default bridge, with NAT to the world,
        # as the classic builder does.
        self.default_network = default_network
        self.emit = emit                 # the event bus: `builder prune` events

    @property
    def scratch_dir(self) -> Path:
        return self.paths.tmp_dir / "build"

    def recover(self) -> None:
        """At daemon start: what a crashed build left (mounted step filesystems, contexts)."""
        for point in mounts_under(str(self.scratch_dir.resolve())):
            unmount(point)
        self.contexts.clear()
        shutil.rmtree(self.scratch_dir, ignore_errors=True)

    # ------------------------------------------------------------------ the cache that is not images
    def cache_records(self) -> list[CacheRecord]:
        """Blocking: the build-cache records (`GET /system/df` BuildCache)."""
        return self.contexts.records()

    def prune_cache(self, options: PruneOptions) -> tuple[list[str], int]:
        """Blocking: remove the unused cache `options` select; (record IDs, bytes freed).
        A build running meanwhile keeps what it uses."""
        free = 0
        if options.min_free_space:
            self.contexts.root.mkdir(parents=True, exist_ok=True)
            st = os.statvfs(self.contexts.root)
            free = st.f_bfree * st.f_bsize     # BuildKit counts blocks free, reserved ones too
        removed = self.contexts.prune(lambda records: plan_prune(records, options, free=free))
        reclaimed = sum(freed for _, freed in removed)
        if self.emit is not None:
            self.emit("builder", "prune", "", reclaimed=str(reclaimed))
        return [rid for rid, _ in removed], reclaimed

    # ------------------------------------------------------------------ before the stream
    def prepare(self, body: Any, options: BuildOptions) -> PreparedBuild:
        """Blocking: unpack the context, read and parse the Dockerfile, check the tags and target.
        Any error here is the request's (400), before a byte of output."""
        tags = [_normalise_tag(t) for t in options.tags]
        context = self.contexts.acquire(body, options.dockerfile or "Dockerfile", build_context.prepare_context)
        try:
            dockerfile = ins.parse_dockerfile(context.dockerfile)
            if options.target and stage_index(dockerfile, options.target) is None:
                raise errors.InvalidArgument(f"failed to reach build target {options.target} in Dockerfile")
        except BaseException:
            self.contexts.release(context)
            raise
        return PreparedBuild(options, context, dockerfile, tags, self.contexts.release)

    # ------------------------------------------------------------------ the stream
    async def run(self, prepared: PreparedBuild, out: BuildOutput) -> str | None:
        """Build, reporting on `out`; the image ID, or None after reporting an error."""
        build = BuildRun(self, prepared, out)
        try:
            return await build.execute()
        except StepFailed as e:
            out.error(e.message, e.code)
        except errors.DockyardError as e:
            out.error(e.message)
        finally:
            await build.cleanup()
        return None


def _normalise_tag(tag: str) -> str:
    """`-t app` → docker.io/library/app:latest; Docker's error for a bad one (before any output)."""
    ref = references.parse_normalized(tag)
    if ref.digest:
        raise errors.InvalidArgument(f"invalid reference format: {tag} (tags with digests are not allowed)")
    return str(ref.with_default_tag())
