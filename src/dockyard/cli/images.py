"""Image commands: `images`/`image ls`, `rmi`/`image rm`, `tag`, `image prune`, `history`."""

from __future__ import annotations

import time

from dockyard.cli.command import Cli, Command, StatusError, daemon_error
from dockyard.cli.format import Row, format_rows
from dockyard.cli.formatting import go_time, human_duration, human_size, truncate_id
from dockyard.cli.ps import FORMAT_HELP, parse_filters
from dockyard.cli.refs import familiar_name, split_reference

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["IMAGES", "RMI", "TAG", "IMAGE_PRUNE", "HISTORY", "ImageRow", "image_rows", "confirm"]

DEFAULT_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
DIGEST_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"


class ImageRow(Row):
    """The placeholders of docker's imageContext."""

    HEADERS = {
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
        "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
    }
    go_type = "*formatter.imageContext"

    def __init__(self, image: dict[str, Any], repo: str, tag: str, digest: str, trunc: bool, now: float) -> None:
        self.i = image
        self.repo = repo
        self.tag = tag
        self.digest = digest
        self.trunc = trunc
        self.now = now

    def ID(self) -> str:  # noqa: N802 - Go's names
        iid = self.i.get("Id", "")
        return truncate_id(iid) if self.trunc else iid

    def Repository(self) -> str:  # noqa: N802
        return self.repo

    def Tag(self) -> str:  # noqa: N802
        return self.tag

    def Digest(self) -> str:  # noqa: N802
        return self.digest

    def CreatedSince(self) -> str:  # noqa: N802
        created = int(self.i.get("Created") or 0)
        if created <= 0:
            return "N/A"
        return human_duration(self.now - created) + " ago"

    def CreatedAt(self) -> str:  # noqa: N802
        return go_time(int(self.i.get("Created") or 0))

    def Size(self) -> str:  # noqa: N802
        return human_size(int(self.i.get("Size") or 0))

    def Containers(self) -> str:  # noqa: N802
        n = self.i.get("Containers", -1)
        return "N/A" if n is None or n < 0 else str(n)

    def VirtualSize(self) -> str:  # noqa: N802
        return human_size(int(self.i.get("VirtualSize") or self.i.get("Size") or 0))

    def SharedSize(self) -> str:  # noqa: N802
        n = self.i.get("SharedSize", -1)
        return "N/A" if n is None or n < 0 else human_size(n, 4)   # go-units HumanSize, unlike Size

    def UniqueSize(self) -> str:  # noqa: N802
        shared = self.i.get("SharedSize", -1)
        if shared is None or shared < 0:
            return "N/A"
        return human_size(int(self.i.get("Size") or 0) - shared, 4)


def image_rows(images: list[dict[str, Any]], digests: bool, trunc: bool, now: float | None = None) -> list[ImageRow]:
    """One row per repository:tag (and per digest with --digests), as docker's imageFormat."""
    now = time.time() if now is None else now
    rows: list[ImageRow] = []
    for image in images:
        repo_tags: dict[str, list[str]] = {}
        repo_digests: dict[str, list[str]] = {}
        for ref in image.get("RepoTags") or []:
            if ref == "<none>:<none>":
                continue
            name, tag, _ = split_reference(ref)
            if tag:
                repo_tags.setdefault(familiar_name(name), []).append(tag)
        for ref in image.get("RepoDigests") or []:
            if ref == "<none>@<none>":
                continue
            name, _, digest = split_reference(ref)
            if digest:
                repo_digests.setdefault(familiar_name(name), []).append(digest)
        for repo, tags in repo_tags.items():
            dgs = repo_digests.pop(repo, [])
            if not digests:
                dgs = []
            for tag in tags:
                if not dgs:
                    rows.append(ImageRow(image, repo, tag, "<none>", trunc, now))
                for d in dgs:
                    rows.append(ImageRow(image, repo, tag, d, trunc, now))
        for repo, dgs in repo_digests.items():
            if digests:
                for d in dgs:
                    rows.append(ImageRow(image, repo, "<none>", d, trunc, now))
            else:
                rows.append(ImageRow(image, repo, "<none>", "<none>", trunc, now))
        if not repo_tags and not repo_digests:
            rows.append(ImageRow(image, "<none>", "<none>", "<none>", trunc, now))
    return rows


def _images(cli: Cli, o: Parsed) -> int:
    from dockyard.client.api import encode_filters

    filters = parse_filters(o.list("filter"))
    if o.args:
        filters.setdefault("reference", []).append(o.args[0])
    images = cli.client.get_json("/images/json", {"all": o.bool("all"), "filters": encode_filters(filters)}) or []
    trunc = not o.bool("no-trunc")
    if o.bool("quiet"):
        # one line per image id, not per tag
        seen: list[str] = []
        for img in images:
            ident = truncate_id(img.get("Id", "")) if trunc else img.get("Id", "")
            if ident not in seen:
                seen.append(ident)
        cli.out.write("".join(f"{i}\n" for i in seen))
        return 0
    fmt = o.str("format")
    digests = o.bool("digests")
    default = DIGEST_TABLE if digests else DEFAULT_TABLE
    if digests and fmt in ("", "table"):
        fmt = DIGEST_TABLE
    rows = image_rows(images, digests or "{{.Digest}}" in fmt, trunc)
    cli.out.write(format_rows(fmt, rows, ImageRow.HEADERS, default))
    return 0


def _rmi(cli: Cli, o: Parsed) -> int:
    from dockyard.client.api import quote

    failed = []
    for ref in o.args:
        try:
            items = cli.client.delete(f"/images/{quote(ref, safe='/:@')}",
                                      {"force": o.bool("force"), "noprune": o.bool("no-prune")}) or []
        except Exception as e:  # noqa: BLE001 - report each image, like docker, then exit 1
            from dockyard.client.transport import ConnectError
            from dockyard.errors import DockyardError

            if not isinstance(e, (DockyardError, ConnectError)):
                raise
            failed.append(daemon_error(e))
            continue
        for item in items:
            if item.get("Untagged"):
                cli.print(f"Untagged: {item['Untagged']}")
            if item.get("Deleted"):
                cli.print(f"Deleted: {item['Deleted']}")
    if failed:
        raise StatusError("\n".join(failed), 1)
    return 0


def _tag(cli: Cli, o: Parsed) -> int:
    from dockyard.client.api import quote

    source, target = o.args
    name, tag, digest = split_reference(target)
    if digest:
        raise ValueError("refusing to create a tag with a digest reference")
    cli.client.call("POST", f"/images/{quote(source, safe='/:@')}/tag",
                    {"repo": name, "tag": tag or "latest"})
    return 0


def _prune(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.prune import prune_images, total_line

    filters = parse_filters(o.list("filter"))
    if not o.bool("force"):
        warning = ("WARNING! This will remove all images without at least one container associated to them."
                   if o.bool("all") else "WARNING! This will remove all dangling images.")
        if not _confirm(cli, warning):
            return 0
    reclaimed, output = prune_images(cli, o.bool("all"), filters)
    if output:
        cli.print(output)
    cli.print(total_line(reclaimed))
    return 0


def confirm(cli: Cli, message: str) -> bool:
    """docker's prompt.Confirm: `message` + " [y/N] "; only "y" or "Y" (spaces trimmed) says yes."""
    import sys

    cli.out.write(f"{message} [y/N] ")
    cli.out.flush()
    return sys.stdin.readline().strip().lower() == "y"  # "no" cancels quietly with status 0, as docker does


def _confirm(cli: Cli, warning: str) -> bool:
    """The prune prompt: "WARNING! ...\\nAre you sure you want to continue? [y/N] "."""
    return confirm(cli, f"{warning}\nAre you sure you want to continue?")


HISTORY_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"


class HistoryRow(Row):
    HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
               "Size": "SIZE", "Comment": "COMMENT"}
    go_type = "*history.historyContext"

    def __init__(self, h: dict[str, Any], trunc: bool, human: bool, now: float) -> None:
        self.h = h
        self.trunc = trunc
        self.human = human
        self.now = now

    def ID(self) -> str:  # noqa: N802
        ident = self.h.get("Id") or "<missing>"
        if ident.startswith("sha256:") and self.trunc:
            return truncate_id(ident)
        return ident

    def CreatedSince(self) -> str:  # noqa: N802
        created = int(self.h.get("Created") or 0)
        if not self.human:
            return self.CreatedAt()
        return human_duration(self.now - created) + " ago" if created > 0 else "N/A"

    def CreatedAt(self) -> str:  # noqa: N802
        import datetime

        created = int(self.h.get("Created") or 0)
        return datetime.datetime.fromtimestamp(created).astimezone().isoformat()

    def CreatedBy(self) -> str:  # noqa: N802
        from dockyard.cli.formatting import ellipsis

        by = (self.h.get("CreatedBy") or "").replace("\t", " ")
        return ellipsis(by, 45) if self.trunc else by

    def Size(self) -> str:  # noqa: N802
        size = int(self.h.get("Size") or 0)
        return human_size(size) if self.human else str(size)

    def Comment(self) -> str:  # noqa: N802
        return self.h.get("Comment") or ""


def _history(cli: Cli, o: Parsed) -> int:
    from dockyard.client.api import quote

    items = cli.client.get_json(f"/images/{quote(o.args[0], safe='/:@')}/history") or []
    trunc = not o.bool("no-trunc")
    now = time.time()
    rows = [HistoryRow(h, trunc, o.bool("human", True), now) for h in items]
    fmt = "{{.ID}}" if o.bool("quiet") else o.str("format")
    cli.out.write(format_rows(fmt, rows, HistoryRow.HEADERS, HISTORY_TABLE))
    return 0


IMAGES_FLAGS = (
    ("a", "all", "bool", "Show all images (default hides intermediate images)"),
    ("", "digests", "bool", "Show digests"),
    ("f", "filter", "filter", "Filter output based on conditions provided"),
    ("", "format", "string", FORMAT_HELP),
    ("", "no-trunc", "bool", "Don't truncate output"),
    ("q", "quiet", "bool", "Only show image IDs"),
    ("", "tree", "bool", "List multi-platform images as a tree (EXPERIMENTAL)"),
)

IMAGES = Command("[OPTIONS] [REPOSITORY[:TAG]]", "List images", _images, flags=IMAGES_FLAGS,
                 aliases=("image ls", "image list", "images"), args=("max", 1))

RMI = Command(
    "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images", _rmi,
    flags=(
        ("f", "force", "bool", "Force removal of the image"),
        ("", "no-prune", "bool", "Do not delete untagged parents"),
        ("", "platform", "strings", 'Remove only the given platform variant. Formatted as "os[/arch[/variant]]" '
                                    '(e.g., "linux/amd64")'),
    ),
    aliases=("image rm", "image remove", "rmi"), args=("min", 1),
)

TAG = Command("SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
              _tag, aliases=("image tag", "tag"), args=("exact", 2))

IMAGE_PRUNE = Command(
    "[OPTIONS]", "Remove unused images", _prune,
    flags=(
        ("a", "all", "bool", "Remove all unused images, not just dangling ones"),
        ("", "filter", "filter", 'Provide filter values (e.g. "until=<timestamp>")'),
        ("f", "force", "bool", "Do not prompt for confirmation"),
    ),
    args=("none",),
)

HISTORY = Command(
    "[OPTIONS] IMAGE", "Show the history of an image", _history,
    flags=(
        ("", "format", "string", FORMAT_HELP),
        ("H", "human", "bool", "Print sizes and dates in human readable format (default true)"),
        ("", "no-trunc", "bool", "Don't truncate output"),
        ("", "platform", "string", 'Show history for the given platform. Formatted as "os[/arch[/variant]]" '
                                   '(e.g., "linux/amd64")'),
        ("q", "quiet", "bool", "Only show image IDs"),
    ),
    aliases=("image history", "history"), args=("exact", 1),
)
