"""A registry server on a free 127.0.0.1 port in a thread, a tiny HTTP client for it, and an
OCI image-layout maker for the tools (skopeo) that push to it."""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import io
import json
import os
import tarfile
import threading

from dockyard.distribution.registry.server import RegistryConfig, RegistryServer, build_registry

__all__ = ["RunningRegistry", "Reply", "sha256", "make_oci_layout", "write_htpasswd"]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_htpasswd(path: str, users: dict[str, str]) -> str:
    import bcrypt

    with open(path, "w") as f:
        for user, password in users.items():
            # htpasswd -B writes $2y$; bcrypt writes $2b$: the file says what the tool says
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(5)).decode().replace("$2b$", "$2y$", 1)
            f.write(f"{user}:{hashed}\n")
    return path


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def json(self) -> dict:
        return json.loads(self.body)

    def codes(self) -> list[str]:
        return [e["code"] for e in self.json()["errors"]]

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.headers} {self.body[:300]!r}>"


class RunningRegistry:
    def __init__(self, root: str, host: str = "127.0.0.1", **config: object) -> None:
        self.config = RegistryConfig(root=root, addr=f"{host}:0", **config)  # type: ignore[arg-type]
        self.registry = build_registry(self.config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = RegistryServer(self.registry, host, 0)
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        self.port = self.server.port
        self.addr = f"{host}:{self.port}"

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.registry.storage.close()

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection(self.addr.rpartition(":")[0], self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
        finally:
            conn.close()

    def push_blob(self, name: str, data: bytes, headers: dict[str, str] | None = None) -> str:
        d = sha256(data)
        r = self.request("POST", f"/v2/{name}/blobs/uploads/?digest={d}", data, headers)
        assert r.status == 201, r
        return d

    def push_manifest(self, name: str, ref: str, doc: dict, media_type: str,
                      headers: dict[str, str] | None = None) -> Reply:
        body = json.dumps(doc).encode()
        return self.request("PUT", f"/v2/{name}/manifests/{ref}", body,
                            {"Content-Type": media_type, **(headers or {})})


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_oci_layout(path: str, tag: str = "latest", layer_files: list[dict[str, bytes]] | None = None) -> str:
    """An OCI image layout with one image of uncompressed tar layers; returns the manifest digest."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs, exist_ok=True)

    def put(data: bytes) -> dict:
        d = sha256(data)
        with open(os.path.join(blobs, d.split(":")[1]), "wb") as f:
            f.write(data)
        return {"digest": d, "size": len(data)}

    layer_files = layer_files or [{"hello.txt": b"hello from dockyard\n"}]
    layers = [put(_tar(files)) for files in layer_files]
    diff_ids = [ly["digest"] for ly in layers]
    config = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": []}
    cdesc = {"mediaType": "application/vnd.oci.image.config.v1+json", **put(json.dumps(config).encode())}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cdesc,
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **ly} for ly in layers]}
    mdesc = {"mediaType": "application/vnd.oci.image.manifest.v1+json", **put(json.dumps(manifest).encode()),
             "annotations": {"org.opencontainers.image.ref.name": tag}}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [mdesc]}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    return mdesc["digest"]
