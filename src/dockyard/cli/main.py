"""`dockyard`: the entry point.  Global flags, then a command looked up in a static table.

Each command's module is imported only when that command runs (start-up time is
benchmarked: `dockyard run --rm busybox true` must not pay for `images` or templates).
"""

from __future__ import annotations

import sys

from dockyard.cli.command import BIN, Cli, Command, invoke, terminal_width
from dockyard.cli.flags import FlagError, FlagSet

__all__ = ["main", "COMMANDS", "GROUPS", "resolve"]

# name → (module, attribute, short help shown in `dockyard --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "run": ("run", "RUN", "Create and run a new container from an image"),
    "exec": ("exec", "EXEC", "Execute a command in a running container"),
    "ps": ("ps", "PS", "List containers"),
    "images": ("images", "IMAGES", "List images"),
    "version": ("system", "VERSION", "Show the dockyard version information"),
    "info": ("system", "INFO", "Display system-wide information"),
    "build": ("build", "BUILD", "Build an image from a Dockerfile"),
    "attach": ("exec", "ATTACH", "Attach local standard input, output, and error streams to a running container"),
    "commit": ("commit", "COMMIT", "Create a new image from a container's changes"),
    "cp": ("cp", "CP", "Copy files/folders between a container and the local filesystem"),
    "create": ("run", "CREATE", "Create a new container"),
    "history": ("images", "HISTORY", "Show the history of an image"),
    "import": ("importcmd", "IMPORT", "Import the contents from a tarball to create a filesystem image"),
    "inspect": ("inspect", "INSPECT", "Return low-level information on Docker objects"),
    "kill": ("lifecycle", "KILL", "Kill one or more running containers"),
    "load": ("saveload", "LOAD", "Load an image from a tar archive or STDIN"),
    "login": ("registry", "LOGIN", "Authenticate to a registry"),
    "logout": ("registry", "LOGOUT", "Log out from a registry"),
    "pull": ("registry", "PULL", "Download an image from a registry"),
    "push": ("registry", "PUSH", "Upload an image to a registry"),
    "logs": ("logs", "LOGS", "Fetch the logs of a container"),
    "pause": ("lifecycle", "PAUSE", "Pause all processes within one or more containers"),
    "rename": ("lifecycle", "RENAME", "Rename a container"),
    "restart": ("lifecycle", "RESTART", "Restart one or more containers"),
    "rm": ("lifecycle", "RM", "Remove one or more containers"),
    "rmi": ("images", "RMI", "Remove one or more images"),
    "save": ("saveload", "SAVE", "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    "start": ("start", "START", "Start one or more stopped containers"),
    "stop": ("lifecycle", "STOP", "Stop one or more running containers"),
    "tag": ("images", "TAG", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "unpause": ("lifecycle", "UNPAUSE", "Unpause all processes within one or more containers"),
    "wait": ("lifecycle", "WAIT", "Block until one or more containers stop, then print their exit codes"),
    "diff": ("diffexport", "DIFF", "Inspect changes to files or directories on a container's filesystem"),
    "events": ("events", "EVENTS", "Get real time events from the server"),
    "export": ("diffexport", "EXPORT", "Export a container's filesystem as a tar archive"),
    "port": ("port", "PORT", "List port mappings or a specific mapping for the container"),
    "stats": ("stats", "STATS", "Display a live stream of container(s) resource usage statistics"),
    "top": ("top", "TOP", "Display the running processes of a container"),
    "update": ("update", "UPDATE", "Update configuration of one or more containers"),
    "bootstrap": ("bootstrap", "BOOTSTRAP", "Create a base image without a registry (busybox, debian, python)"),
    "daemon": ("daemoncmd", "DAEMON", "Run the dockyard daemon"),
    "compose": ("compose", "COMPOSE", "Define and run multi-container applications"),
}

_COMMON = ("run", "exec", "ps", "build", "images", "version", "info")

# management commands: group → subcommand → (module, attribute, short)
GROUPS: dict[str, tuple[str, dict[str, tuple[str, str, str]]]] = {
    "container": ("Manage containers", {
        "attach": COMMANDS["attach"],
        "commit": COMMANDS["commit"],
        "cp": COMMANDS["cp"],
        "create": COMMANDS["create"],
        "diff": COMMANDS["diff"],
        "exec": COMMANDS["exec"],
        "export": COMMANDS["export"],
        "inspect": ("inspect", "CONTAINER_INSPECT", "Display detailed information on one or more containers"),
        "kill": COMMANDS["kill"],
        "logs": COMMANDS["logs"],
        "ls": ("ps", "PS", "List containers"),
        "pause": COMMANDS["pause"],
        "port": COMMANDS["port"],
        "prune": ("lifecycle", "CONTAINER_PRUNE", "Remove all stopped containers"),
        "rename": COMMANDS["rename"],
        "restart": COMMANDS["restart"],
        "rm": COMMANDS["rm"],
        "run": COMMANDS["run"],
        "start": COMMANDS["start"],
        "stats": COMMANDS["stats"],
        "stop": COMMANDS["stop"],
        "top": COMMANDS["top"],
        "unpause": COMMANDS["unpause"],
        "update": COMMANDS["update"],
        "wait": COMMANDS["wait"],
    }),
    "image": ("Manage images", {
        "build": COMMANDS["build"],
        "history": COMMANDS["history"],
        "import": COMMANDS["import"],
        "inspect": ("inspect", "IMAGE_INSPECT", "Display detailed information on one or more images"),
        "load": COMMANDS["load"],
        "ls": ("images", "IMAGES", "List images"),
        "prune": ("images", "IMAGE_PRUNE", "Remove unused images"),
        "pull": COMMANDS["pull"],
        "push": COMMANDS["push"],
        "rm": COMMANDS["rmi"],
        "save": COMMANDS["save"],
        "tag": COMMANDS["tag"],
    }),
    "network": ("Manage networks", {
        "connect": ("network", "NETWORK_CONNECT", "Connect a container to a network"),
        "create": ("network", "NETWORK_CREATE", "Create a network"),
        "disconnect": ("network", "NETWORK_DISCONNECT", "Disconnect a container from a network"),
        "inspect": ("network", "NETWORK_INSPECT", "Display detailed information on one or more networks"),
        "ls": ("network", "NETWORK_LS", "List networks"),
        "prune": ("network", "NETWORK_PRUNE", "Remove all unused networks"),
        "rm": ("network", "NETWORK_RM", "Remove one or more networks"),
    }),
    "volume": ("Manage volumes", {
        "create": ("volume", "VOLUME_CREATE", "Create a volume"),
        "inspect": ("volume", "VOLUME_INSPECT", "Display detailed information on one or more volumes"),
        "ls": ("volume", "VOLUME_LS", "List volumes"),
        "prune": ("volume", "VOLUME_PRUNE", "Remove unused local volumes"),
        "rm": ("volume", "VOLUME_RM", "Remove one or more volumes"),
        "update": ("volume", "VOLUME_UPDATE", "Update a volume (cluster volumes only)"),
    }),
    "system": ("Manage dockyard", {
        "df": ("systemdf", "SYSTEM_DF", "Show dockyard disk usage"),
        "events": COMMANDS["events"],
        "info": COMMANDS["info"],
        "prune": ("prune", "SYSTEM_PRUNE", "Remove unused data"),
    }),
    "registry": ("Run a registry (OCI distribution)", {
        "serve": ("registrycmd", "REGISTRY_SERVE", "Serve the OCI distribution API from a local directory"),
        "garbage-collect": ("registrycmd", "REGISTRY_GC", "Delete the blobs no manifest uses"),
    }),
    "builder": ("Manage builds", {
        "build": COMMANDS["build"],
        "prune": ("prune", "BUILDER_PRUNE", "Remove build cache"),
    }),
}

_GROUP_ALIASES = {
    "container": {"list": "ls", "ps": "ls", "remove": "rm"},
    "image": {"list": "ls", "remove": "rm"},
    "network": {"list": "ls", "remove": "rm"},
    "volume": {"list": "ls", "remove": "rm"},
    "system": {},
    "builder": {},
    "registry": {},
}

GLOBAL_FLAGS = (
    ("", "config", "string", 'Location of client config files (default "/root/.docker")'),
    ("c", "context", "string", 'Name of the context to use to connect to the daemon (overrides DOCKER_HOST env var '
                               'and default context set with "docker context use")'),
    ("D", "debug", "bool", "Enable debug mode"),
    ("H", "host", "list", "Daemon socket to connect to"),
    ("l", "log-level", "string", 'Set the logging level ("debug", "info", "warn", "error", "fatal") (default "info")'),
    ("", "tls", "bool", "Use TLS; implied by --tlsverify"),
    ("", "tlscacert", "string", 'Trust certs signed only by this CA (default "/root/.docker/ca.pem")'),
    ("", "tlscert", "string", 'Path to TLS certificate file (default "/root/.docker/cert.pem")'),
    ("", "tlskey", "string", 'Path to TLS key file (default "/root/.docker/key.pem")'),
    ("", "tlsverify", "bool", "Use TLS and verify the remote"),
    ("v", "version", "bool", "Print version information and quit"),
)


def _load(entry: tuple[str, str, str]) -> Command:
    import importlib

    module = importlib.import_module(f"dockyard.cli.{entry[0]}")
    return getattr(module, entry[1])


def resolve(args: list[str]) -> tuple[str, Command | None, list[str], str | None]:
    """(command path, command, its argv, group name if a bare group was named)."""
    name = args[0]
    if name in GROUPS:
        _short, subs = GROUPS[name]
        rest = args[1:]
        if not rest or rest[0].startswith("-"):
            return name, None, rest, name
        sub = _GROUP_ALIASES[name].get(rest[0], rest[0])
        if sub not in subs:
            return f"{name} {rest[0]}", None, rest, name
        return f"{name} {sub}", _load(subs[sub]), rest[1:], None
    if name in COMMANDS:
        return name, _load(COMMANDS[name]), args[1:], None
    return name, None, args[1:], None


def _top_help(width: int) -> str:
    from dockyard.cli.flags import render_flags

    def rows(items: list[tuple[str, str]]) -> str:
        return "".join(f"  {n:<11} {short}\n" for n, short in items)

    other = sorted(n for n in COMMANDS if n not in _COMMON)
    return (
        f"Usage:  {BIN} [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\n"
        f"Common Commands:\n{rows([(n, COMMANDS[n][2]) for n in _COMMON])}\n"
        f"Management Commands:\n{rows([(g, GROUPS[g][0]) for g in sorted(GROUPS)])}\n"
        f"Commands:\n{rows([(n, COMMANDS[n][2]) for n in other])}\n"
        f"Global Options:\n{render_flags(GLOBAL_FLAGS, width)}\n"
        f"Run '{BIN} COMMAND --help' for more information on a command.\n"
    )


def _group_help(group: str) -> str:
    short, subs = GROUPS[group]
    lines = "".join(f"  {n:<11} {subs[n][2]}\n" for n in sorted(subs))
    return (f"Usage:  {BIN} {group} COMMAND\n\n{short}\n\nCommands:\n{lines}\n"
            f"Run '{BIN} {group} COMMAND --help' for more information on a command.\n")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    gflags = FlagSet(GLOBAL_FLAGS, interspersed=False)
    try:
        g = gflags.parse(args)
    except FlagError as e:
        sys.stderr.write(f"{e}\n\nUsage:  {BIN} [OPTIONS] COMMAND [ARG...]\n\nRun '{BIN} --help' for more information\n")
        return 125
    if g.bool("version"):
        from dockyard import __version__

        sys.stdout.write(f"Dockyard version {__version__}, build dockyard\n")
        return 0
    if g.bool("help") or not g.args:
        sys.stdout.write(_top_help(terminal_width()))
        return 0
    args = g.args
    if args[0] == "help":
        args = [*args[1:], "--help"] if len(args) > 1 else []
        if not args:
            sys.stdout.write(_top_help(terminal_width()))
            return 0
    if args[0] == "daemon":
        # the daemon parses its own flags (and must not need a daemon to run)
        from dockyard.cli.daemoncmd import run_daemon

        return run_daemon(args[1:])

    from dockyard.client.transport import resolve_host

    try:
        host, default = resolve_host(g.list("host") or None)
    except ValueError as e:
        sys.stderr.write(f"{e}\n")
        return 1
    cli = Cli(host, default, debug=g.bool("debug"))
    path, cmd, rest, group = resolve(args)
    if cmd is None:
        if group is not None and path == group:
            if rest and rest[0] not in ("--help", "-h"):
                sys.stderr.write(f"unknown flag: {rest[0]}\n\nUsage:  {BIN} {group} COMMAND\n\n"
                                 f"Run '{BIN} {group} --help' for more information\n")
                return 125
            # `dockyard network --help` answers on stdout; a bare `dockyard network` shows the help
            # on stderr (cobra's ShowHelp(Err)), still with status 0
            (sys.stdout if rest else sys.stderr).write(_group_help(group))
            return 0
        if group is not None:
            use = "volume COMMAND" if group == "volume" else group   # each group's cobra Use line
            sys.stderr.write(f"{BIN}: unknown command: {BIN} {path}\n\nUsage:  {BIN} {use}\n\n"
                             f"Run '{BIN} {group} --help' for more information\n")
            return 1
        sys.stderr.write(f"{BIN}: unknown command: {BIN} {path}\n\nRun '{BIN} --help' for more information\n")
        return 1
    try:
        return invoke(cli, cmd, path, rest)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
