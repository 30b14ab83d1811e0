"""One function per endpoint of the distribution API: validate, one storage operation, answer.

`Registry.handle(request)` routes a request, checks its access, and turns `RegistryError`s into
the spec's error documents."""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import quote, unquote

from dockyard.api.http import BytesResponse, EmptyResponse, JSONResponse, Request, Response, StreamResponse
from dockyard.distribution.registry.auth import Access, Authorizer
from dockyard.distribution.registry.errors import RegistryError, error_document
from dockyard.distribution.registry.manifests import (
    MAX_MANIFEST_SIZE,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    accepted_types,
    parse_manifest,
)
from dockyard.distribution.registry.names import Digest, check_name, check_tag, is_digest, parse_digest
from dockyard.distribution.registry.storage import Storage
from dockyard.distribution.registry.uploads import Uploads

__all__ = ["Registry"]

log = logging.getLogger("dockyard.registry")

Handler = Callable[["Registry", Request, str, str], Awaitable[Response]]
_CHUNK = 256 * 1024
_RANGE_RE = re.compile(r"bytes=(\d*)-(\d*)")
_CONTENT_RANGE_RE = re.compile(r"(?:bytes )?(\d+)-(\d+)(?:/\d+)?")


def _digest_headers(d: Digest, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Docker-Content-Digest": str(d), **(extra or {})}


async def _drain(req: Request) -> None:
    while await req.chunk():
        pass


class Registry:
    def __init__(self, storage: Storage, auth: Authorizer, delete_enabled: bool = True) -> None:
        self.storage = storage
        self.uploads = Uploads(storage)
        self.auth = auth
        self.delete_enabled = delete_enabled
        # (method, regex, handler, actions needed on <name>); order matters: uploads before blobs
        self._routes: list[tuple[str, re.Pattern[str], Handler, tuple[str, ...]]] = []
        for method, pattern, handler, actions in (
            ("GET", r"/v2/", Registry.base, ()),
            ("GET", r"/v2/_catalog", Registry.catalog, ()),
            ("GET", r"/v2/(?P<name>.+)/tags/list", Registry.tags_list, ("pull",)),
            ("GET", r"/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)", Registry.get_manifest, ("pull",)),
            ("PUT", r"/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)", Registry.put_manifest, ("pull", "push")),
            ("DELETE", r"/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)", Registry.delete_manifest, ("delete",)),
            ("POST", r"/v2/(?P<name>.+)/blobs/uploads/?", Registry.start_upload, ("pull", "push")),
            ("GET", r"/v2/(?P<name>.+)/blobs/uploads/(?P<ref>[^/]+)", Registry.upload_status, ("pull", "push")),
            ("PATCH", r"/v2/(?P<name>.+)/blobs/uploads/(?P<ref>[^/]+)", Registry.patch_upload, ("pull", "push")),
            ("PUT", r"/v2/(?P<name>.+)/blobs/uploads/(?P<ref>[^/]+)", Registry.put_upload, ("pull", "push")),
            ("DELETE", r"/v2/(?P<name>.+)/blobs/uploads/(?P<ref>[^/]+)", Registry.cancel_upload,
             ("pull", "push")),
            ("GET", r"/v2/(?P<name>.+)/blobs/(?P<ref>[^/]+)", Registry.get_blob, ("pull",)),
            ("DELETE", r"/v2/(?P<name>.+)/blobs/(?P<ref>[^/]+)", Registry.delete_blob, ("delete",)),
            ("GET", r"/v2/(?P<name>.+)/referrers/(?P<ref>[^/]+)", Registry.referrers, ("pull",)),
            ("GET", r"/token", Registry.token, ()),
            ("POST", r"/token", Registry.token, ()),
        ):
            self._routes.append((method, re.compile(pattern), handler, actions))

    # -- dispatch
    async def handle(self, req: Request) -> Response:
        try:
            return await self._route(req)
        except RegistryError as e:
            await _drain(req)   # an unread body would stall the connection
            return JSONResponse(error_document(e), e.status, headers=dict(e.headers))

    async def _route(self, req: Request) -> Response:
        path = unquote(req.path)
        known = False
        for method, regex, handler, actions in self._routes:
            m = regex.fullmatch(path)
            if m is None:
                continue
            known = True
            if method != req.method and not (req.method == "HEAD" and method == "GET"):
                continue
            name, ref = m.groupdict().get("name", ""), m.groupdict().get("ref", "")
            if name:
                check_name(name)
            self._authorize(req, handler, name, actions)
            return await handler(self, req, name, ref)
        if known:
            raise RegistryError("UNSUPPORTED", detail={"method": req.method, "path": path})
        return JSONResponse(error_document(RegistryError("UNSUPPORTED", "page not found")), 404)

    def _authorize(self, req: Request, handler: Handler, name: str, actions: tuple[str, ...]) -> None:
        if handler is Registry.token:
            return
        need = [Access("repository", name, actions)] if name else []
        if handler is Registry.catalog:
            need = [Access("registry", "catalog", ("*",))]
        mount_from = req.arg("from")
        if handler is Registry.start_upload and req.arg("mount") and mount_from:
            need.append(Access("repository", check_name(mount_from), ("pull",)))
        self.auth.check(req.headers, need)

    # -- base, token, catalog, tags
    async def base(self, req: Request, name: str, ref: str) -> Response:
        return JSONResponse({}, 200)

    async def token(self, req: Request, name: str, ref: str) -> Response:
        service, scopes = req.arg("service"), req.args("scope")
        if req.method == "POST":   # the OAuth2 form (docker login with a refresh token flow)
            from urllib.parse import parse_qs

            form = parse_qs((await req.body()).decode("latin-1"))
            service = form.get("service", [service])[-1]
            scopes = [s for v in form.get("scope", []) for s in v.split(" ")] or scopes
        return JSONResponse(self.auth.token(req.headers, service, scopes))

    def _page(self, items: list[str], req: Request, base: str) -> tuple[list[str], dict[str, str]]:
        raw_n, last = req.arg("n"), req.arg("last")
        if last:
            items = [i for i in items if i > last]
        if raw_n == "":
            return items, {}
        if not raw_n.isdigit():
            raise RegistryError("PAGINATION_NUMBER_INVALID", detail={"n": raw_n})
        n = int(raw_n)
        page = items[:n]
        headers = {}
        if n and len(items) > n:
            headers["Link"] = f'<{base}?n={n}&last={quote(page[-1], safe="")}>; rel="next"'
        return page, headers

    async def catalog(self, req: Request, name: str, ref: str) -> Response:
        repos, headers = self._page(self.storage.repositories(), req, "/v2/_catalog")
        return JSONResponse({"repositories": repos}, headers=headers)

    async def tags_list(self, req: Request, name: str, ref: str) -> Response:
        if not self.storage.repo_exists(name):
            raise RegistryError("NAME_UNKNOWN", detail={"name": name})
        tags, headers = self._page(self.storage.tags(name), req, f"/v2/{name}/tags/list")
        return JSONResponse({"name": name, "tags": tags}, headers=headers)

    # -- manifests
    def _resolve(self, name: str, ref: str) -> tuple[Digest, str]:
        if is_digest(ref):
            return parse_digest(ref), ""
        check_tag(ref)
        d = self.storage.tag_target(name, ref)
        if d is None:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"tag": ref})
        return d, ref

    async def get_manifest(self, req: Request, name: str, ref: str) -> Response:
        d, tag = self._resolve(name, ref)
        body = self.storage.read_manifest(name, d)
        if body is None:
            raise RegistryError("MANIFEST_UNKNOWN", detail={"digest": str(d)})
        etag = f'"{d}"'
        if any(v.strip() in (str(d), etag) for v in req.headers.get("if-none-match", "").split(",")):
            return EmptyResponse(304, headers={"Etag": etag})
        m = parse_manifest("", body)
        supports = accepted_types([req.headers.get("accept", "")])
        if m.media_type == OCI_MANIFEST and OCI_MANIFEST not in supports:
            raise RegistryError("MANIFEST_UNKNOWN",
                                "OCI manifest found, but accept header does not support OCI manifests")
        if m.media_type == OCI_INDEX and OCI_INDEX not in supports:
            raise RegistryError("MANIFEST_UNKNOWN", "OCI index found, but accept header does not support OCI indexes")
        if tag and m.is_index and m.media_type not in supports:
            # an old client asking by tag for a Docker manifest list: give it linux/amd64's manifest
            m = self._default_platform(name, m)
            d = m.digest
        headers = _digest_headers(d, {"Etag": f'"{d}"'})
        if req.method == "HEAD":
            return EmptyResponse(200, headers={**headers, "Content-Type": m.media_type,
                                               "Content-Length": str(len(m.body))})
        return BytesResponse(m.body, content_type=m.media_type, headers=headers)

    def _default_platform(self, name: str, index: Manifest) -> Manifest:
        for entry in json.loads(index.body).get("manifests", []):
            platform = entry.get("platform") or {}
            if platform.get("architecture") == "amd64" and platform.get("os") == "linux":
                child = parse_digest(entry["digest"])
                body = self.storage.read_manifest(name, child)
                if body is None:
                    raise RegistryError("MANIFEST_UNKNOWN", detail={"digest": str(child)})
                return parse_manifest(entry.get("mediaType", ""), body)
        raise RegistryError("MANIFEST_UNKNOWN")

    async def put_manifest(self, req: Request, name: str, ref: str) -> Response:
        body = await self._read_limited(req, MAX_MANIFEST_SIZE)
        m = parse_manifest(req.headers.get("content-type", ""), body)
        tag = ""
        if is_digest(ref):
            want = parse_digest(ref)
            if want.algorithm != "sha256":
                actual = want.hasher()
                actual.update(body)
                m = Manifest(m.media_type, Digest(want.algorithm, actual.hexdigest()), m.body, m.blobs,
                             m.children, m.subject, m.artifact_type, m.annotations)
            if m.digest != want:
                raise RegistryError("DIGEST_INVALID", detail={"expected": ref, "actual": str(m.digest)})
        else:
            tag = check_tag(ref)
        missing = [RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digest": str(d)})
                   for d, foreign in m.blobs if not foreign and not self.storage.repo_has_blob(name, d)]
        missing += [RegistryError("MANIFEST_BLOB_UNKNOWN", detail={"digest": str(d)})
                    for d in m.children if not self.storage.has_manifest(name, d)]
        if missing:
            return JSONResponse(error_document(*missing), 400)
        self.storage.put_manifest(name, m.digest, body)
        if m.subject is not None:
            self.storage.add_referrer(name, m.subject, m.digest)
        if tag:
            self.storage.tag(name, tag, m.digest)
        headers = _digest_headers(m.digest, {"Location": f"/v2/{name}/manifests/{m.digest}"})
        if m.subject is not None:
            headers["OCI-Subject"] = str(m.subject)
        return EmptyResponse(201, headers=headers)

    async def _read_limited(self, req: Request, limit: int) -> bytes:
        parts, size = [], 0
        while chunk := await req.chunk():
            size += len(chunk)
            if size > limit:
                raise RegistryError("MANIFEST_INVALID", "manifest too large", status=413,
                                    detail={"limit": limit})
            parts.append(chunk)
        return b"".join(parts)

    async def delete_manifest(self, req: Request, name: str, ref: str) -> Response:
        if not self.delete_enabled:
            raise RegistryError("UNSUPPORTED")
        if not is_digest(ref):
            if not self.storage.delete_tag(name, check_tag(ref)):
                raise RegistryError("MANIFEST_UNKNOWN", detail={"tag": ref})
            return EmptyResponse(202)
        if not self.storage.delete_manifest(name, parse_digest(ref)):
            raise RegistryError("MANIFEST_UNKNOWN", detail={"digest": ref})
        return EmptyResponse(202)

    async def referrers(self, req: Request, name: str, ref: str) -> Response:
        subject = parse_digest(ref)
        wanted = req.arg("artifactType")
        entries = []
        for d in self.storage.referrers(name, subject):
            body = self.storage.read_manifest(name, d)
            if body is None:
                continue
            m = parse_manifest("", body)
            if wanted and m.artifact_type != wanted:
                continue
            entry: dict[str, object] = {"mediaType": m.media_type, "digest": str(d), "size": len(body)}
            if m.artifact_type:
                entry["artifactType"] = m.artifact_type
            if m.annotations:
                entry["annotations"] = m.annotations
            entries.append(entry)
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        headers = {"OCI-Filters-Applied": "artifactType"} if wanted else {}
        return BytesResponse(json.dumps(doc).encode(), content_type=OCI_INDEX, headers=headers)

    # -- blobs
    async def get_blob(self, req: Request, name: str, ref: str) -> Response:
        d = parse_digest(ref)
        if not self.storage.repo_has_blob(name, d):
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": ref})
        path = self.storage.blob_path(d)
        size = os.stat(path).st_size
        headers = _digest_headers(d, {"Accept-Ranges": "bytes", "Etag": f'"{d}"',
                                      "Cache-Control": "max-age=31536000"})
        start, end, status = 0, size - 1, 200
        m = _RANGE_RE.fullmatch(req.headers.get("range", "").strip())
        if m and (m.group(1) or m.group(2)):
            if m.group(1):
                start = int(m.group(1))
                end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
            else:   # the last N bytes
                start = max(size - int(m.group(2)), 0)
            if start > end or start >= size:
                raise RegistryError("RANGE_INVALID", headers={"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        if req.method == "HEAD":
            return EmptyResponse(status, headers={**headers, "Content-Type": "application/octet-stream"})
        return StreamResponse(_file_chunks(path, start, end - start + 1), "application/octet-stream",
                              status, headers)

    async def delete_blob(self, req: Request, name: str, ref: str) -> Response:
        if not self.delete_enabled:
            raise RegistryError("UNSUPPORTED")
        d = parse_digest(ref)
        if not self.storage.unlink_blob(name, d):
            raise RegistryError("BLOB_UNKNOWN", detail={"digest": ref})
        return EmptyResponse(202, headers=_digest_headers(d))

    # -- uploads
    def _upload_headers(self, name: str, upload_id: str, size: int) -> dict[str, str]:
        return {"Location": f"/v2/{name}/blobs/uploads/{upload_id}", "Docker-Upload-UUID": upload_id,
                "Range": f"0-{max(size - 1, 0)}"}

    def _created(self, name: str, d: Digest) -> Response:
        return EmptyResponse(201, headers=_digest_headers(d, {"Location": f"/v2/{name}/blobs/{d}"}))

    async def start_upload(self, req: Request, name: str, ref: str) -> Response:
        mount, source = req.arg("mount"), req.arg("from")
        if mount and source:
            d = parse_digest(mount)
            if self.storage.repo_has_blob(check_name(source), d):
                self.storage.link_blob(name, d)
                await _drain(req)
                return self._created(name, d)
        upload_id = self.uploads.start(name)
        digest = req.arg("digest")
        if digest:   # monolithic: the whole blob in this POST
            d = parse_digest(digest)
            try:
                await self.uploads.complete(name, upload_id, d, req.chunk)
            except BaseException:
                self.storage.remove_upload(name, upload_id)
                raise
            return self._created(name, d)
        await _drain(req)
        return EmptyResponse(202, headers=self._upload_headers(name, upload_id, 0))

    async def upload_status(self, req: Request, name: str, ref: str) -> Response:
        size = self.uploads.size(name, ref)
        return EmptyResponse(204, headers=self._upload_headers(name, ref, size))

    async def patch_upload(self, req: Request, name: str, ref: str) -> Response:
        self.uploads.size(name, ref)
        start = length = None
        content_range = req.headers.get("content-range", "")
        if content_range:
            m = _CONTENT_RANGE_RE.fullmatch(content_range.strip())
            if not m or int(m.group(2)) < int(m.group(1)):
                raise RegistryError("RANGE_INVALID", detail={"content-range": content_range})
            start, length = int(m.group(1)), int(m.group(2)) - int(m.group(1)) + 1
            current = self.uploads.size(name, ref)
            if start != current:   # checked before the length, as distribution does
                raise RegistryError("RANGE_INVALID", detail={"expected_start": current, "start": start})
            declared = req.headers.get("content-length", "")
            if declared.isdigit() and int(declared) != length:
                raise RegistryError("SIZE_INVALID", detail={"content-range": content_range,
                                                            "content-length": declared})
        size = await self.uploads.append(name, ref, req.chunk, start, length)
        return EmptyResponse(202, headers=self._upload_headers(name, ref, size))

    async def put_upload(self, req: Request, name: str, ref: str) -> Response:
        self.uploads.size(name, ref)
        digest = req.arg("digest")
        if not digest:
            raise RegistryError("DIGEST_INVALID", detail="digest missing")
        d = parse_digest(digest)
        await self.uploads.complete(name, ref, d, req.chunk)
        return self._created(name, d)

    async def cancel_upload(self, req: Request, name: str, ref: str) -> Response:
        self.uploads.cancel(name, ref)
        return EmptyResponse(204)


async def _file_chunks(path: str, start: int, length: int) -> AsyncIterator[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        while length > 0:
            chunk = f.read(min(_CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
