"""`inspect`, `container inspect`, `image inspect` (and `network inspect`'s output): docker's inspect flow.

Every name is looked up in turn; what was found is printed as one indented JSON array
(`-f json`: one compact array; `-f TEMPLATE`: the template once per object), then every
failure, one per line, with status 1.  A template that does not parse fails first, with
status 64, before any request.  Plain `inspect` tries each name as a container, an image,
a network, then a volume; a name none of them knows is "Error: No such object: NAME".
"""

from __future__ import annotations

from dockyard.cli.command import Cli, Command, StatusError, daemon_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["INSPECT", "CONTAINER_INSPECT", "IMAGE_INSPECT", "INSPECT_FORMAT_HELP", "inspect_refs"]

INSPECT_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
)

# --type value → (path, query); swarm and plugin objects are asked for as docker asks
_KINDS: dict[str, tuple[str, dict[str, Any] | None]] = {
    "config": ("/configs/{}", None),
    "container": ("/containers/{}/json", None),
    "image": ("/images/{}/json", None),
    "network": ("/networks/{}", None),
    "node": ("/nodes/{}", None),
    "plugin": ("/plugins/{}/json", None),
    "secret": ("/secrets/{}", None),
    "service": ("/services/{}", {"insertDefaults": "true"}),
    "task": ("/tasks/{}", None),
    "volume": ("/volumes/{}", None),
}
_AUTODETECT = ("container", "image", "network", "volume")  # the swarm kinds need a swarm manager


def inspect_refs(cli: Cli, names: list[str], fmt: str, fetch: Callable[[str], Any]) -> int:
    """docker's inspect.Inspect: fetch each name, print what was found, then the errors."""
    import json

    from dockyard.cli.gotemplate import Template, TemplateError
    from dockyard.client.transport import ConnectError
    from dockyard.errors import DockyardError

    tmpl = None
    if fmt and fmt != "json":
        try:
            tmpl = Template(fmt)
        except TemplateError as e:
            raise StatusError(f"template parsing error: {e}", 64) from None
    items: list[Any] = []
    text: list[str] = []
    errors: list[str] = []
    for name in names:
        try:
            item = fetch(name)
        except (DockyardError, ConnectError, ValueError) as e:
            errors.append(daemon_error(e))
            continue
        if tmpl is None:
            items.append(item)
            continue
        try:
            text.append(tmpl.execute(item) + "\n")
        except TemplateError as e:
            errors.append(f"template parsing error: {e}")
    if not fmt:
        cli.out.write(json.dumps(items, indent=4, ensure_ascii=False) + "\n" if items else "[]\n")
    elif fmt == "json":
        cli.out.write(json.dumps(items, ensure_ascii=False, separators=(",", ":")) + "\n")
    else:
        cli.out.write("".join(text) or "\n")
    if errors:
        raise StatusError("\n".join(errors), 1)
    return 0


def _fetcher(cli: Cli, kind: str, size: bool) -> Callable[[str], Any]:
    from dockyard.client.api import quote

    path, params = _KINDS[kind]
    if size and kind == "container":
        params = {"size": True}

    def fetch(name: str) -> Any:
        if kind != "image":  # the client's trimID; an empty image name goes to the daemon's 404
            from dockyard.cli.netconfig import check_id

            name = check_id(kind, name)
        return cli.client.get_json(path.format(quote(name, safe="/:@" if kind == "image" else "")), params)

    return fetch


def _autodetect(cli: Cli, size: bool) -> Callable[[str], Any]:
    """Try each kind; go on only past "not found" (and an image name that is no reference)."""
    from dockyard.client.transport import ConnectError
    from dockyard.errors import DockyardError, NotFound

    fetchers = [(kind, _fetcher(cli, kind, size)) for kind in _AUTODETECT]

    def fetch(name: str) -> Any:
        for kind, one in fetchers:
            try:
                item = one(name)
            except NotFound:
                continue
            except (DockyardError, ConnectError, ValueError) as e:
                if "not supported" in str(e) or "invalid reference format" in str(e):
                    continue
                raise
            if size and kind != "container":
                cli.eprint(f"WARNING: --size ignored for {kind}")
            return item
        raise ValueError(f"Error: No such object: {name}")

    return fetch


def _inspect(cli: Cli, o: Parsed) -> int:
    kind = o.str("type")
    if kind and kind not in _KINDS:
        allowed = '", "'.join(_KINDS)
        raise StatusError(f'unknown type: "{kind}": must be one of "{allowed}"', 1)
    fetch = _fetcher(cli, kind, o.bool("size")) if kind else _autodetect(cli, o.bool("size"))
    return inspect_refs(cli, o.args, o.str("format"), fetch)


def _container_inspect(cli: Cli, o: Parsed) -> int:
    return inspect_refs(cli, o.args, o.str("format"), _fetcher(cli, "container", o.bool("size")))


def _image_inspect(cli: Cli, o: Parsed) -> int:
    return inspect_refs(cli, o.args, o.str("format"), _fetcher(cli, "image", False))


INSPECT = Command(
    "[OPTIONS] NAME|ID [NAME|ID...]",
    "Return low-level information on Docker objects",
    _inspect,
    flags=(
        ("f", "format", "string", INSPECT_FORMAT_HELP),
        ("s", "size", "bool", "Display total file sizes if the type is container"),
        ("", "type", "string", "Only inspect objects of the given type"),
    ),
    args=("min", 1),
)

CONTAINER_INSPECT = Command(
    "[OPTIONS] CONTAINER [CONTAINER...]",
    "Display detailed information on one or more containers",
    _container_inspect,
    flags=(
        ("f", "format", "string", INSPECT_FORMAT_HELP),
        ("s", "size", "bool", "Display total file sizes"),
    ),
    args=("min", 1),
)

IMAGE_INSPECT = Command(
    "[OPTIONS] IMAGE [IMAGE...]",
    "Display detailed information on one or more images",
    _image_inspect,
    flags=(
        ("f", "format", "string", INSPECT_FORMAT_HELP),
        ("", "platform", "string", "Inspect a specific platform of the multi-platform image.\nIf the image or the "
                                   "server is not multi-platform capable, the command will error out if the platform "
                                   "does not match.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)"),
    ),
    args=("min", 1),
)
