"""`bootstrap IMAGE`: ask the daemon to build a base image without a registry.

IMAGE is `busybox` (default), `debian:bookworm` (`debian`, `debian:12`, `debian:latest`) or
`python:3.11-slim` (`python:3.11`, `python:3-slim`, `python:3.11-slim-bookworm`).
`POST /dockyard/bootstrap?image=NAME` answers with pull-style JSON lines (debootstrap's and
apt-get's progress among them), the last one `{"status": ..., "aux": {"ID": "sha256:..."}}`.
"""

from __future__ import annotations

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["BOOTSTRAP"]


def _bootstrap(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.jsonstream import StreamError, display_stream

    image = o.args[0] if o.args else "busybox"
    ids: list[str] = []

    def aux(doc: Any) -> None:
        if isinstance(doc, dict) and doc.get("ID"):
            ids.append(doc["ID"])

    params = {"image": image}
    if o.bool("no-cache"):
        params["nocache"] = "1"
    messages = cli.client.stream_json("POST", "/dockyard/bootstrap", params)

    def with_status(stream: Any) -> Any:
        # The last line carries both a status and the aux id: show the one, keep the other.
        for m in stream:
            if isinstance(m, dict) and "aux" in m and m.get("status"):
                aux(m["aux"])
                m = {k: v for k, v in m.items() if k != "aux"}
            yield m

    try:
        if o.bool("quiet"):
            import io

            display_stream(with_status(messages), io.StringIO(), aux=aux)
        else:
            display_stream(with_status(messages), cli.out, is_terminal=cli.out.isatty(), aux=aux)
    except StreamError as e:
        raise StatusError(e.message, 1) from None
    if o.bool("quiet") and ids:
        cli.print(ids[-1])
    return 0


BOOTSTRAP = Command(
    "[OPTIONS] [IMAGE]",
    "Create a base image without a registry (busybox, debian, python)",
    _bootstrap,
    flags=(("q", "quiet", "bool", "Only print the image ID"),
           ("", "no-cache", "bool", "Build again from the mirror, not from the images and layers made before")),
    args=("max", 1),
)
