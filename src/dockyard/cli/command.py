"""What a command is, how it is invoked, and how failures reach the user — as docker does it.

Exit codes follow the docker CLI: 0 ok, 1 for errors from the daemon or bad arity,
125 for flag errors (and for every failure of `run`/`create` before the container runs),
the container's own status for attached `run`/`start`.
"""

from __future__ import annotations

import sys

from dockyard.cli.flags import FlagError, FlagSet, render_flags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from dockyard.cli.flags import Parsed
    from dockyard.client.api import Client

__all__ = [
    "BIN",
    "Cli",
    "Command",
    "StatusError",
    "daemon_error",
    "terminal_width",
    "invoke",
]

BIN = "dockyard"


class StatusError(Exception):
    """Leave with `code`, printing `message` (if any) on stderr."""

    def __init__(self, message: str = "", code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Command:
    """One command: its usage line, help text, flags, arity rule and handler."""

    def __init__(
        self,
        use: str,
        short: str,
        handler: Callable[[Cli, Parsed], int | None],
        flags: tuple = (),
        aliases: tuple[str, ...] = (),
        args: tuple = ("any",),
        interspersed: bool = True,
        run_style_errors: bool = False,
        help_short: bool = True,
    ) -> None:
        self.use = use  # "[OPTIONS] IMAGE [COMMAND] [ARG...]"
        self.short = short
        self.handler = handler
        self.flags = flags
        self.aliases = aliases  # full paths without the binary name: ("container run", "run")
        self.args = args
        self.interspersed = interspersed
        self.run_style_errors = run_style_errors  # run/create: "dockyard: <err>\n\nRun ... --help" and 125
        self.help_short = help_short

    def flagset(self) -> FlagSet:
        return FlagSet(self.flags, interspersed=self.interspersed, help_short=self.help_short)

    def usage_line(self, path: str) -> str:
        return f"{BIN} {path} {self.use}".rstrip()

    def help_text(self, path: str, width: int = 80) -> str:
        parts = [f"Usage:  {self.usage_line(path)}\n\n{self.short}\n"]
        if self.aliases:
            parts.append("\nAliases:\n  " + ", ".join(f"{BIN} {a}" for a in self.aliases) + "\n")
        flags = render_flags(self.flags, width)
        if flags:
            parts.append("\nOptions:\n" + flags)
        return "".join(parts)

    def check_args(self, path: str, args: list[str]) -> str | None:
        """docker's cli/required.go wording (including its "SRun" for at-most)."""
        rule = self.args
        kind = rule[0]
        n = len(args)

        def plural(k: int) -> str:
            return "argument" if k == 1 else "arguments"

        usage = f"\n\nUsage:  {self.usage_line(path)}\n\n"
        if kind == "none" and n:
            return f"{BIN}: '{BIN} {path}' accepts no arguments{usage}Run '{BIN} {path} --help' for more information"
        if kind == "exact" and n != rule[1]:
            return (f"{BIN}: '{BIN} {path}' requires {rule[1]} {plural(rule[1])}{usage}"
                    f"Run '{BIN} {path} --help' for more information")
        if kind in ("min", "range") and n < rule[1]:
            return (f"{BIN}: '{BIN} {path}' requires at least {rule[1]} {plural(rule[1])}{usage}"
                    f"See '{BIN} {path} --help' for more information")
        if kind == "max" and n > rule[1]:
            return (f"{BIN}: '{BIN} {path}' requires at most {rule[1]} {plural(rule[1])}{usage}"
                    f"SRun '{BIN} {path} --help' for more information")
        if kind == "range" and n > rule[2]:
            return (f"{BIN}: '{BIN} {path}' requires at most {rule[2]} {plural(rule[2])}{usage}"
                    f"SRun '{BIN} {path} --help' for more information")
        return None


def terminal_width(fd: int = 0) -> int:
    """The terminal's width on stdin, as docker's help wraps to it; 80 when not a terminal."""
    try:
        import fcntl
        import struct
        import termios

        packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8)
        cols = struct.unpack("HHHH", packed)[1]
        return cols or 80
    except (OSError, ImportError):
        return 80


def daemon_error(err: BaseException) -> str:
    """How docker words an error the daemon returned (connection errors stay as they are)."""
    from dockyard.errors import DockyardError

    if isinstance(err, DockyardError) and getattr(err, "status", 0):
        return f"Error response from daemon: {err.message}"
    return str(err)


class Cli:
    """Per-invocation state: where the daemon is, and the streams to write to."""

    def __init__(self, host: str, default_host: bool, debug: bool = False) -> None:
        self.host = host
        self.default_host = default_host
        self.debug = debug
        self.path = ""  # the command path as invoked: "run", "container ls"
        self._client: Client | None = None
        self.out = sys.stdout
        self.err = sys.stderr

    @property
    def client(self) -> Client:
        if self._client is None:
            from dockyard.client.api import Client

            self._client = Client(self.host, autostart=self.default_host, user_agent="Dockyard-Client (linux)")
        return self._client

    def print(self, text: str = "", end: str = "\n") -> None:
        self.out.write(text + end)

    def eprint(self, text: str = "", end: str = "\n") -> None:
        self.out.flush()
        self.err.write(text + end)
        self.err.flush()


def invoke(cli: Cli, cmd: Command, path: str, argv: list[str]) -> int:
    """Parse, check, run one command and turn every failure into docker's output and exit code."""
    cli.path = path
    try:
        opts = cmd.flagset().parse(argv)
    except FlagError as e:
        cli.eprint(f"{e}\n\nUsage:  {cmd.usage_line(path)}\n\nRun '{BIN} {path} --help' for more information")
        return 125
    if opts.bool("help"):
        cli.out.write(cmd.help_text(path, terminal_width()))
        return 0
    problem = cmd.check_args(path, opts.args)
    if problem:
        cli.eprint(problem)
        return 1
    from dockyard.client.transport import ConnectError, ProtocolError
    from dockyard.errors import DockyardError

    try:
        code = cmd.handler(cli, opts)
        cli.out.flush()
        return code or 0
    except StatusError as e:
        if e.message:
            cli.eprint(e.message)
        return e.code
    except (DockyardError, ConnectError, ValueError, OSError) as e:
        if isinstance(e, BrokenPipeError):
            return 0 if not cmd.run_style_errors else 125
        text = daemon_error(e)
        if cmd.run_style_errors:
            cli.eprint(f"{BIN}: {text}\n\nRun '{BIN} {path} --help' for more information")
            return 125
        cli.eprint(text)
        return 1
    except ProtocolError as e:
        cli.eprint(f"error during connect: {e}")
        return 1
    except KeyboardInterrupt:
        return 130

