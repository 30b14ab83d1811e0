"""Record golden_context.json: what the real docker CLI sends as the build context.

For every variant in context_tree.VARIANTS this builds the tree, runs `docker build`
against a fake daemon on a unix socket that answers /_ping and saves the POST /build
body, and writes the entries (and, for "none", the full headers) it received.

    .venv/bin/python tests/unit/build/record_golden_context.py > tests/unit/build/golden_context.json
"""

from __future__ import annotations

import http.server
import json
import os
import socketserver
import subprocess
import sys
import tarfile
import tempfile
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from context_tree import VARIANTS, make_context  # noqa: E402


class _Capture(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body_path = ""

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, body: bytes = b"", ctype: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802
        self._reply()

    def do_GET(self) -> None:  # noqa: N802
        self._reply(b"OK", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        with open(self.body_path, "wb") as f:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    f.write(self.rfile.read(size))
                    self.rfile.readline()
                self.rfile.readline()
            else:
                f.write(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        with open(self.body_path + ".query", "w") as f:
            f.write(self.path)
        self._reply(json.dumps({"aux": {"ID": "sha256:" + "0" * 64}}).encode() + b"\n")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):  # type: ignore[no-untyped-def]
        request, _ = super().get_request()
        return request, ("local", 0)


def main() -> None:
    tmp = tempfile.mkdtemp()
    sock = os.path.join(tmp, "docker.sock")
    _Capture.body_path = os.path.join(tmp, "body.tar")
    server = _Server(sock, _Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out: dict[str, dict] = {}
    for key, (_, dockerfile) in VARIANTS.items():
        ctx = tempfile.mkdtemp(dir=tmp)
        make_context(ctx, key)
        if os.path.exists(_Capture.body_path):
            os.unlink(_Capture.body_path)
        args = ["docker", "build", "-q"] + (["-f", os.path.join(ctx, dockerfile)] if dockerfile else []) + [ctx]
        p = subprocess.run(args, env={**os.environ, "DOCKER_HOST": "unix://" + sock}, capture_output=True, text=True)
        if not os.path.exists(_Capture.body_path):
            out[key] = {"error": [line for line in p.stderr.splitlines()
                                  if line.strip() and not any(w in line for w in ("egacy", "buildx", "docs.docker"))]}
            continue
        with tarfile.open(_Capture.body_path) as tf:
            members = tf.getmembers()
        with open(_Capture.body_path + ".query") as f:
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(f.read()).query)
        out[key] = {
            "names": sorted(m.name + ("/" if m.isdir() else "") for m in members),
            "dockerfile": query["dockerfile"][0],
        }
        if key == "none":
            out[key]["headers"] = [[m.name, m.type.decode(), m.mode, m.uid, m.gid, m.size, int(m.mtime),
                                    m.linkname, m.uname, m.gname] for m in members]
    server.shutdown()
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
