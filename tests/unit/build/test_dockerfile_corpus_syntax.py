"""Dockerfile corpus, syntax: directives, comments, continuations, forms, heredocs, file errors."""

from __future__ import annotations

from dockerfile_expect import (
    PARSE,
    Case,
    add,
    arg,
    at,
    at_line,
    cmd,
    copy,
    corpus_test,
    doc,
    entrypoint,
    err,
    label,
    onbuild,
    run,
    shell,
    stage,
    user,
)

CASES = [
    # ------------------------------------------------------------ syntax
    Case("minimal", "FROM busybox\n", stages=(stage("busybox", line=1, original="FROM busybox"),)),
    Case(
        "lowercase-keywords",
        'from busybox as Builder\nrun echo hi\ncmd ["sh"]\n',
        stages=(
            stage("busybox", at(run("echo hi"), 2, "run echo hi"), cmd("sh", shell=False), name="builder"),
        ),
    ),
    Case(
        "comments-and-blank-lines",
        "# leading comment\n\nFROM busybox\n# between\n"
        "RUN echo one # not a comment\n\n   # indented\nRUN echo two\n",
        stages=(
            stage(
                "busybox",
                at(run("echo one # not a comment"), 5, "RUN echo one # not a comment"),
                at(run("echo two"), 8, "RUN echo two"),
                line=3,
            ),
        ),
    ),
    Case(
        "continuation",
        "FROM busybox\nRUN set -e; \\\n    echo a; \\\n    echo b\nUSER x\n",
        stages=(
            stage(
                "busybox",
                at(run("set -e;     echo a;     echo b"), 2, "RUN set -e;     echo a;     echo b"),
                at(user("x"), 5, "USER x"),
            ),
        ),
    ),
    Case(
        "continuation-skips-comment-lines",
        "FROM busybox\nRUN apk add \\\n# curl is needed\n      curl \\\n    # so is git\n      git\n",
        stages=(stage("busybox", run("apk add       curl       git")),),
    ),
    Case(
        "empty-continuation-line-warns",
        "FROM busybox\nRUN echo a \\\n\n    b\n",
        stages=(stage("busybox", run("echo a     b")),),
        warnings=("Empty continuation line found in: RUN echo a     b",),
    ),
    Case(
        "continuation-at-eof",
        "FROM busybox\nRUN echo a \\",
        stages=(stage("busybox", at(run("echo a"), 2, "RUN echo a")),),
    ),
    Case(
        "continuation-keeps-indent",
        "FROM busybox\nRUN echo \\\n\t\tindented\n",
        stages=(stage("busybox", run("echo \t\tindented")),),
    ),
    Case(
        "escaped-escape-is-not-continuation",
        "FROM busybox\nRUN echo \\\\\nRUN echo next\n",
        stages=(stage("busybox", run("echo \\\\"), run("echo next")),),
    ),
    Case(
        "escape-backtick",
        "# escape=`\nFROM mcr/windows\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n    && echo done\n",
        stages=(stage("mcr/windows", copy("testfile.txt", dest="c:\\"), run("dir c:\\     && echo done")),),
        directives={"escape": "`"},
        escape="`",
    ),
    Case(
        "escape-backslash-explicit",
        "# escape=\\\nFROM busybox\nRUN a \\\n b\n",
        stages=(stage("busybox", run("a  b")),),
        directives={"escape": "\\"},
    ),
    Case(
        "escape-after-comment-is-a-comment",
        "# a comment\n# escape=`\nFROM busybox\nRUN echo \\\n  done\n",
        stages=(stage("busybox", run("echo   done")),),
    ),
    Case(
        "directives-syntax-and-check",
        "# syntax=docker/dockerfile:1.7\n# check=skip=JSONArgsRecommended\nFROM busybox\n",
        stages=(stage("busybox", line=3),),
        directives={"syntax": "docker/dockerfile:1.7", "check": "skip=JSONArgsRecommended"},
    ),
    err(
        "directive-twice",
        "# syntax=a\n# syntax=b\nFROM busybox\n",
        2,
        PARSE + "only one syntax parser directive can be used",
    ),
    err(
        "directive-bad-escape",
        "# escape=|\nFROM busybox\n",
        1,
        PARSE + "invalid escape token '|' does not match ` or \\",
    ),
    Case("byte-order-mark", b"\xef\xbb\xbfFROM busybox\nRUN true\n", stages=(stage("busybox", run("true")),)),
    Case(
        "crlf",
        'FROM busybox\r\nRUN echo a \\\r\n  b\r\nCMD ["x"]\r\n',
        stages=(stage("busybox", at(run("echo a   b"), 2, "RUN echo a   b"), cmd("x", shell=False)),),
    ),
    Case(
        "utf8",
        "FROM busybox\nLABEL greeting=안녕\nRUN echo '😀'\n",
        stages=(stage("busybox", label(("greeting", "안녕")), run("echo '😀'")),),
    ),
    Case(
        "mixed-case-keywords-keep-their-spelling",
        "From busybox\nRun echo Hi\nCopy --from=0 a b\n",
        stages=(
            stage(
                "busybox",
                at(run("echo Hi"), 2, "Run echo Hi"),
                at(copy("a", dest="b", from_="0"), 3, "Copy --from=0 a b"),
                original="From busybox",
            ),
        ),
    ),
    Case(
        "line-numbers",
        'ARG A=1\n\nFROM busybox AS base\n# comment\nRUN echo one \\\n'
        '    two\n\nCOPY <<EOF /x\na\nEOF\nCMD ["done"]\n',
        meta=(arg(("A", "1"), line=1, original="ARG A=1"),),
        stages=(
            stage(
                "busybox",
                at(run("echo one     two"), 5, "RUN echo one     two"),
                at(copy(dest="/x", heredocs=(doc("EOF", "a\n"),)), 8, "COPY <<EOF /x"),
                at(cmd("done", shell=False), 11, 'CMD ["done"]'),
                name="base",
                line=3,
                original="FROM busybox AS base",
            ),
        ),
    ),
    # ------------------------------------------------------------ exec and shell forms
    Case(
        "json-forms",
        'FROM busybox\nRUN ["/bin/echo", "a b"]\nCMD ["echo", "hi"]\nENTRYPOINT ["/entry.sh"]\n',
        stages=(
            stage(
                "busybox",
                run("/bin/echo", "a b", shell=False),
                cmd("echo", "hi", shell=False),
                entrypoint("/entry.sh", shell=False),
            ),
        ),
    ),
    Case(
        "not-json-is-shell-form",
        "FROM busybox\nCMD ['echo', 'hi']\nRUN [ \"unterminated\"\n",
        stages=(stage("busybox", cmd("['echo', 'hi']"), run('[ "unterminated"')),),
    ),
    err(
        "json-not-strings",
        'FROM busybox\nCMD ["a", ["b"]]\n',
        2,
        PARSE + "when using JSON array syntax, arrays must be comprised of strings only",
    ),
    Case(
        "cmd-and-entrypoint-forms",
        "FROM busybox\nCMD echo \"hello world\"\nCMD []\n"
        "ENTRYPOINT []\nENTRYPOINT /bin/sh -c 'echo hi'\nCMD\n",
        stages=(
            stage(
                "busybox",
                cmd('echo "hello world"'),
                cmd(shell=False),
                entrypoint(shell=False),
                entrypoint("/bin/sh -c 'echo hi'"),
                cmd(),
            ),
        ),
    ),
    Case("run-without-command", "FROM busybox\nRUN\n", stages=(stage("busybox", run()),)),
    Case(
        "shell",
        'FROM busybox\nSHELL ["/bin/ash", "-eo", "pipefail", "-c"]\nRUN echo hi | cat\n',
        stages=(stage("busybox", shell("/bin/ash", "-eo", "pipefail", "-c"), run("echo hi | cat")),),
    ),
    err(
        "shell-not-json",
        "FROM busybox\nSHELL /bin/sh -c\n",
        2,
        at_line(2) + "SHELL requires the arguments to be in JSON form",
    ),
    err("shell-empty", "FROM busybox\nSHELL []\n", 2, at_line(2) + "SHELL requires at least one argument"),
    # ------------------------------------------------------------ heredocs
    Case(
        "heredoc-run",
        'FROM busybox\nRUN <<EOF\necho "$HOME"\nEOF\nRUN echo after\n',
        stages=(
            stage(
                "busybox",
                at(run("<<EOF", heredocs=(doc("EOF", 'echo "$HOME"\n'),)), 2, "RUN <<EOF"),
                at(run("echo after"), 5, "RUN echo after"),
            ),
        ),
    ),
    Case(
        "heredoc-chomp-keeps-raw-body-for-run",
        "FROM busybox\nRUN <<-EOT bash\n\techo one\n\tEOT\n",
        stages=(stage("busybox", run("<<-EOT bash", heredocs=(doc("EOT", "\techo one\n", chomp=True),))),),
    ),
    Case(
        "heredoc-quoted-name-does-not-expand",
        "FROM busybox\nRUN cat <<'EOF' > /x\n$NOT_EXPANDED\nEOF\n",
        stages=(
            stage(
                "busybox", run("cat <<'EOF' > /x", heredocs=(doc("EOF", "$NOT_EXPANDED\n", expand=False),))
            ),
        ),
    ),
    Case(
        "heredoc-several-on-one-line",
        "FROM busybox\nCOPY <<one.txt <<-two.txt /dst/\nfirst\none.txt\n\tsecond\n\ttwo.txt\n",
        stages=(
            stage(
                "busybox",
                copy(
                    dest="/dst/", heredocs=(doc("one.txt", "first\n"), doc("two.txt", "second\n", chomp=True))
                ),
            ),
        ),
    ),
    Case(
        "heredoc-copy-file",
        'FROM busybox\nCOPY --chmod=755 <<"EOF" /usr/local/bin/hello\n#!/bin/sh\necho hi $USER\nEOF\n',
        stages=(
            stage(
                "busybox",
                copy(
                    dest="/usr/local/bin/hello",
                    chmod="755",
                    heredocs=(doc("EOF", "#!/bin/sh\necho hi $USER\n", expand=False),),
                ),
            ),
        ),
    ),
    Case(
        "heredoc-mixed-with-paths",
        "FROM busybox\nADD a.txt <<inline.txt /dst/\nbody\ninline.txt\n",
        stages=(stage("busybox", add("a.txt", dest="/dst/", heredocs=(doc("inline.txt", "body\n"),))),),
    ),
    Case(
        "heredoc-with-fd",
        "FROM busybox\nRUN 3<<EOF cat /proc/self/fd/3\nx\nEOF\n",
        stages=(stage("busybox", run("3<<EOF cat /proc/self/fd/3", heredocs=(doc("EOF", "x\n", fd=3),))),),
    ),
    Case(
        "heredoc-not-in-json-form",
        'FROM busybox\nRUN ["cat", "<<EOF"]\n',
        stages=(stage("busybox", run("cat", "<<EOF", shell=False)),),
    ),
    Case(
        "heredoc-in-onbuild",
        "FROM busybox\nONBUILD RUN <<EOF\necho triggered\nEOF\n",
        stages=(stage("busybox", onbuild("RUN <<EOF\necho triggered\nEOF")),),
    ),
    err("heredoc-unterminated", "FROM busybox\nRUN <<EOF\necho\n", 2, PARSE + "unterminated heredoc"),
    err(
        "heredoc-as-destination",
        "FROM busybox\nCOPY a <<EOF\nx\nEOF\n",
        2,
        at_line(2) + "COPY cannot accept a heredoc as a destination",
    ),
    # ------------------------------------------------------------ whole-file errors
    err(
        "unknown-instruction-suggests",
        "FROM busybox\nRUNN echo\n",
        2,
        at_line(2) + "unknown instruction: RUNN (did you mean RUN?)",
    ),
    err(
        "unknown-instruction-lowercase",
        "fromm busybox\n",
        1,
        at_line(1) + "unknown instruction: fromm (did you mean from?)",
    ),
    err("unknown-instruction", "FROM busybox\nBOGUS thing\n", 2, at_line(2) + "unknown instruction: BOGUS"),
    err("only-comments", "# nothing\n# here\n", 2, PARSE + "file with no instructions"),
    err("empty", "", 0, "the Dockerfile (Dockerfile) cannot be empty"),
]


test_corpus = corpus_test(CASES)


def test_corpus_is_large() -> None:
    assert len(CASES) >= 30
