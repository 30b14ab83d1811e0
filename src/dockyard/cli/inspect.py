"""`inspect`, `container inspect`, `image inspect`: JSON arrays indented like docker, or `-f`.

Plain `inspect` tries each name as a container, an image, a network, then a volume.
Names not found are reported after the output ("Error: No such object: x") with status 1.
"""

from __future__ import annotations

from dockyard.cli.command import Cli, Command, StatusError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["INSPECT", "CONTAINER_INSPECT", "IMAGE_INSPECT", "write_inspect"]

_INSPECT_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
)

_KINDS = {
    "container": ("/containers/{}/json", "container"),
    "image": ("/images/{}/json", "image"),
    "network": ("/networks/{}", "network"),
    "volume": ("/volumes/{}", "volume"),
}


def write_inspect(cli: Cli, items: list[Any], fmt: str) -> None:
    """docker's inspect output: an indented JSON array, or the template once per item."""
    import json

    if not fmt:
        cli.out.write(json.dumps(items, indent=4, ensure_ascii=False) + "\n" if items else "[]\n")
        return
    if fmt == "json":
        for item in items:
            cli.out.write(json.dumps(item, ensure_ascii=False, separators=(",", ":")) + "\n")
        return
    from dockyard.cli.gotemplate import Template, TemplateError

    try:
        tmpl = Template(fmt)
        for item in items:
            cli.out.write(tmpl.execute(item) + "\n")
    except TemplateError as e:
        raise StatusError(f"template parsing error: {e}", 1) from None


def _getter(cli: Cli, kind: str, size: bool) -> Callable[[str], Any]:
    from dockyard.client.api import quote

    path = _KINDS[kind][0]
    safe = "/:@" if kind == "image" else ""
    params = {"size": True} if size and kind == "container" else None
    return lambda name: cli.client.get_json(path.format(quote(name, safe=safe)), params)


def _inspect_all(cli: Cli, o: Parsed, kinds: list[str], not_found: Callable[[str, str], str]) -> int:
    from dockyard.errors import NotFound

    items: list[Any] = []
    errors: list[str] = []
    for name in o.args:
        found = False
        last_err: Exception | None = None
        for kind in kinds:
            try:
                items.append(_getter(cli, kind, o.bool("size"))(name))
                found = True
                break
            except NotFound as e:
                last_err = e
                continue
        if not found:
            errors.append(not_found(name, str(last_err) if last_err else ""))
    write_inspect(cli, items, o.str("format"))
    if errors:
        raise StatusError("\n".join(errors), 1)
    return 0


def _inspect(cli: Cli, o: Parsed) -> int:
    kind = o.str("type")
    if kind:
        if kind not in _KINDS:
            raise StatusError(f'"{kind}" is not a valid value for --type', 1)
        return _inspect_all(cli, o, [kind], lambda n, _m: f"Error: No such {kind}: {n}")
    return _inspect_all(cli, o, list(_KINDS), lambda n, _m: f"Error: No such object: {n}")


def _container_inspect(cli: Cli, o: Parsed) -> int:
    return _inspect_all(cli, o, ["container"], lambda n, m: f"Error: {m}" if m else f"Error: No such container: {n}")


def _image_inspect(cli: Cli, o: Parsed) -> int:
    return _inspect_all(cli, o, ["image"], lambda n, m: f"Error: {m}" if m else f"Error: No such image: {n}")


INSPECT = Command(
    "[OPTIONS] NAME|ID [NAME|ID...]",
    "Return low-level information on Docker objects",
    _inspect,
    flags=(
        ("f", "format", "string", _INSPECT_FORMAT_HELP),
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
        ("f", "format", "string", _INSPECT_FORMAT_HELP),
        ("s", "size", "bool", "Display total file sizes"),
    ),
    args=("min", 1),
)

IMAGE_INSPECT = Command(
    "[OPTIONS] IMAGE [IMAGE...]",
    "Display detailed information on one or more images",
    _image_inspect,
    flags=(
        ("f", "format", "string", _INSPECT_FORMAT_HELP),
        ("", "platform", "string", "Inspect a specific platform of the multi-platform image.\nIf the image or the "
                                   "server is not multi-platform capable, the command will error out if the platform "
                                   "does not match.\n'os[/arch[/variant]]': Explicit platform (eg. linux/amd64)"),
    ),
    args=("min", 1),
)
