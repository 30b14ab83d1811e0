"""Typed instructions: where Docker expands variables, ONBUILD triggers, stage helpers."""

from __future__ import annotations

import dataclasses

import pytest

from dockyard.build.instructions import (
    AddInstruction,
    ArgInstruction,
    CopyInstruction,
    DockerfileError,
    EnvInstruction,
    ExposeInstruction,
    FromInstruction,
    LabelInstruction,
    OnbuildInstruction,
    RunInstruction,
    StopsignalInstruction,
    UserInstruction,
    VolumeInstruction,
    WorkdirInstruction,
    parse_dockerfile,
    parse_instruction,
)
from dockyard.build.parser import parse
from dockyard.build.shell_lex import ShellLex

ENV = {
    "HOME": "/root",
    "UID": "1000",
    "GID": "100",
    "PORTS": "80  443/udp",
    "SIG": "SIGQUIT",
    "D": "/data",
    "SUM": "sha256:0123",
    "EMPTY": "",
}


def expanded(text: str, env: dict[str, str] = ENV, escape: str = "\\") -> list[object]:
    lex = ShellLex(escape)
    df = parse_dockerfile("FROM scratch\n" + text)
    return [
        c.expand(lambda w: lex.process_word(w, env), lambda w: lex.process_words(w, env))
        for c in df.stages[0].commands
    ]


def test_env_and_label_expand_names_and_values() -> None:
    (e1, e2, lab) = expanded(
        "ENV A=$HOME B=\"x  y\" C=three\\ words D='$HOME'\n"
        "ENV PATH /usr/bin:$HOME/bin\n"
        'LABEL "org.label with space"="$UID" ${UID}x=y\n'
    )
    assert isinstance(e1, EnvInstruction) and isinstance(lab, LabelInstruction)
    assert e1.pairs == (("A", "/root"), ("B", "x  y"), ("C", "three words"), ("D", "$HOME"))
    assert e2.pairs == (("PATH", "/usr/bin:/root/bin"),)
    assert lab.pairs == (("org.label with space", "1000"), ("1000x", "y"))


def test_copy_and_add_expand_paths_and_ownership_but_not_from() -> None:
    (cp, ad) = expanded(
        "COPY --from=$STAGE --chown=$UID:$GID --chmod=${MODE:-644} $D/a ${DEST:-/opt}/\n"
        "ADD --checksum=$SUM --chown=${UID} https://x/$UID.tgz $HOME\n"
    )
    assert isinstance(cp, CopyInstruction) and isinstance(ad, AddInstruction)
    assert (cp.from_, cp.chown, cp.chmod, cp.sources, cp.dest) == (
        "$STAGE",
        "1000:100",
        "644",
        ("/data/a",),
        "/opt/",
    )
    assert (ad.checksum, ad.chown, ad.sources, ad.dest) == (
        "sha256:0123",
        "1000",
        ("https://x/1000.tgz",),
        "/root",
    )


def test_heredoc_bodies_are_not_expanded_by_expand() -> None:
    (cp,) = expanded("COPY <<EOF /$UID\n$HOME\nEOF\n")
    assert isinstance(cp, CopyInstruction)
    assert cp.dest == "/1000"
    assert cp.heredocs[0].content == "$HOME\n" and cp.heredocs[0].expand


def test_expose_splits_into_words() -> None:
    (ex,) = expanded("EXPOSE $PORTS 8080\n")
    assert isinstance(ex, ExposeInstruction)
    assert ex.ports == ("80", "443/udp", "8080")  # sorted raw first ("$PORTS" < "8080"), then split


def test_single_word_instructions() -> None:
    (vol, usr, wd, sig, arg) = expanded(
        "VOLUME $D ${HOME}/cache\nUSER ${USER:-nobody}:$GID\nWORKDIR $HOME/app\n"
        "STOPSIGNAL $SIG\nARG X=$HOME Y ${UID}Z=1\n"
    )
    assert isinstance(vol, VolumeInstruction) and vol.paths == ("/data", "/root/cache")
    assert isinstance(usr, UserInstruction) and usr.user == "nobody:100"
    assert isinstance(wd, WorkdirInstruction) and wd.path == "/root/app"
    assert isinstance(sig, StopsignalInstruction) and sig.signal == "SIGQUIT"
    assert isinstance(arg, ArgInstruction) and arg.args == (("X", "/root"), ("Y", None), ("1000Z", "1"))


def test_shell_text_is_left_to_the_shell() -> None:
    text = (
        'RUN echo $HOME\nCMD ["$HOME"]\nENTRYPOINT echo $HOME\nSHELL ["/bin/$SH"]\n'
        "HEALTHCHECK CMD echo $HOME\nONBUILD RUN echo $HOME\nMAINTAINER $HOME\n"
        "RUN --mount=type=bind,target=$HOME true\n"
    )
    df = parse_dockerfile("FROM scratch\n" + text)
    for command in df.stages[0].commands:
        assert command.expand(lambda w: "EXPANDED", lambda w: ["EXPANDED"]) is command


def test_escape_token_applies_to_expansion() -> None:
    (wd,) = expanded("WORKDIR C:\\$HOME\n", escape="`")
    assert isinstance(wd, WorkdirInstruction) and wd.path == "C:\\/root"


def test_expansion_errors_are_docker_errors() -> None:
    with pytest.raises(DockerfileError) as caught:
        expanded("WORKDIR ${NOPE:?must be set}\n")
    assert str(caught.value) == 'failed to process "${NOPE:?must be set}": NOPE: must be set'


def test_from_and_stage_expand_with_global_args() -> None:
    df = parse_dockerfile("ARG BASE=alpine TAG\nFROM --platform=$P ${BASE}:${TAG:-3.20} AS Build\n")
    meta = {"BASE": "alpine", "P": "linux/arm64"}
    lex = ShellLex()
    word, words = (lambda w: lex.process_word(w, meta)), (lambda w: lex.process_words(w, meta))
    stage = df.stages[0]
    assert (stage.name, stage.base, stage.platform) == ("build", "${BASE}:${TAG:-3.20}", "$P")
    got = stage.expand(word, words)
    assert (got.base, got.platform, got.name) == ("alpine:3.20", "linux/arm64", "build")
    node = parse("FROM ${BASE}").nodes[0]
    instr = parse_instruction(node)
    assert isinstance(instr, FromInstruction)
    assert instr.expand(word, words) == FromInstruction("alpine", "", "", line=1, original="FROM ${BASE}")


def test_onbuild_trigger_round_trip() -> None:
    df = parse_dockerfile("FROM scratch\nONBUILD RUN --network=none echo $HOME  \n")
    trigger = df.stages[0].commands[0]
    assert isinstance(trigger, OnbuildInstruction)
    expression = trigger.expression
    assert expression == "RUN --network=none echo $HOME  "
    # a builder re-parses a trigger on its own (no "failed to parse" wrapping) and dispatches it
    instr = parse_instruction(parse(expression, name=None).nodes[0])
    assert instr == RunInstruction(
        ("echo $HOME",),
        True,
        (),
        "none",
        (),
        "sandbox",
        flags_used=("network",),
        line=1,
        original="RUN --network=none echo $HOME",
    )


def test_parse_instruction_errors_are_bare() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_instruction(parse("\n\nFROMM x", name=None).nodes[0])
    assert (str(caught.value), caught.value.line) == ("unknown instruction: FROMM (did you mean FROM?)", 3)


def test_error_name_is_configurable() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse_dockerfile("FROM a\nENV x\n", name="Dockerfile.dev")
    assert str(caught.value) == "failed to parse Dockerfile.dev: ENV must have two arguments"
    assert caught.value.reason == "ENV must have two arguments"


def test_instructions_are_frozen_and_named() -> None:
    df = parse_dockerfile("FROM scratch\nUSER me\n")
    command = df.stages[0].commands[0]
    assert command.keyword == "user"
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.line = 3  # type: ignore[misc]
