"""parser.parse: Dockerfile text → nodes, as buildkit's parser splits it."""

from __future__ import annotations

import pytest

from dockyard.build.parser import DockerfileError, Heredoc, Node, chomp_heredoc, parse, parse_heredoc


def nodes(text: str | bytes) -> list[Node]:
    return list(parse(text).nodes)


def args(text: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(n.keyword, n.args) for n in nodes(text)]


def test_node_fields() -> None:
    (node,) = nodes("  copy --from=build --chown=1:1 a b /c/  \n")
    assert node == Node(
        keyword="copy",
        args=("a", "b", "/c/"),
        flags=("--from=build", "--chown=1:1"),
        json_form=False,
        original="copy --from=build --chown=1:1 a b /c/",
        start_line=1,
        end_line=1,
        command="copy",
        source="copy --from=build --chown=1:1 a b /c/  ",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM a AS b", ("a", "AS", "b")),
        ("FROM  a\tb", ("a", "b")),
        ("ENV a=1 b='2 3'", ("a", "1", "=", "b", "'2 3'", "=")),
        ("ENV a 1 2  3", ("a", "1 2  3", "")),
        ('LABEL "a b"=c', ('"a b"', "c", "=")),
        ("ARG a b=1 c=", ("a", "b=1", "c=")),
        ("RUN echo  $HOME 'x'", ("echo  $HOME 'x'",)),
        ('RUN ["echo", "a b"]', ("echo", "a b")),
        ("RUN [ 'single' ]", ("[ 'single' ]",)),
        ('CMD ["unterminated"', ('["unterminated"',)),
        ("COPY a  b\tc", ("a", "b", "c")),
        ('COPY ["a b", "c"]', ("a b", "c")),
        ("VOLUME /a /b", ("/a", "/b")),
        ("EXPOSE 80 443/tcp", ("80", "443/tcp")),
        ("USER a b", ("a b",)),
        ("WORKDIR /a b", ("/a b",)),
        ("HEALTHCHECK --interval=5s CMD  curl -f x", ("CMD", "curl -f x")),
        ('HEALTHCHECK CMD ["a", "b"]', ("CMD", "a", "b")),
        ("HEALTHCHECK NONE", ("NONE",)),
        ("ONBUILD RUN --mount=x echo hi", ("RUN", "echo hi")),
        ("RUN", ()),
        ("CMD []", ()),
    ],
)
def test_arguments_split_per_instruction(text: str, expected: tuple[str, ...]) -> None:
    (node,) = nodes(text)
    assert node.args == expected


def test_json_form_detection() -> None:
    run_json, run_shell, cmd_bad, hc = nodes('RUN ["a"]\nRUN [a]\nCMD ["a", ]\nHEALTHCHECK CMD ["x"]')
    assert run_json.json_form and not run_shell.json_form and not cmd_bad.json_form and hc.json_form


def test_json_must_be_strings() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse('FROM a\nCMD ["a", 1]\n')
    assert str(caught.value) == (
        "failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only"
    )
    assert caught.value.line == 2
    assert caught.value.reason == "when using JSON array syntax, arrays must be comprised of strings only"


def test_json_values_go_rejects_are_shell_form() -> None:
    # NaN and out-of-range numbers are JSON errors in Go: the text is then a shell-form command
    assert args('CMD [NaN]\nCMD [1e999]') == [("cmd", ("[NaN]",)), ("cmd", ("[1e999]",))]


def test_onbuild_child() -> None:
    (node,) = nodes("ONBUILD copy --from=x a b")
    assert node.child is not None
    assert (node.child.keyword, node.child.command, node.child.flags, node.child.args) == (
        "copy",
        "copy",
        ("--from=x",),
        ("a", "b"),
    )
    assert node.args == ("copy", "a", "b")


def test_flags_only_at_the_start() -> None:
    (node,) = nodes('RUN --mount="type=bind,target=/a b" --network=none echo --not-a-flag')
    assert node.flags == ("--mount=type=bind,target=/a b", "--network=none")
    assert node.args == ("echo --not-a-flag",)
    (node,) = nodes("COPY -- --weird /dst")
    assert node.flags == ()
    assert node.args == ("--weird", "/dst")


def test_flag_bytes_are_read_as_latin1_like_buildkit() -> None:
    # buildkit reads flag text byte by byte and re-encodes each byte: non-ASCII comes out garbled
    (node,) = nodes("COPY --chown=josé a b")
    assert node.flags == ("--chown=josÃ©",)


def test_comments_and_blank_lines() -> None:
    text = "# comment\n\n   # indented comment\nFROM a # not a comment\n\nRUN echo # neither\n"
    assert [(n.start_line, n.args) for n in nodes(text)] == [
        (4, ("a", "#", "not", "a", "comment")),
        (6, ("echo # neither",)),
    ]


def test_continuations() -> None:
    text = (
        "RUN apt-get update && \\\n    apt-get install -y \\\n# a comment in the middle\n    curl\nCMD done\n"
    )
    run, cmd = nodes(text)
    assert run.original == "RUN apt-get update &&     apt-get install -y     curl"
    assert (run.start_line, run.end_line) == (1, 4)
    assert (cmd.start_line, cmd.end_line) == (5, 5)


def test_empty_continuation_lines_warn() -> None:
    result = parse("FROM a\nRUN one \\\n\n  two\nRUN three \\\n  four\n")
    assert [n.original for n in result.nodes] == ["FROM a", "RUN one   two", "RUN three   four"]
    assert result.warnings == ("Empty continuation line found in: RUN one   two",)


def test_continuation_rules() -> None:
    # an escaped escape is not a continuation; a lone escape line continues; EOF ends the line
    assert args("RUN a \\\\\nRUN b\n") == [("run", ("a \\\\",)), ("run", ("b",))]
    assert args("RUN a \\  \t\n b") == [("run", ("a  b",))]
    assert args("RUN a\\\n") == [("run", ("a",))]
    assert args("\\\nRUN x") == [("run", ("x",))]


def test_escape_directive_backtick() -> None:
    result = parse("# escape=`\nFROM windows\nRUN dir c:\\ `\n   && echo done\n")
    assert result.escape == "`"
    assert result.directives == {"escape": "`"}
    assert result.nodes[1].args == ("dir c:\\    && echo done",)


def test_directives() -> None:
    result = parse("# syntax=docker/dockerfile:1\n#check=skip=all\n# ESCAPE = \\ \nFROM a\n")
    assert dict(result.directives) == {"syntax": "docker/dockerfile:1", "check": "skip=all", "escape": "\\"}
    # a directive after a comment, a blank line or an instruction is just a comment
    for text in ("# hello\n# escape=`\nFROM a", "\n# escape=`\nFROM a", "FROM a\n# escape=`\nRUN b"):
        result = parse(text)
        assert result.escape == "\\"
        assert result.directives == {}
    assert dict(parse("# unknown=1\n# escape=`\nFROM a").directives) == {}


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("# escape=x\nFROM a", 1, "invalid escape token 'x' does not match ` or \\"),
        ("# syntax=a\n# syntax=b\nFROM a", 2, "only one syntax parser directive can be used"),
        ("# Escape=`\n# escape=\\\nFROM a", 2, "only one escape parser directive can be used"),
    ],
)
def test_directive_errors(text: str, line: int, reason: str) -> None:
    with pytest.raises(DockerfileError) as caught:
        parse(text)
    assert (caught.value.line, caught.value.reason, str(caught.value)) == (
        line,
        reason,
        "failed to parse Dockerfile: " + reason,
    )


def test_bom_and_crlf() -> None:
    text = "\ufeffFROM a\r\nRUN echo \\\r\n  hi\r\n"
    for form in (text, text.encode()):
        result = parse(form)
        assert [(n.keyword, n.args, n.original) for n in result.nodes] == [
            ("from", ("a",), "FROM a"),
            ("run", ("echo   hi",), "RUN echo   hi"),
        ]


def test_only_one_bom_is_stripped() -> None:
    (node,) = nodes("\ufeff\ufeffFROM a")
    assert node.keyword == "\ufefffrom"


def test_heredocs() -> None:
    text = (
        "RUN <<EOF\n"
        "echo $HOME\n"
        "EOF\n"
        "RUN <<-'EOT' 3<<\"two\" python3\n"
        "\tprint(1)\n"
        "\tEOT\n"
        "second\n"
        "two\n"
        "COPY <<a.txt <<b.txt /dst/\n"
        "A\n"
        "a.txt\n"
        "b.txt\n"
    )
    one, two, three = nodes(text)
    assert one.heredocs == (Heredoc("EOF", "echo $HOME\n", expand=True, chomp=False),)
    assert (one.start_line, one.end_line, one.args) == (1, 3, ("<<EOF",))
    assert two.heredocs == (
        Heredoc("EOT", "\tprint(1)\n", expand=False, chomp=True),
        Heredoc("two", "second\n", expand=False, chomp=False, fd=3),
    )
    assert (two.start_line, two.end_line) == (4, 8)
    assert three.heredocs == (Heredoc("a.txt", "A\n", True, False), Heredoc("b.txt", "", True, False))
    assert three.args == ("<<a.txt", "<<b.txt", "/dst/")


def test_heredoc_only_where_allowed() -> None:
    # JSON form, other instructions and quoted << are not heredocs
    result = nodes('RUN ["cat", "<<EOF"]\nUSER <<EOF\nEOF\nRUN "<<EOF"\n')
    assert [(n.keyword, n.heredocs) for n in result] == [("run", ()), ("user", ()), ("eof", ()), ("run", ())]


def test_heredoc_in_onbuild_and_crlf_body() -> None:
    (node,) = nodes("ONBUILD RUN <<EOF\r\nx\r\nEOF\r\n")
    assert node.heredocs == (Heredoc("EOF", "x\r\n", True, False),)


def test_unterminated_heredoc() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse("FROM a\nRUN <<EOF\necho\nEO\n")
    assert (str(caught.value), caught.value.line) == ("failed to parse Dockerfile: unterminated heredoc", 2)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("<<EOF", Heredoc("EOF", "", True, False)),
        ("<<-EOF", Heredoc("EOF", "", True, True)),
        ("<<'EOF'", Heredoc("EOF", "", False, False)),
        ('<<"E"OF', Heredoc("EOF", "", False, False)),
        ("<<E\\'OF", Heredoc("E'OF", "", True, False)),
        ("12<<X", Heredoc("X", "", True, False, fd=12)),
        ("<<$NAME", Heredoc("$NAME", "", True, False)),
        ("<<", None),
        ("<<a b", None),
        ("x<<EOF", None),
        ("<<EOF<", None),
    ],
)
def test_parse_heredoc_word(word: str, expected: Heredoc | None) -> None:
    assert parse_heredoc(word) == expected


def test_chomp_heredoc() -> None:
    assert chomp_heredoc("\t\ta\n\tb\n c\n") == "a\nb\n c\n"


def test_unknown_instructions_parse() -> None:
    # the parser keeps them; the instructions layer reports them
    assert [n.keyword for n in nodes("FROMM a\nbogus x y")] == ["fromm", "bogus"]


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("", "the Dockerfile (Dockerfile) cannot be empty", 0),
        (b"", "the Dockerfile (Dockerfile) cannot be empty", 0),
        ("# just a comment\n\n", "failed to parse Dockerfile: file with no instructions", 2),
        ("\ufeff", "failed to parse Dockerfile: file with no instructions", 0),
        ("FROM a\nENV x\n", "failed to parse Dockerfile: ENV must have two arguments", 2),
        (
            "FROM a\nLABEL a=b c\n",
            'failed to parse Dockerfile: Syntax error - can\'t find = in "c". '
            "Must be of the form: name=value",
            2,
        ),
    ],
)
def test_errors(text: str | bytes, message: str, line: int) -> None:
    with pytest.raises(DockerfileError) as caught:
        parse(text)
    assert (str(caught.value), caught.value.line) == (message, line)


def test_error_wording_follows_the_name() -> None:
    with pytest.raises(DockerfileError) as caught:
        parse("ENV x", name="build.Dockerfile")
    assert str(caught.value) == "failed to parse build.Dockerfile: ENV must have two arguments"
    with pytest.raises(DockerfileError) as caught:
        parse("ENV x", name=None)
    assert str(caught.value) == "ENV must have two arguments"
    with pytest.raises(DockerfileError) as caught:
        parse(b"", name="Other")
    assert str(caught.value) == "the Dockerfile (Other) cannot be empty"


def test_line_length_limit() -> None:
    ok = "FROM a\nLABEL x=" + "a" * (65535 - 8) + "\n"
    assert parse(ok).nodes[1].args[1] == "a" * (65535 - 8)
    too_long = "FROM a\nLABEL x=" + "a" * (65536 - 8) + "\nRUN x\n"
    with pytest.raises(DockerfileError) as caught:
        parse(too_long)
    assert (
        str(caught.value)
        == "failed to parse Dockerfile: dockerfile line greater than max allowed size of 65535"
    )
    # the limit is in bytes: 21846 three-byte characters make 65538 bytes
    with pytest.raises(DockerfileError):
        parse("FROM a\nLABEL x=" + "€" * 21846)
