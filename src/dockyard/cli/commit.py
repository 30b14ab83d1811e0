"""`commit`: a container's changes → a new image (`POST /commit`), printing its ID as docker does."""

from __future__ import annotations

from dockyard.cli.command import Cli, Command, StatusError
from dockyard.cli.refs import split_reference

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.cli.flags import Parsed

__all__ = ["COMMIT"]


def _commit(cli: Cli, o: Parsed) -> int:
    params: dict[str, object] = {"container": o.args[0]}
    if len(o.args) > 1:
        name, tag, digest = split_reference(o.args[1])
        if digest:
            raise StatusError("refusing to create a tag with a digest reference", 1)
        params["repo"] = name
        params["tag"] = tag or "latest"
    params["comment"] = o.str("message") or None
    params["author"] = o.str("author") or None
    params["changes"] = o.list("change") or None
    if not o.bool("pause", True):
        params["pause"] = "0"
    answer = cli.client.call("POST", "/commit", params) or {}
    cli.out.write(f"{answer.get('Id', '')}\n")
    return 0


COMMIT = Command(
    "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
    "Create a new image from a container's changes",
    _commit,
    flags=(
        ("a", "author", "string", 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")'),
        ("c", "change", "list", "Apply Dockerfile instruction to the created image"),
        ("m", "message", "string", "Commit message"),
        ("p", "pause", "bool", "Pause container during commit (default true)"),
    ),
    aliases=("container commit", "commit"),
    args=("range", 1, 2),
    interspersed=False,
)
