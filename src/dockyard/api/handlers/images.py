"""/images/*: parse, one engine call, serialise."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Iterator

from dockyard import errors
from dockyard.api import wire
from dockyard.api.bodystream import BlockingBody, ReadAheadBody
from dockyard.api.filters import parse_filters
from dockyard.api.http import EmptyResponse, JSONResponse, Request, Response, StreamResponse
from dockyard.api.progress import relay_progress
from dockyard.engine.containers import ContainerService

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.engine.bootstrap_service import Bootstrapper

__all__ = ["ImageHandlers", "json_line"]

IMAGE_FILTERS = {"reference", "dangling", "label", "before", "since", "until"}


def json_line(obj: dict) -> bytes:
    return json.dumps(obj).encode() + b"\r\n"


class ImageHandlers:
    def __init__(self, images, containers: ContainerService, bootstrapper: Bootstrapper | None = None) -> None:
        self.images = images
        self.containers = containers
        if bootstrapper is None:
            from dockyard.engine.bootstrap_service import Bootstrapper
            bootstrapper = Bootstrapper(images, images.paths.data_root / "bootstrap-cache")
        self.bootstrapper = bootstrapper

    def _users(self, image_id: str) -> list[str]:
        return self.containers.users_of_image(image_id)

    async def create(self, req: Request) -> Response:
        if req.arg("fromSrc"):
            return await self._import(req)
        image = req.arg("fromImage")
        if not image:
            raise errors.InvalidArgument("either fromSrc or fromImage must be set")
        tag = req.arg("tag")
        ref = f"{image}:{tag}" if tag and not tag.startswith("sha256:") else (
            f"{image}@{tag}" if tag else image)
        return await self._pull(ref, req)

    async def _pull(self, ref: str, req: Request) -> Response:
        """Manifest and config first (a missing image is a 404 before any stream, as moby),
        then the layers as a progress stream; errors after that travel inside it."""
        from dockyard.distribution.credentials import decode_auth_header
        from dockyard.engine.images_pull import resolve_pull

        creds = decode_auth_header(req.headers.get("x-registry-auth", ""))
        loop = asyncio.get_running_loop()
        try:
            plan = await loop.run_in_executor(
                None, lambda: resolve_pull(self.images, ref, creds, insecure=self.images.insecure_registries))
        except errors.SystemError_:
            return self._offline_pull(ref)

        def work(progress):
            try:
                record, changed = plan.run(progress)
            finally:
                plan.client.close()
            self.images.emit("image", "pull", plan.ref.familiar, name=plan.ref.familiar)
            return changed

        shown = str(plan.ref) if plan.ref.domain != "docker.io" else plan.ref.familiar

        def last(changed):
            word = "Downloaded newer image for " if changed else "Image is up to date for "
            return {"status": "Status: " + word + shown}

        async def chunks():
            async for message in relay_progress(work, first=None, last=last):
                yield json_line(message)

        return StreamResponse(chunks())

    def _offline_pull(self, ref: str) -> Response:
        # Docker Hub is not reachable here: a local image is "already there"; anything else
        # fails as Docker Hub does for an unknown repository.
        from dockyard.store import references

        parsed = references.parse_normalized(ref)
        if parsed.domain != "docker.io":
            raise errors.SystemError_(f'Get "https://{parsed.domain}/v2/": registry unreachable')
        try:
            img = self.images.resolve(ref)
        except errors.NotFound:
            message = (f"pull access denied for {parsed.familiar_name}, repository does not exist or may require "
                       "'docker login': denied: requested access to the resource is denied")
            raise errors.NotFound(message) from None

        async def chunks():
            yield json_line({"status": f"Status: Image is up to date for {ref}"})
            yield json_line({"status": "Digest: " + img.id})

        return StreamResponse(chunks())

    async def push(self, req: Request) -> Response:
        """POST /images/{name}/push?tag=: the progress stream, the aux {Tag, Digest, Size} per tag."""
        from dockyard.distribution.credentials import decode_auth_header
        from dockyard.engine.images_push import push_tags, push_targets

        creds = decode_auth_header(req.headers.get("x-registry-auth", ""))
        refs = push_targets(self.images, req.params["name"], req.arg("tag"))

        def work(progress):
            return push_tags(self.images, refs, creds, progress, insecure=self.images.insecure_registries)

        async def chunks():
            async for message in relay_progress(work, first=None, last=None):
                yield json_line(message)

        return StreamResponse(chunks())

    async def auth(self, req: Request) -> Response:
        """POST /auth: check credentials against the registry, as `docker login` asks."""
        from dockyard.engine.registry_login import login

        raw = await req.body()
        try:
            doc = json.loads(raw) if raw.strip() else {}
        except ValueError as e:
            raise errors.InvalidArgument(f"invalid JSON: {e}") from None
        loop = asyncio.get_running_loop()
        status = await loop.run_in_executor(None, lambda: login(doc, self.images.insecure_registries))
        return JSONResponse({"Status": status, "IdentityToken": ""})

    async def save(self, req: Request) -> Response:
        """GET /images/get?names=... and GET /images/{name}/get: the archive, streamed.
        Names are resolved (404 etc.) before the 200 is sent, as moby does."""
        from dockyard.engine.images_save import plan_save

        names = [req.params["name"]] if "name" in req.params else req.args("names")
        platform = _platform_arg(req)
        loop = asyncio.get_running_loop()
        stream = await loop.run_in_executor(None, lambda: plan_save(self.images, names, platform))
        return StreamResponse(_from_thread(stream.chunks(), stream.close), content_type="application/x-tar")

    async def load(self, req: Request) -> Response:
        """POST /images/load: the archive as the body; JSON messages as it goes, errors inside."""
        from dockyard.engine.images_load import load_images

        platform = _platform_arg(req)
        quiet = req.flag("quiet", True)
        body = ReadAheadBody(req, asyncio.get_running_loop())

        def work(progress):
            try:
                return load_images(self.images, body, progress, quiet=quiet, platform=platform)
            finally:
                body.close()

        async def chunks():
            async for message in relay_progress(work, first=None, last=None):
                yield json_line(message)

        return StreamResponse(chunks())

    async def _import(self, req: Request) -> Response:
        src = req.arg("fromSrc")
        if src != "-":
            raise errors.InvalidArgument("importing from a URL is not supported; send the tar as the body")
        repo, tag = req.arg("repo") or None, req.arg("tag") or None
        changes = req.args("changes")
        loop = asyncio.get_running_loop()
        body = BlockingBody(req, loop)
        record = await loop.run_in_executor(
            None, lambda: self.images.import_tar(body, repo=repo, tag=tag, changes=changes,
                                                 message=req.arg("message"), platform=req.arg("platform")))

        async def chunks():
            yield json_line({"status": record.id})

        return StreamResponse(chunks())

    async def list(self, req: Request) -> Response:
        filters = parse_filters(req.arg("filters"), IMAGE_FILTERS)
        if req.arg("filter"):
            filters.setdefault("reference", []).append(req.arg("filter"))
        images = self.images.list(all=req.flag("all"), filters=filters)
        counts: dict[str, int] = {}
        for c in self.containers.list():
            counts[c.image_id] = counts.get(c.image_id, 0) + 1
        return JSONResponse([wire.image_summary(i, counts.get(i.id, 0)) for i in images])

    async def inspect(self, req: Request) -> Response:
        return JSONResponse(wire.image_inspect(self.images.resolve(req.params["name"])))

    async def history(self, req: Request) -> Response:
        return JSONResponse([wire.history_entry(h) for h in self.images.history(req.params["name"])])

    async def tag(self, req: Request) -> Response:
        repo = req.arg("repo")
        if not repo:
            raise errors.InvalidArgument("repository name must have at least one component")
        self.images.tag(req.params["name"], repo, req.arg("tag") or None)
        return EmptyResponse(201)

    async def remove(self, req: Request) -> Response:
        result = self.images.remove(req.params["name"], force=req.flag("force"),
                                    prune=not req.flag("noprune"), users=self._users,
                                    running=self.containers.running_users_of_image)
        return JSONResponse(result)

    async def prune(self, req: Request) -> Response:
        filters = parse_filters(req.arg("filters"), {"dangling", "until", "label"})
        dangling = filters.get("dangling", ["true"])[-1].lower() not in ("false", "0")
        deleted, reclaimed = self.images.prune(all=not dangling, filters=filters, users=self._users,
                                               running=self.containers.running_users_of_image)
        return JSONResponse({"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed})

    async def commit(self, req: Request) -> Response:
        """POST /commit: 201 {"Id": ...}. The body is an optional container config."""
        from dockyard.engine.commit import CommitOptions, commit, request_config

        raw = await req.body()
        try:
            config = request_config(json.loads(raw) if raw.strip() else None)
        except ValueError as e:
            raise errors.InvalidArgument(f"invalid JSON: {e}") from None
        pause_arg = req.query.get("pause")
        # moby: pause unless the parameter is given and false ("" counts as false there)
        pause = not pause_arg or pause_arg[-1].strip().lower() not in ("", "0", "no", "false", "none")
        opts = CommitOptions(repo=req.arg("repo"), tag=req.arg("tag"), author=req.arg("author"),
                             comment=req.arg("comment"), pause=pause, changes=req.args("changes"),
                             config=config)
        image_id = await commit(self.containers, req.arg("container"), opts)
        return JSONResponse({"Id": image_id}, 201)

    async def bootstrap(self, req: Request) -> Response:
        """dockyard's own: make a base image without a registry (busybox, debian, python)."""
        target = self.bootstrapper.target(req.arg("image", "busybox"))   # unknown name: 400 before any output
        tag, refresh = req.arg("tag") or "", req.flag("nocache")
        name = tag or target.name

        async def chunks():
            async for message in relay_progress(
                    lambda progress: self.bootstrapper.bootstrap(target, progress, tag, refresh=refresh),
                    first={"status": f"Bootstrapping {name} ({target.about})"},
                    last=lambda record: {"status": f"Created {name}", "aux": {"ID": record.id}}):
                yield json_line(message)

        return StreamResponse(chunks())


def _platform_arg(req: Request) -> tuple[str, str, str] | None:
    """The `platform` parameter (API 1.48+): an OCI platform as JSON, as httputils.DecodePlatform."""
    if not req.api_version_at_least("1.48"):
        return None
    values = req.args("platform")
    if len(values) > 1:
        raise errors.InvalidArgument("multiple platform parameters not supported")
    if not values or not values[0]:
        return None
    try:
        doc = json.loads(values[0])
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        raise errors.InvalidArgument(f"failed to parse platform: {e}") from None
    os_name, arch = str(doc.get("os") or ""), str(doc.get("architecture") or "")
    variant = str(doc.get("variant") or "")
    if not os_name and not arch and (variant or doc.get("os.version") or doc.get("os.features")):
        raise errors.InvalidArgument("optional platform fields provided, but OS and Architecture are missing")
    if not os_name or not arch:
        raise errors.InvalidArgument("both OS and Architecture must be provided")
    return os_name, arch, variant


async def _from_thread(it: Iterator[bytes], close: Callable[[], None]) -> AsyncIterator[bytes]:
    """Pull a blocking iterator from a worker thread, one item at a time (that is the
    back-pressure: nothing is read ahead of what the client takes)."""
    loop = asyncio.get_running_loop()
    try:
        while (item := await loop.run_in_executor(None, next, it, None)) is not None:
            yield item
    finally:
        with contextlib.suppress(ValueError):   # still running in the worker: it stops at the closed files
            it.close()  # type: ignore[attr-defined]
        close()
