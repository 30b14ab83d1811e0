"""Parser nodes → typed instructions and build stages (buildkit's `frontend/dockerfile/instructions`).

Validates each instruction in buildkit's order and with its messages ("FROM requires
either one or three arguments", "unknown flag: --foo", ...). `parse_instruction` raises
the bare reason (as buildkit's ParseInstruction; Docker shows it so for ONBUILD
triggers); `parse_dockerfile` words it as the daemon does for a Dockerfile:
"dockerfile parse error on line N: <reason>".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypedDict

from dockyard.build.bflags import BFlags, FlagError
from dockyard.build.commands import (
    AddInstruction,
    ArgInstruction,
    CmdInstruction,
    CopyInstruction,
    Dockerfile,
    EntrypointInstruction,
    EnvInstruction,
    ExposeInstruction,
    FromInstruction,
    HealthcheckInstruction,
    Instruction,
    LabelInstruction,
    MaintainerInstruction,
    OnbuildInstruction,
    RunInstruction,
    ShellInstruction,
    Stage,
    StopsignalInstruction,
    UserInstruction,
    VolumeInstruction,
    Word,
    Words,
    WorkdirInstruction,
)
from dockyard.build.errors import DockerfileError
from dockyard.build.golang import (
    equal_fold,
    go_lower,
    go_quote,
    go_upper,
    parse_duration,
    parse_int32,
    suggest,
    trim_space,
)
from dockyard.build.line_parsers import KNOWN
from dockyard.build.parser import Heredoc, Node, chomp_heredoc, parse, parse_heredoc
from dockyard.build.run_flags import check_run_flags, declare_run_flags

__all__ = [
    "parse_dockerfile", "parse_instruction", "DockerfileError", "Heredoc", "Word", "Words",
    "FromInstruction", "RunInstruction", "CopyInstruction", "AddInstruction", "CmdInstruction",
    "EntrypointInstruction", "EnvInstruction", "LabelInstruction", "ArgInstruction", "ExposeInstruction",
    "VolumeInstruction", "UserInstruction", "WorkdirInstruction", "HealthcheckInstruction",
    "ShellInstruction", "StopsignalInstruction", "OnbuildInstruction", "MaintainerInstruction",
    "Instruction", "Stage", "Dockerfile",
]

_STAGE_NAME = re.compile(r"[a-z][a-z0-9_.\-]*\Z")
_ONBUILD_PREFIX = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE | re.ASCII)
_MIN_INTERVAL = 1_000_000        # 1ms


class _Invalid(Exception):
    """The reason an instruction is invalid (its location is added by the caller)."""


def parse_dockerfile(text: str | bytes, *, name: str | None = "Dockerfile") -> Dockerfile:
    """Parse a whole Dockerfile into its global ARGs and its stages."""
    result = parse(text, name=name)
    meta_args: list[ArgInstruction] = []
    stages: list[tuple[FromInstruction, list[Instruction]]] = []
    for node in result.nodes:
        try:
            instruction = parse_instruction(node)
        except DockerfileError as err:
            raise DockerfileError(f"dockerfile parse error on line {node.start_line}: {err.reason}",
                                  node.start_line, reason=err.reason) from None
        if isinstance(instruction, FromInstruction):
            stages.append((instruction, []))
        elif not stages and isinstance(instruction, ArgInstruction):
            meta_args.append(instruction)
        elif not stages:
            raise DockerfileError("no build stage in current context", node.start_line)
        else:
            stages[-1][1].append(instruction)
    return Dockerfile(
        meta_args=tuple(meta_args),
        stages=tuple(Stage(name=f.stage_name, base=f.base, platform=f.platform, line=f.line,
                           original=f.original, commands=tuple(cmds)) for f, cmds in stages),
        directives=result.directives, escape=result.escape, warnings=result.warnings)


def parse_instruction(node: Node) -> Instruction:
    """One node as a typed instruction; DockerfileError (bare reason, with the line) when invalid."""
    parser = _PARSERS.get(node.keyword)
    try:
        if parser is None:
            raise _Invalid(suggest(f"unknown instruction: {node.command}", node.command, list(KNOWN), False))
        return parser(_Request(node))
    except (_Invalid, FlagError) as err:
        raise DockerfileError(str(err), node.start_line) from None


class _Where(TypedDict):
    line: int
    original: str


class _Request:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.args = node.args
        self.flags = BFlags(node.flags)
        self.at = _Where(line=node.start_line, original=node.original)


# ---------------------------------------------------------------- per instruction, in buildkit's order

def _kvps(args: tuple[str, ...], name: str) -> tuple[tuple[str, str], ...]:
    if not args:
        raise _Invalid(f"{name} requires at least one argument")
    if len(args) % 3:
        raise _Invalid(f"Bad input to {name}, too many arguments")
    pairs = []
    for i in range(0, len(args), 3):
        if not args[i]:
            raise _Invalid(f"{name} names can not be blank")
        pairs.append((args[i], args[i + 1]))
    return tuple(pairs)


def _env(req: _Request) -> EnvInstruction:
    req.flags.parse()
    return EnvInstruction(_kvps(req.args, "ENV"), **req.at)


def _label(req: _Request) -> LabelInstruction:
    req.flags.parse()
    return LabelInstruction(_kvps(req.args, "LABEL"), **req.at)


def _maintainer(req: _Request) -> MaintainerInstruction:
    _exactly_one(req, "MAINTAINER")
    req.flags.parse()
    return MaintainerInstruction(req.args[0], **req.at)


def _exactly_one(req: _Request, name: str) -> None:
    if len(req.args) != 1:
        raise _Invalid(f"{name} requires exactly one argument")


def _sources_and_dest(req: _Request, name: str) -> tuple[tuple[str, ...], str, tuple[Heredoc, ...]]:
    *sources, dest = req.args
    if parse_heredoc_quietly(dest) is not None:
        raise _Invalid(f"{name} cannot accept a heredoc as a destination")
    bodies = {doc.name: doc for doc in req.node.heredocs}
    paths: list[str] = []
    inline: list[Heredoc] = []
    for src in sources:
        doc = parse_heredoc_quietly(src)
        if doc is None:
            paths.append(src)
            continue
        found = bodies.get(doc.name)
        content = found.content if found else ""
        if doc.chomp:
            content = chomp_heredoc(content)
        inline.append(Heredoc(doc.name, content, doc.expand, doc.chomp, doc.fd))
    return tuple(paths), dest, tuple(inline)


def parse_heredoc_quietly(word: str) -> Heredoc | None:
    """buildkit's MustParseHeredoc: the heredoc `word` starts, None also when it cannot be lexed."""
    try:
        return parse_heredoc(word)
    except DockerfileError:
        return None


_ADD_FLAGS = (("chown", "string"), ("chmod", "string"), ("link", "bool"), ("keep-git-dir", "bool"),
              ("checksum", "string"), ("unpack", "bool"), ("exclude", "strings"))
_COPY_FLAGS = (("chown", "string"), ("from", "string"), ("chmod", "string"), ("link", "bool"),
               ("exclude", "strings"), ("parents", "bool"))


def _copy_like(req: _Request, name: str, spec: tuple[tuple[str, str], ...]
               ) -> tuple[BFlags, tuple[str, ...], str, tuple[Heredoc, ...]]:
    # ADD and COPY: at least a source and a destination, then their flags, then the sources
    if len(req.args) < 2:
        raise _Invalid(f"{name} requires at least two arguments, but only one was provided. "
                       "Destination could not be determined")
    req.flags.declare(spec)
    req.flags.parse()
    return (req.flags, *_sources_and_dest(req, name))


def _add(req: _Request) -> AddInstruction:
    f, sources, dest, inline = _copy_like(req, "ADD", _ADD_FLAGS)
    unpack = f.boolean("unpack") if f.is_used("unpack") else None
    return AddInstruction(sources, dest, chown=f.string("chown"), chmod=f.string("chmod"),
                          link=f.boolean("link"), checksum=f.string("checksum"),
                          keep_git_dir=f.boolean("keep-git-dir"), heredocs=inline,
                          excludes=f.strings("exclude"), unpack=unpack, **req.at)


def _copy(req: _Request) -> CopyInstruction:
    f, sources, dest, inline = _copy_like(req, "COPY", _COPY_FLAGS)
    return CopyInstruction(sources, dest, from_=f.string("from"), chown=f.string("chown"),
                           chmod=f.string("chmod"), link=f.boolean("link"), parents=f.boolean("parents"),
                           excludes=f.strings("exclude"), heredocs=inline, **req.at)


def _from(req: _Request) -> FromInstruction:
    args = req.args
    stage_name = ""
    if len(args) == 3 and equal_fold(args[1], "as"):
        stage_name = go_lower(args[2])
        if not _STAGE_NAME.match(stage_name):
            raise _Invalid(f"invalid name for build stage: {go_quote(args[2])}, "
                           "name can't start with a number or contain symbols")
    elif len(args) != 1:
        raise _Invalid("FROM requires either one or three arguments")
    req.flags.add_string("platform")
    req.flags.parse()
    return FromInstruction(args[0], stage_name, req.flags.string("platform"), **req.at)


def _onbuild(req: _Request) -> OnbuildInstruction:
    if not req.args:
        raise _Invalid("ONBUILD requires at least one argument")
    req.flags.parse()
    trigger = go_upper(trim_space(req.args[0]))
    if trigger == "ONBUILD":
        raise _Invalid("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise _Invalid(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", req.node.source or req.node.original, count=1)
    for doc in req.node.heredocs:
        expression += "\n" + doc.content + doc.name
    return OnbuildInstruction(expression, **req.at)


def _workdir(req: _Request) -> WorkdirInstruction:
    _exactly_one(req, "WORKDIR")
    req.flags.parse()
    return WorkdirInstruction(req.args[0], **req.at)


def _command_line(req: _Request) -> tuple[str, ...]:
    # exec form: the argv as written; shell form: the text as one string for the shell
    if not req.args:
        return ()
    if req.node.json_form:
        return tuple(req.args)
    return (" ".join(req.args),)


def _run(req: _Request) -> RunInstruction:
    declare_run_flags(req.flags)
    req.flags.parse()
    command = _command_line(req)
    check_run_flags(req.flags)
    f = req.flags
    return RunInstruction(command, not req.node.json_form, heredocs=req.node.heredocs,
                          network=f.string("network"), mounts=f.strings("mount"),
                          security=f.string("security"), devices=f.strings("device"),
                          flags_used=tuple(f.used), **req.at)


def _cmd(req: _Request) -> CmdInstruction:
    req.flags.parse()
    return CmdInstruction(_command_line(req), not req.node.json_form, **req.at)


def _entrypoint(req: _Request) -> EntrypointInstruction:
    req.flags.parse()
    return EntrypointInstruction(_command_line(req) or None, not req.node.json_form, **req.at)


def _interval(req: _Request, name: str) -> int:
    text = req.flags.string(name)
    if text == "":
        return 0
    try:
        value = parse_duration(text)
    except ValueError as err:
        raise _Invalid(str(err)) from None
    if value == 0:
        return 0
    if value < _MIN_INTERVAL:
        raise _Invalid(f"Interval {go_quote(name)} cannot be less than 1ms")
    return value


def _healthcheck(req: _Request) -> HealthcheckInstruction:
    if not req.args:
        raise _Invalid("HEALTHCHECK requires at least one argument")
    kind = go_upper(req.args[0])
    rest = req.args[1:]
    if kind == "NONE":
        if rest:
            raise _Invalid("HEALTHCHECK NONE takes no arguments")
        return HealthcheckInstruction(None, 0, 0, 0, 0, 0, **req.at)  # its flags are not even parsed
    for name in ("interval", "timeout", "start-period", "start-interval", "retries"):
        req.flags.add_string(name)
    req.flags.parse()
    if kind != "CMD":
        raise _Invalid(f"Unknown type {go_quote(kind)} in HEALTHCHECK (try CMD)")
    if not rest:
        raise _Invalid("Missing command after HEALTHCHECK CMD")
    test = ("CMD", *rest) if req.node.json_form else ("CMD-SHELL", " ".join(rest))
    interval = _interval(req, "interval")
    timeout = _interval(req, "timeout")
    start_period = _interval(req, "start-period")
    start_interval = _interval(req, "start-interval")
    retries = 0
    if req.flags.string("retries") != "":
        try:
            retries = parse_int32(req.flags.string("retries"))
        except ValueError as err:
            raise _Invalid(str(err)) from None
        if retries < 0:
            raise _Invalid(f"--retries cannot be negative ({retries})")
    return HealthcheckInstruction(test, interval, timeout, start_period, start_interval, retries, **req.at)


def _expose(req: _Request) -> ExposeInstruction:
    if not req.args:
        raise _Invalid("EXPOSE requires at least one argument")
    req.flags.parse()
    return ExposeInstruction(tuple(sorted(req.args)), **req.at)


def _user(req: _Request) -> UserInstruction:
    _exactly_one(req, "USER")
    req.flags.parse()
    return UserInstruction(req.args[0], **req.at)


def _volume(req: _Request) -> VolumeInstruction:
    if not req.args:
        raise _Invalid("VOLUME requires at least one argument")
    req.flags.parse()
    paths = []
    for raw in req.args:
        path = trim_space(raw)
        if not path:
            raise _Invalid("VOLUME specified can not be an empty string")
        paths.append(path)
    return VolumeInstruction(tuple(paths), **req.at)


def _stopsignal(req: _Request) -> StopsignalInstruction:
    _exactly_one(req, "STOPSIGNAL")  # buildkit never parses STOPSIGNAL's flags: they are ignored
    return StopsignalInstruction(req.args[0], **req.at)


def _arg(req: _Request) -> ArgInstruction:
    if not req.args:
        raise _Invalid("ARG requires at least one argument")
    pairs: list[tuple[str, str | None]] = []
    for word in req.args:  # buildkit never parses ARG's flags either
        if "=" in word:
            key, _, value = word.partition("=")
            if not key:
                raise _Invalid("ARG names can not be blank")
            pairs.append((key, value))
        else:
            pairs.append((word, None))
    return ArgInstruction(tuple(pairs), **req.at)


def _shell(req: _Request) -> ShellInstruction:
    req.flags.parse()
    shell = _command_line(req)
    if not shell:
        raise _Invalid("SHELL requires at least one argument")
    if not req.node.json_form:
        raise _Invalid("SHELL requires the arguments to be in JSON form")
    return ShellInstruction(shell, **req.at)


_PARSERS: dict[str, Callable[[_Request], Instruction]] = {
    "env": _env, "maintainer": _maintainer, "label": _label, "add": _add, "copy": _copy, "from": _from,
    "onbuild": _onbuild, "workdir": _workdir, "run": _run, "cmd": _cmd, "healthcheck": _healthcheck,
    "entrypoint": _entrypoint, "expose": _expose, "user": _user, "volume": _volume,
    "stopsignal": _stopsignal, "arg": _arg, "shell": _shell,
}
