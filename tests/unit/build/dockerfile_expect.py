"""Helpers for the Dockerfile corpus: short constructors for expected instructions.

Each builds the instruction with the defaults buildkit gives an unset flag, so a corpus
entry lists only what its Dockerfile sets; `line`/`original` are compared only when given.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from dockyard.build.instructions import (
    AddInstruction,
    ArgInstruction,
    CmdInstruction,
    CopyInstruction,
    DockerfileError,
    EntrypointInstruction,
    EnvInstruction,
    ExposeInstruction,
    HealthcheckInstruction,
    Instruction,
    LabelInstruction,
    MaintainerInstruction,
    OnbuildInstruction,
    RunInstruction,
    ShellInstruction,
    StopsignalInstruction,
    UserInstruction,
    VolumeInstruction,
    WorkdirInstruction,
    parse_dockerfile,
)
from dockyard.build.parser import Heredoc

SECOND = 1_000_000_000


@dataclass(frozen=True)
class S:
    """An expected stage."""

    base: str
    name: str = ""
    platform: str = ""
    commands: tuple[Instruction, ...] = ()
    line: int = 0
    original: str = ""


@dataclass(frozen=True)
class Case:
    name: str
    text: str | bytes
    stages: tuple[S, ...] = ()
    meta: tuple[ArgInstruction, ...] = ()
    error: tuple[int, str] | None = None  # (line, message as str(err))
    warnings: tuple[str, ...] = ()
    directives: dict[str, str] = field(default_factory=dict)
    escape: str = "\\"


def stage(
    base: str, *commands: Instruction, name: str = "", platform: str = "", line: int = 0, original: str = ""
) -> S:
    return S(base, name, platform, commands, line, original)


def run(
    *command: str,
    shell: bool = True,
    heredocs: tuple[Heredoc, ...] = (),
    network: str = "default",
    mounts: tuple[str, ...] = (),
    security: str = "sandbox",
    devices: tuple[str, ...] = (),
    used: tuple[str, ...] = (),
) -> RunInstruction:
    return RunInstruction(command, shell, heredocs, network, mounts, security, devices, used)


def copy(
    *sources: str,
    dest: str,
    from_: str = "",
    chown: str = "",
    chmod: str = "",
    link: bool = False,
    parents: bool = False,
    excludes: tuple[str, ...] = (),
    heredocs: tuple[Heredoc, ...] = (),
) -> CopyInstruction:
    return CopyInstruction(sources, dest, from_, chown, chmod, link, parents, excludes, heredocs)


def add(
    *sources: str,
    dest: str,
    chown: str = "",
    chmod: str = "",
    link: bool = False,
    checksum: str = "",
    keep_git_dir: bool = False,
    heredocs: tuple[Heredoc, ...] = (),
    excludes: tuple[str, ...] = (),
    unpack: bool | None = None,
) -> AddInstruction:
    return AddInstruction(
        sources, dest, chown, chmod, link, checksum, keep_git_dir, heredocs, excludes, unpack
    )


def cmd(*command: str, shell: bool = True) -> CmdInstruction:
    return CmdInstruction(command, shell)


def entrypoint(*command: str, shell: bool = True) -> EntrypointInstruction:
    return EntrypointInstruction(command or None, shell)


def env(*pairs: tuple[str, str]) -> EnvInstruction:
    return EnvInstruction(pairs)


def label(*pairs: tuple[str, str]) -> LabelInstruction:
    return LabelInstruction(pairs)


def arg(*args: tuple[str, str | None], line: int = 0, original: str = "") -> ArgInstruction:
    return ArgInstruction(args, line=line, original=original)


def expose(*ports: str) -> ExposeInstruction:
    return ExposeInstruction(ports)


def volume(*paths: str) -> VolumeInstruction:
    return VolumeInstruction(paths)


def user(name: str) -> UserInstruction:
    return UserInstruction(name)


def workdir(path: str) -> WorkdirInstruction:
    return WorkdirInstruction(path)


def health(
    *test: str,
    interval: int = 0,
    timeout: int = 0,
    start_period: int = 0,
    start_interval: int = 0,
    retries: int = 0,
) -> HealthcheckInstruction:
    return HealthcheckInstruction(test or None, interval, timeout, start_period, start_interval, retries)


def shell(*argv: str) -> ShellInstruction:
    return ShellInstruction(argv)


def stopsignal(sig: str) -> StopsignalInstruction:
    return StopsignalInstruction(sig)


def onbuild(expression: str) -> OnbuildInstruction:
    return OnbuildInstruction(expression)


def maintainer(name: str) -> MaintainerInstruction:
    return MaintainerInstruction(name)


def at(instruction: Instruction, line: int, original: str) -> Instruction:
    """Expect this line and original too."""
    return replace(instruction, line=line, original=original)


def doc(name: str, content: str, expand: bool = True, chomp: bool = False, fd: int = 0) -> Heredoc:
    return Heredoc(name, content, expand, chomp, fd)


def err(name: str, text: str | bytes, line: int, message: str) -> Case:
    return Case(name, text, error=(line, message))


def at_line(n: int) -> str:
    return f"dockerfile parse error on line {n}: "


PARSE = "failed to parse Dockerfile: "


def _strip(expected: Instruction, actual: Instruction) -> Instruction:
    # line/original are compared only where the corpus states them
    if expected.line == 0:
        actual = replace(actual, line=0)
    if expected.original == "":
        actual = replace(actual, original="")
    return actual


def check_case(case: Case) -> None:
    """Parse the case's Dockerfile and compare with everything the case states."""
    if case.error is not None:
        with pytest.raises(DockerfileError) as caught:
            parse_dockerfile(case.text)
        assert (caught.value.line, str(caught.value)) == case.error
        return
    df = parse_dockerfile(case.text)
    assert [_strip(e, a) for e, a in zip(case.meta, df.meta_args, strict=False)] == list(case.meta)
    assert len(df.meta_args) == len(case.meta)
    assert len(df.stages) == len(case.stages)
    for want, got in zip(case.stages, df.stages, strict=True):
        assert (got.name, got.base, got.platform) == (want.name, want.base, want.platform)
        if want.line:
            assert got.line == want.line
        if want.original:
            assert got.original == want.original
        assert [_strip(e, a) for e, a in zip(want.commands, got.commands, strict=False)] == list(
            want.commands
        )
        assert len(got.commands) == len(want.commands)
    assert df.warnings == case.warnings
    assert dict(df.directives) == case.directives
    assert df.escape == case.escape


def corpus_test(cases: list[Case]) -> object:
    """The parametrized test a corpus module exposes: one run of check_case per case."""
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "corpus case names must be unique"

    @pytest.mark.parametrize("case", cases, ids=names)
    def test_corpus(case: Case) -> None:
        check_case(case)

    return test_corpus
