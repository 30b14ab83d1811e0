"""`volume create|ls|inspect|rm|prune|update`, as docker 28.2's CLI does them (cli/command/volume).

`rm` prints each removed name and reports each failure on its own line (status 1); `ls`
sorts by name in natural order; `prune` asks first unless `-f`, removes only anonymous
volumes unless `-a`, and ends with "Total reclaimed space".
"""

from __future__ import annotations

from dockyard.cli.command import BIN, Cli, Command, StatusError, daemon_error
from dockyard.cli.inspect import INSPECT_FORMAT_HELP
from dockyard.cli.ps import FORMAT_HELP

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["VOLUME_CREATE", "VOLUME_LS", "VOLUME_INSPECT", "VOLUME_RM", "VOLUME_PRUNE", "VOLUME_UPDATE"]

_ANONYMOUS_WARNING = ("WARNING! This will remove anonymous local volumes not used by at least one container.\n"
                      "Are you sure you want to continue?")
_ALL_WARNING = ("WARNING! This will remove all local volumes not used by at least one container.\n"
                "Are you sure you want to continue?")
_CLUSTER_FLAGS = ("group", "scope", "sharing", "availability", "type", "secrets", "limit-bytes", "required-bytes")


def _path(name: str) -> str:
    from dockyard.cli.netconfig import check_id
    from dockyard.client.api import quote

    return f"/volumes/{quote(check_id('volume', name))}"


def _create(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.flags import parse_map
    from dockyard.cli.netconfig import validate_label

    name = o.str("name")
    if o.args:
        if name:
            raise StatusError("conflicting options: cannot specify a volume-name through both --name and as a "
                              "positional arg", 1)
        name = o.args[0]
    labels: dict[str, str] = {}
    for lab in o.list("label"):
        try:
            k, _, v = validate_label(lab).partition("=")
        except ValueError as e:   # pflag refuses it while parsing: usage, status 125
            raise StatusError(f"{e}\n\nUsage:  {VOLUME_CREATE.usage_line(cli.path)}\n\n"
                              f"Run '{BIN} {cli.path} --help' for more information", 125) from None
        labels[k] = v
    body: dict[str, Any] = {"Driver": o.str("driver", "local")}
    opts = parse_map(o.list("opt"))
    if opts:
        body["DriverOpts"] = opts
    if labels:
        body["Labels"] = labels
    if name:
        body["Name"] = name
    if any(o.changed(f) for f in _CLUSTER_FLAGS):
        body["ClusterVolumeSpec"] = _cluster_spec(o)
    resp = cli.client.post_json("/volumes/create", json=body) or {}
    cli.print(resp.get("Name", ""))
    return 0


def _cluster_spec(o: Parsed) -> dict[str, Any]:
    """What docker sends for a cluster volume (a swarm manager's business; this daemon refuses it)."""
    access: dict[str, Any] = {"Scope": o.str("scope", "single"), "Sharing": o.str("sharing", "none")}
    access["MountVolume" if o.str("type", "block") == "mount" else "BlockVolume"] = {}
    return {"Group": o.str("group"), "AccessMode": access, "Availability": o.str("availability", "active")}


def _ls(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.format import format_rows
    from dockyard.cli.netconfig import parse_filters, sorted_filters
    from dockyard.cli.netformat import sort_networks as sort_by_name
    from dockyard.cli.volformat import DEFAULT_TABLE, VolumeRow, list_format
    from dockyard.client.api import encode_filters

    filters = parse_filters(o.list("filter"), "-f, --filter")
    resp = cli.client.get_json("/volumes", {"filters": encode_filters(sorted_filters(filters))}) or {}
    volumes = resp.get("Volumes") or []
    if o.bool("cluster"):
        volumes = [v for v in volumes if v.get("ClusterVolume") is not None]
    rows = [VolumeRow(v) for v in sort_by_name(volumes)]   # natural order, as docker sorts networks too
    fmt = list_format(o.str("format"), o.bool("quiet"), o.bool("cluster"))
    cli.out.write(format_rows(fmt, rows, VolumeRow.HEADERS, DEFAULT_TABLE))
    return 0


def _inspect(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.inspect import inspect_refs

    def fetch(name: str) -> Any:
        # docker decodes into its Volume struct and encodes that again: map keys come out sorted
        v = cli.client.get_json(_path(name)) or {}
        for key in ("Labels", "Options", "Status"):
            if isinstance(v.get(key), dict):
                v[key] = dict(sorted(v[key].items()))
        return v

    return inspect_refs(cli, o.args, o.str("format"), fetch)


def _rm(cli: Cli, o: Parsed) -> int:
    from dockyard.client.transport import ConnectError
    from dockyard.errors import DockyardError

    failed = []
    for name in o.args:
        try:
            cli.client.delete(_path(name), {"force": "1"} if o.bool("force") else None)
        except (DockyardError, ConnectError, ValueError) as e:
            failed.append(daemon_error(e))
            continue
        cli.print(name)
    if failed:
        raise StatusError("\n".join(failed), 1)
    return 0


def _prune(cli: Cli, o: Parsed) -> int:
    from dockyard.cli.images import confirm
    from dockyard.cli.netconfig import parse_filters, sorted_filters
    from dockyard.client.api import encode_filters
    from dockyard.units import human_size

    filters = parse_filters(o.list("filter"), "--filter")
    warning = _ANONYMOUS_WARNING
    if o.bool("all"):
        if "all" in filters:
            raise StatusError("conflicting options: cannot specify both --all and --filter all=1", 1)
        filters["all"] = ["true"]
        warning = _ALL_WARNING
    if not o.bool("force") and not confirm(cli, warning):
        return 0  # docker's "cancelled": nothing printed, status 0
    report = cli.client.post_json("/volumes/prune", {"filters": encode_filters(sorted_filters(filters))}) or {}
    deleted = report.get("VolumesDeleted") or []
    reclaimed = (report.get("SpaceReclaimed") or 0) if deleted else 0
    if deleted:
        cli.print("Deleted Volumes:\n" + "".join(f"{n}\n" for n in deleted))
    cli.print(f"Total reclaimed space: {human_size(float(reclaimed), 4)}")   # go-units HumanSize
    return 0


def _update(cli: Cli, o: Parsed) -> int:
    volume = cli.client.get_json(_path(o.args[0])) or {}
    if volume.get("ClusterVolume") is None:
        raise StatusError("can only update cluster volumes", 1)
    raise StatusError("cluster volumes need a swarm manager", 1)


VOLUME_CREATE = Command(
    "[OPTIONS] [VOLUME]", "Create a volume", _create,
    flags=(
        ("", "availability", "string", 'Cluster Volume availability ("active", "pause", "drain") (default "active")'),
        ("d", "driver", "string", 'Specify volume driver name (default "local")'),
        ("", "group", "string", "Cluster Volume group (cluster volumes)"),
        ("", "label", "list", "Set metadata for a volume"),
        ("", "limit-bytes", "bytes", "Minimum size of the Cluster Volume in bytes"),
        ("", "name", "string", "Specify volume name", True),
        ("o", "opt", "map", "Set driver specific options (default map[])"),
        ("", "required-bytes", "bytes", "Maximum size of the Cluster Volume in bytes"),
        ("", "scope", "string", 'Cluster Volume access scope ("single", "multi") (default "single")'),
        ("", "secret", "map", "Cluster Volume secrets (default map[])"),
        ("", "sharing", "string",
         'Cluster Volume access sharing ("none", "readonly", "onewriter", "all") (default "none")'),
        ("", "topology-preferred", "list", "A topology that the Cluster Volume would be preferred in"),
        ("", "topology-required", "list", "A topology that the Cluster Volume must be accessible from"),
        ("", "type", "string", 'Cluster Volume access type ("mount", "block") (default "block")'),
    ),
    args=("max", 1),
)

VOLUME_LS = Command(
    "[OPTIONS]", "List volumes", _ls,
    flags=(
        ("", "cluster", "bool", "Display only cluster volumes, and use cluster volume list formatting"),
        ("f", "filter", "filter", 'Provide filter values (e.g. "dangling=true")'),
        ("", "format", "string", FORMAT_HELP),
        ("q", "quiet", "bool", "Only display volume names"),
    ),
    aliases=("volume ls", "volume list"), args=("none",),
)

VOLUME_INSPECT = Command(
    "[OPTIONS] VOLUME [VOLUME...]", "Display detailed information on one or more volumes", _inspect,
    flags=(("f", "format", "string", INSPECT_FORMAT_HELP),),
    args=("min", 1),
)

VOLUME_RM = Command(
    "[OPTIONS] VOLUME [VOLUME...]",
    "Remove one or more volumes. You cannot remove a volume that is in use by a container.", _rm,
    flags=(("f", "force", "bool", "Force the removal of one or more volumes"),),
    aliases=("volume rm", "volume remove"), args=("min", 1),
)

VOLUME_PRUNE = Command(
    "[OPTIONS]", "Remove unused local volumes", _prune,
    flags=(
        ("a", "all", "bool", "Remove all unused volumes, not just anonymous ones"),
        ("", "filter", "filter", 'Provide filter values (e.g. "label=<label>")'),
        ("f", "force", "bool", "Do not prompt for confirmation"),
    ),
    args=("none",),
)

VOLUME_UPDATE = Command(
    "[OPTIONS] [VOLUME]", "Update a volume (cluster volumes only)", _update,
    flags=(("", "availability", "string", 'Cluster Volume availability ("active", "pause", "drain") '
                                          '(default "active")'),),
    args=("exact", 1),
)
