"""Properties: the frontend refuses bad input only with DockerfileError, and round-trips what it should."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dockyard.build.instructions import (
    CmdInstruction,
    DockerfileError,
    EnvInstruction,
    RunInstruction,
    parse_dockerfile,
    parse_instruction,
)
from dockyard.build.parser import parse
from dockyard.build.shell_lex import ShellLex

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYWORDS = [
    "FROM",
    "from",
    "RUN",
    "Run",
    "CMD",
    "ENTRYPOINT",
    "COPY",
    "ADD",
    "ENV",
    "LABEL",
    "ARG",
    "EXPOSE",
    "VOLUME",
    "USER",
    "WORKDIR",
    "HEALTHCHECK",
    "HEALTHCHECK CMD",
    "HEALTHCHECK NONE",
    "SHELL",
    "STOPSIGNAL",
    "ONBUILD",
    "ONBUILD RUN",
    "ONBUILD COPY",
    "MAINTAINER",
    "BOGUS",
    "#",
    "# escape=`",
    "# syntax=x",
    "",
    " ",
    "\\",
    "`",
]
FRAGMENTS = [
    "\\",
    "`",
    '"',
    "'",
    "<<EOF",
    "<<-EOF",
    "<<'EOF'",
    "3<<X",
    "EOF",
    "\tEOF",
    "X",
    "$",
    "${",
    "}",
    "${A:-b}",
    "${A#*}",
    "${A//x/y}",
    "#",
    "[",
    "]",
    '["a", "b"]',
    "[1]",
    "--",
    "--from=x",
    "--chown=",
    "--link",
    "--mount=type=cache,target=/x",
    "--network=none",
    "--interval=1s",
    "--retries=x",
    "=",
    "a=b",
    " ",
    "\t",
    "\r",
    "\n",
    "\r\n",
    "AS",
    "as",
    "x",
    "1s",
    "/dst",
    "é",
    "\ufeff",
    "\x00",
    "\u2028",
    "\x85",
]

fragment = st.sampled_from(FRAGMENTS) | st.text(max_size=4)
line = st.builds(
    lambda k, parts: k + " " + "".join(parts), st.sampled_from(KEYWORDS), st.lists(fragment, max_size=8)
)
dockerfile_like = st.lists(line, max_size=12).map("\n".join)
any_text = st.text() | dockerfile_like | st.builds(lambda a, b: a + "\n" + b, dockerfile_like, st.text())
envs = st.dictionaries(st.sampled_from(["A", "B", "HOME", "x"]), st.text(max_size=6), max_size=4)
no_surrogates = st.characters(blacklist_categories=("Cs",))


@SETTINGS
@given(any_text)
def test_parse_raises_only_dockerfile_errors(text: str) -> None:
    try:
        result = parse(text)
    except DockerfileError:
        return
    for node in result.nodes:
        assert 1 <= node.start_line <= node.end_line
        try:
            parse_instruction(node)
        except DockerfileError:
            pass


@SETTINGS
@given(any_text | st.binary().map(lambda b: b.decode("latin-1")))
def test_parse_dockerfile_raises_only_dockerfile_errors(text: str) -> None:
    try:
        df = parse_dockerfile(text)
    except DockerfileError:
        return
    lex = ShellLex(df.escape)
    for stage in df.stages:
        for command in stage.commands:
            # expanding with the identity changes nothing; a real lexer fails only with DockerfileError
            assert command.expand(lambda w: w, lambda w: [w]) == command
            try:
                command.expand(lambda w: lex.process_word(w, {}), lambda w: lex.process_words(w, {}))
            except DockerfileError:
                pass


@SETTINGS
@given(st.binary())
def test_parse_bytes_raises_only_dockerfile_errors(data: bytes) -> None:
    try:
        parse_dockerfile(data)
    except DockerfileError:
        pass


word_text = st.text() | st.lists(
    st.sampled_from(
        ["$", "{", "}", ":", "-", "+", "?", "#", "%", "/", "\\", "`", "'", '"', "A", "x", " ", "*", "<", "<<"]
    ),
    max_size=12,
).map("".join)


@SETTINGS
@given(word_text, envs, st.sampled_from(["\\", "`"]), st.booleans(), st.booleans(), st.booleans())
def test_process_word_raises_only_dockerfile_errors(
    word: str, env: dict[str, str], escape: str, raw_quotes: bool, raw_escapes: bool, skip_unset: bool
) -> None:
    lex = ShellLex(escape, raw_quotes=raw_quotes, raw_escapes=raw_escapes, skip_unset_env=skip_unset)
    try:
        result = lex.process(word, env)
    except DockerfileError:
        return
    assert isinstance(result.result, str)
    assert all(w for w in result.words)


@SETTINGS
@given(st.text(alphabet=st.characters(blacklist_characters="'")), envs)
def test_single_quotes_keep_text_literally(text: str, env: dict[str, str]) -> None:
    assert ShellLex().process_word("'" + text + "'", env) == text


@SETTINGS
@given(st.text(), envs, st.sampled_from(["\\", "`"]))
def test_escaping_every_character_gives_it_back(text: str, env: dict[str, str], escape: str) -> None:
    assert ShellLex(escape).process_word("".join(escape + c for c in text), env) == text


def _double_quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


@SETTINGS
@given(st.text(), envs)
def test_double_quoting_gives_text_back(text: str, env: dict[str, str]) -> None:
    assert ShellLex().process_word(_double_quoted(text), env) == text
    assert ShellLex().process_words(_double_quoted(text), env) == ([text] if text else [])


safe_word = st.text(
    alphabet=st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_./:@,"), min_size=1
)


@SETTINGS
@given(st.lists(safe_word, max_size=6), st.sampled_from([" ", "  ", "\t"]))
def test_words_split_on_white_space(words: list[str], sep: str) -> None:
    assert ShellLex().process_words(sep.join(words), {}) == words


@SETTINGS
@given(st.lists(st.text(alphabet=no_surrogates), max_size=5))
def test_exec_form_round_trips(argv: list[str]) -> None:
    df = parse_dockerfile("FROM scratch\nCMD " + json.dumps(argv) + "\n")
    assert df.stages[0].commands == (
        CmdInstruction(tuple(argv), False, line=2, original="CMD " + json.dumps(argv)),
    )


@SETTINGS
@given(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
    st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",))),
)
def test_env_value_round_trips_through_expansion(name: str, value: str) -> None:
    df = parse_dockerfile(f"FROM scratch\nENV {name}={_double_quoted(value)}\n")
    (env_instr,) = df.stages[0].commands
    assert isinstance(env_instr, EnvInstruction)
    lex = ShellLex()
    expanded = env_instr.expand(lambda w: lex.process_word(w, {}), lambda w: lex.process_words(w, {}))
    assert expanded.pairs == ((name, value),)


body_line = st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",))).filter(
    lambda s: s.rstrip("\r\n").lstrip("\t") != "EOF"
)


@SETTINGS
@given(st.lists(body_line, max_size=6), st.booleans())
def test_heredoc_body_round_trips(lines: list[str], chomp: bool) -> None:
    body = "".join(ln + "\n" for ln in lines)
    dash = "-" if chomp else ""
    df = parse_dockerfile(f"FROM scratch\nRUN <<{dash}EOF\n{body}EOF\nUSER after\n")
    run, user = df.stages[0].commands
    assert isinstance(run, RunInstruction)
    assert run.heredocs[0].content == body and run.heredocs[0].chomp == chomp
    assert user.line == 4 + len(lines)


@SETTINGS
@given(st.lists(safe_word, min_size=1, max_size=6), st.lists(st.booleans(), min_size=6, max_size=6))
def test_continuations_join_lines(words: list[str], breaks: list[bool]) -> None:
    text = "RUN"
    for word, brk in zip(words, breaks, strict=False):
        text += " \\\n" + word if brk else " " + word
    df = parse_dockerfile("FROM scratch\n" + text + "\n")
    (run,) = df.stages[0].commands
    assert isinstance(run, RunInstruction)
    assert run.command[0].split() == words
