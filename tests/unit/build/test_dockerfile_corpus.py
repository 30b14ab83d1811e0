"""A corpus of Dockerfiles, each with the stages and instructions Docker parses from it, or its error."""

from __future__ import annotations

from dataclasses import replace

import pytest
from dockerfile_expect import (
    SECOND,
    Case,
    add,
    arg,
    at,
    cmd,
    copy,
    doc,
    entrypoint,
    env,
    expose,
    health,
    label,
    maintainer,
    onbuild,
    run,
    shell,
    stage,
    stopsignal,
    user,
    volume,
    workdir,
)

from dockyard.build.instructions import DockerfileError, Instruction, parse_dockerfile


def err(name: str, text: str | bytes, line: int, message: str) -> Case:
    return Case(name, text, error=(line, message))


def at_line(n: int) -> str:
    return f"dockerfile parse error on line {n}: "


PARSE = "failed to parse Dockerfile: "

CASES = [
    # ------------------------------------------------------------ syntax
    Case("minimal", "FROM busybox\n", stages=(stage("busybox", line=1, original="FROM busybox"),)),
    Case("lowercase-keywords", 'from busybox as Builder\nrun echo hi\ncmd ["sh"]\n', stages=(
        stage("busybox", at(run("echo hi"), 2, "run echo hi"), cmd("sh", shell=False), name="builder"),)),
    Case("comments-and-blank-lines",
         "# leading comment\n\nFROM busybox\n# between\nRUN echo one # not a comment\n\n   # indented\nRUN echo two\n",
         stages=(stage("busybox", at(run("echo one # not a comment"), 5, "RUN echo one # not a comment"),
                       at(run("echo two"), 8, "RUN echo two"), line=3),)),
    Case("continuation", "FROM busybox\nRUN set -e; \\\n    echo a; \\\n    echo b\nUSER x\n", stages=(
        stage("busybox", at(run("set -e;     echo a;     echo b"), 2, "RUN set -e;     echo a;     echo b"),
              at(user("x"), 5, "USER x")),)),
    Case("continuation-skips-comment-lines",
         "FROM busybox\nRUN apk add \\\n# curl is needed\n      curl \\\n    # so is git\n      git\n",
         stages=(stage("busybox", run("apk add       curl       git")),)),
    Case("empty-continuation-line-warns", "FROM busybox\nRUN echo a \\\n\n    b\n",
         stages=(stage("busybox", run("echo a     b")),),
         warnings=("Empty continuation line found in: RUN echo a     b",)),
    Case("continuation-at-eof", "FROM busybox\nRUN echo a \\",
         stages=(stage("busybox", at(run("echo a"), 2, "RUN echo a")),)),
    Case("continuation-keeps-indent", "FROM busybox\nRUN echo \\\n\t\tindented\n",
         stages=(stage("busybox", run("echo \t\tindented")),)),
    Case("escaped-escape-is-not-continuation", "FROM busybox\nRUN echo \\\\\nRUN echo next\n",
         stages=(stage("busybox", run("echo \\\\"), run("echo next")),)),
    Case("escape-backtick", "# escape=`\nFROM mcr/windows\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n    && echo done\n",
         stages=(stage("mcr/windows", copy("testfile.txt", dest="c:\\"), run("dir c:\\     && echo done")),),
         directives={"escape": "`"}, escape="`"),
    Case("escape-backslash-explicit", "# escape=\\\nFROM busybox\nRUN a \\\n b\n",
         stages=(stage("busybox", run("a  b")),), directives={"escape": "\\"}),
    Case("escape-after-comment-is-a-comment", "# a comment\n# escape=`\nFROM busybox\nRUN echo \\\n  done\n",
         stages=(stage("busybox", run("echo   done")),)),
    Case("directives-syntax-and-check",
         "# syntax=docker/dockerfile:1.7\n# check=skip=JSONArgsRecommended\nFROM busybox\n",
         stages=(stage("busybox", line=3),),
         directives={"syntax": "docker/dockerfile:1.7", "check": "skip=JSONArgsRecommended"}),
    err("directive-twice", "# syntax=a\n# syntax=b\nFROM busybox\n", 2,
        PARSE + "only one syntax parser directive can be used"),
    err("directive-bad-escape", "# escape=|\nFROM busybox\n", 1,
        PARSE + "invalid escape token '|' does not match ` or \\"),
    Case("byte-order-mark", b"\xef\xbb\xbfFROM busybox\nRUN true\n", stages=(stage("busybox", run("true")),)),
    Case("crlf", 'FROM busybox\r\nRUN echo a \\\r\n  b\r\nCMD ["x"]\r\n',
         stages=(stage("busybox", at(run("echo a   b"), 2, "RUN echo a   b"), cmd("x", shell=False)),)),
    Case("utf8", "FROM busybox\nLABEL greeting=안녕\nRUN echo '😀'\n",
         stages=(stage("busybox", label(("greeting", "안녕")), run("echo '😀'")),)),
    Case("mixed-case-keywords-keep-their-spelling", "From busybox\nRun echo Hi\nCopy --from=0 a b\n", stages=(
        stage("busybox", at(run("echo Hi"), 2, "Run echo Hi"), at(copy("a", dest="b", from_="0"), 3, "Copy --from=0 a b"),
              original="From busybox"),)),
    Case("line-numbers",
         'ARG A=1\n\nFROM busybox AS base\n# comment\nRUN echo one \\\n    two\n\nCOPY <<EOF /x\na\nEOF\nCMD ["done"]\n',
         meta=(arg(("A", "1"), line=1, original="ARG A=1"),),
         stages=(stage("busybox", at(run("echo one     two"), 5, "RUN echo one     two"),
                       at(copy(dest="/x", heredocs=(doc("EOF", "a\n"),)), 8, "COPY <<EOF /x"),
                       at(cmd("done", shell=False), 11, 'CMD ["done"]'),
                       name="base", line=3, original="FROM busybox AS base"),)),
    # ------------------------------------------------------------ exec and shell forms
    Case("json-forms", 'FROM busybox\nRUN ["/bin/echo", "a b"]\nCMD ["echo", "hi"]\nENTRYPOINT ["/entry.sh"]\n',
         stages=(stage("busybox", run("/bin/echo", "a b", shell=False), cmd("echo", "hi", shell=False),
                       entrypoint("/entry.sh", shell=False)),)),
    Case("not-json-is-shell-form", "FROM busybox\nCMD ['echo', 'hi']\nRUN [ \"unterminated\"\n",
         stages=(stage("busybox", cmd("['echo', 'hi']"), run('[ "unterminated"')),)),
    err("json-not-strings", 'FROM busybox\nCMD ["a", ["b"]]\n', 2,
        PARSE + "when using JSON array syntax, arrays must be comprised of strings only"),
    Case("cmd-and-entrypoint-forms",
         "FROM busybox\nCMD echo \"hello world\"\nCMD []\nENTRYPOINT []\nENTRYPOINT /bin/sh -c 'echo hi'\nCMD\n",
         stages=(stage("busybox", cmd('echo "hello world"'), cmd(shell=False), entrypoint(shell=False),
                       entrypoint("/bin/sh -c 'echo hi'"), cmd()),)),
    Case("run-without-command", "FROM busybox\nRUN\n", stages=(stage("busybox", run()),)),
    Case("shell", 'FROM busybox\nSHELL ["/bin/ash", "-eo", "pipefail", "-c"]\nRUN echo hi | cat\n',
         stages=(stage("busybox", shell("/bin/ash", "-eo", "pipefail", "-c"), run("echo hi | cat")),)),
    err("shell-not-json", "FROM busybox\nSHELL /bin/sh -c\n", 2,
        at_line(2) + "SHELL requires the arguments to be in JSON form"),
    err("shell-empty", "FROM busybox\nSHELL []\n", 2, at_line(2) + "SHELL requires at least one argument"),
    # ------------------------------------------------------------ heredocs
    Case("heredoc-run", 'FROM busybox\nRUN <<EOF\necho "$HOME"\nEOF\nRUN echo after\n',
         stages=(stage("busybox", at(run("<<EOF", heredocs=(doc("EOF", 'echo "$HOME"\n'),)), 2, "RUN <<EOF"),
                       at(run("echo after"), 5, "RUN echo after")),)),
    Case("heredoc-chomp-keeps-raw-body-for-run", "FROM busybox\nRUN <<-EOT bash\n\techo one\n\tEOT\n",
         stages=(stage("busybox", run("<<-EOT bash", heredocs=(doc("EOT", "\techo one\n", chomp=True),))),)),
    Case("heredoc-quoted-name-does-not-expand", "FROM busybox\nRUN cat <<'EOF' > /x\n$NOT_EXPANDED\nEOF\n",
         stages=(stage("busybox", run("cat <<'EOF' > /x", heredocs=(doc("EOF", "$NOT_EXPANDED\n", expand=False),))),)),
    Case("heredoc-several-on-one-line",
         "FROM busybox\nCOPY <<one.txt <<-two.txt /dst/\nfirst\none.txt\n\tsecond\n\ttwo.txt\n",
         stages=(stage("busybox", copy(dest="/dst/", heredocs=(
             doc("one.txt", "first\n"), doc("two.txt", "second\n", chomp=True)))),)),
    Case("heredoc-copy-file", 'FROM busybox\nCOPY --chmod=755 <<"EOF" /usr/local/bin/hello\n#!/bin/sh\necho hi $USER\nEOF\n',
         stages=(stage("busybox", copy(dest="/usr/local/bin/hello", chmod="755", heredocs=(
             doc("EOF", "#!/bin/sh\necho hi $USER\n", expand=False),))),)),
    Case("heredoc-mixed-with-paths", "FROM busybox\nADD a.txt <<inline.txt /dst/\nbody\ninline.txt\n",
         stages=(stage("busybox", add("a.txt", dest="/dst/", heredocs=(doc("inline.txt", "body\n"),))),)),
    Case("heredoc-with-fd", "FROM busybox\nRUN 3<<EOF cat /proc/self/fd/3\nx\nEOF\n",
         stages=(stage("busybox", run("3<<EOF cat /proc/self/fd/3", heredocs=(doc("EOF", "x\n", fd=3),))),)),
    Case("heredoc-not-in-json-form", 'FROM busybox\nRUN ["cat", "<<EOF"]\n',
         stages=(stage("busybox", run("cat", "<<EOF", shell=False)),)),
    Case("heredoc-in-onbuild", "FROM busybox\nONBUILD RUN <<EOF\necho triggered\nEOF\n",
         stages=(stage("busybox", onbuild("RUN <<EOF\necho triggered\nEOF")),)),
    err("heredoc-unterminated", "FROM busybox\nRUN <<EOF\necho\n", 2, PARSE + "unterminated heredoc"),
    err("heredoc-as-destination", "FROM busybox\nCOPY a <<EOF\nx\nEOF\n", 2,
        at_line(2) + "COPY cannot accept a heredoc as a destination"),
    # ------------------------------------------------------------ FROM, stages, ARG
    Case("meta-args",
         'ARG VERSION=1.36\nARG BASE\nARG A=1 B="two words" C=\nFROM busybox:${VERSION}\nARG VERSION\nRUN echo $VERSION\n',
         meta=(arg(("VERSION", "1.36")), arg(("BASE", None)), arg(("A", "1"), ("B", '"two words"'), ("C", ""))),
         stages=(stage("busybox:${VERSION}", arg(("VERSION", None)), run("echo $VERSION")),)),
    Case("multi-stage",
         "FROM golang:1.22 AS Build\nRUN go build -o /app\nFROM build AS test\nFROM scratch\nCOPY --from=Build /app /app\n",
         stages=(stage("golang:1.22", run("go build -o /app"), name="build", line=1),
                 stage("build", name="test", line=3, original="FROM build AS test"),
                 stage("scratch", copy("/app", dest="/app", from_="Build"), line=4))),
    Case("from-platform", "ARG TARGET=linux/amd64\nFROM --platform=$TARGET busybox AS base\n",
         meta=(arg(("TARGET", "linux/amd64")),),
         stages=(stage("busybox", name="base", platform="$TARGET", original="FROM --platform=$TARGET busybox AS base"),)),
    err("from-two-arguments", "FROM busybox extra\n", 1, at_line(1) + "FROM requires either one or three arguments"),
    err("from-three-arguments-without-as", "FROM a IS b\n", 1, at_line(1) + "FROM requires either one or three arguments"),
    err("from-without-image", "FROM\n", 1, at_line(1) + "FROM requires either one or three arguments"),
    err("stage-name-invalid", "FROM busybox AS 2nd\n", 1,
        at_line(1) + "invalid name for build stage: \"2nd\", name can't start with a number or contain symbols"),
    err("from-unknown-flag", "FROM --arch=arm busybox\n", 1, at_line(1) + "unknown flag: --arch"),
    err("instruction-before-from", "RUN echo\nFROM busybox\n", 1, "no build stage in current context"),
    err("arg-blank-name", "ARG =x\nFROM busybox\n", 1, at_line(1) + "ARG names can not be blank"),
    err("arg-empty", "ARG\nFROM busybox\n", 1, at_line(1) + "ARG requires at least one argument"),
    # ------------------------------------------------------------ ENV, LABEL
    Case("env-forms",
         "FROM busybox\nENV PATH /usr/local/bin:$PATH\nENV A=1 B=\"two words\" C=three\\ words D='$literal'\nENV E \"\"\n",
         stages=(stage("busybox", env(("PATH", "/usr/local/bin:$PATH")),
                       env(("A", "1"), ("B", '"two words"'), ("C", "three\\ words"), ("D", "'$literal'")),
                       env(("E", '""'))),)),
    Case("env-escaped-quotes", 'FROM busybox\nENV A="a \\"quoted\\" value"\n',
         stages=(stage("busybox", env(("A", '"a \\"quoted\\" value"'))),)),
    err("env-without-value", "FROM busybox\nENV ONLYNAME\n", 2, PARSE + "ENV must have two arguments"),
    err("env-blank-name", "FROM busybox\nENV =value\n", 2, at_line(2) + "ENV names can not be blank"),
    err("env-missing-equals", "FROM busybox\nENV A=1 B\n", 2,
        PARSE + "Syntax error - can't find = in \"B\". Must be of the form: name=value"),
    err("env-empty", "FROM busybox\nENV\n", 2, at_line(2) + "ENV requires at least one argument"),
    Case("label-forms",
         'FROM busybox\nLABEL maintainer="someone <a@b>" version=1.0\n'
         'LABEL "com.example.multi word"="yes" \\\n      description="line one \\\nline two"\n'
         "LABEL legacy value with spaces\n",
         stages=(stage("busybox", label(("maintainer", '"someone <a@b>"'), ("version", "1.0")),
                       label(('"com.example.multi word"', '"yes"'), ("description", '"line one line two"')),
                       label(("legacy", "value with spaces"))),)),
    err("label-empty", "FROM busybox\nLABEL\n", 2, at_line(2) + "LABEL requires at least one argument"),
    # ------------------------------------------------------------ COPY, ADD and flags
    Case("copy-flags",
         "FROM busybox\nCOPY --from=builder --chown=1000:1000 --chmod=0644 --link a.txt b.txt /dst/\n"
         "COPY --parents --exclude=*.md --exclude=tmp/ ./src/ /app/\n"
         'COPY ["with space.txt", "/dst dir/"]\n',
         stages=(stage("busybox",
                       copy("a.txt", "b.txt", dest="/dst/", from_="builder", chown="1000:1000", chmod="0644", link=True),
                       copy("./src/", dest="/app/", parents=True, excludes=("*.md", "tmp/")),
                       copy("with space.txt", dest="/dst dir/")),)),
    Case("copy-quoted-flag-value", 'FROM busybox\nCOPY --chown="app user":"app group" src /dst\n',
         stages=(stage("busybox", copy("src", dest="/dst", chown="app user:app group")),)),
    Case("copy-double-dash-ends-flags", "FROM busybox\nCOPY --chown=1 -- --file /dst\n",
         stages=(stage("busybox", copy("--file", dest="/dst", chown="1")),)),
    Case("copy-flag-non-ascii-as-docker-garbles-it", "FROM busybox\nCOPY --chown=josé a b\n",
         stages=(stage("busybox", copy("a", dest="b", chown="josÃ©")),)),
    err("copy-one-argument", "FROM busybox\nCOPY onlyone\n", 2, at_line(2) + "COPY requires at least two arguments, "
        "but only one was provided. Destination could not be determined"),
    Case("add-flags",
         "FROM busybox\nADD --checksum=sha256:abc https://example.com/a.tar.gz /tmp/\n"
         "ADD --keep-git-dir=true --link git@github.com:moby/buildkit.git /src\n"
         "ADD --unpack=false --chown=app --exclude=*.log archive.tar /opt/\n",
         stages=(stage("busybox", add("https://example.com/a.tar.gz", dest="/tmp/", checksum="sha256:abc"),
                       add("git@github.com:moby/buildkit.git", dest="/src", keep_git_dir=True, link=True),
                       add("archive.tar", dest="/opt/", unpack=False, chown="app", excludes=("*.log",))),)),
    err("add-one-argument", "FROM busybox\nADD x\n", 2, at_line(2) + "ADD requires at least two arguments, "
        "but only one was provided. Destination could not be determined"),
    err("unknown-flag-suggests", "FROM busybox\nCOPY --fromm=x a b\n", 2,
        at_line(2) + "unknown flag: --fromm (did you mean from?)"),
    err("flag-missing-value", "FROM busybox\nCOPY --from a b\n", 2, at_line(2) + "missing a value on flag: --from"),
    err("bool-flag-empty-value", "FROM busybox\nCOPY --link= a b\n", 2, at_line(2) + "missing a value on flag: --link"),
    err("bool-flag-bad-value", "FROM busybox\nCOPY --link=maybe a b\n", 2,
        at_line(2) + "expecting boolean value for flag --link, not: maybe"),
    err("flag-twice", "FROM busybox\nCOPY --chown=1 --chown=2 a b\n", 2, at_line(2) + "duplicate flag specified: --chown"),
    err("flag-on-instruction-without-flags", "FROM busybox\nUSER --bogus root\n", 2, at_line(2) + "unknown flag: --bogus"),
    # ------------------------------------------------------------ RUN flags
    Case("run-flags",
         "FROM busybox\nRUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=tok "
         "--network=none --security=insecure make\nRUN --device=/dev/fuse,required cat\n",
         stages=(stage("busybox",
                       run("make", mounts=("type=cache,target=/root/.cache", "type=secret,id=tok"), network="none",
                           security="insecure", used=("mount", "network", "security")),
                       run("cat", devices=("/dev/fuse,required",), used=("device",))),)),
    err("run-bad-network", "FROM busybox\nRUN --network=bridge true\n", 2, at_line(2) + 'invalid network mode "bridge"'),
    err("run-bad-security", "FROM busybox\nRUN --security=loose true\n", 2, at_line(2) + 'security "loose" is not valid'),
    err("run-mount-from-variable", "FROM busybox\nRUN --mount=from=$STAGE,target=/x true\n", 2,
        at_line(2) + "'from' doesn't support variable expansion, define alias stage instead"),
    err("run-mount-bad-csv", 'FROM busybox\nRUN --mount=a\\"b true\n', 2,
        at_line(2) + 'failed to parse csv mounts: parse error on line 1, column 2: bare " in non-quoted-field'),
    err("run-device-bad-field", "FROM busybox\nRUN --device=a,b true\n", 2,
        at_line(2) + "invalid field 'b' must be a key=value pair"),
    # ------------------------------------------------------------ HEALTHCHECK
    Case("healthcheck-forms",
         "FROM busybox\nHEALTHCHECK NONE\n"
         "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms --start-interval=1.5s --retries=3 \\\n"
         "  CMD wget -q -O- http://localhost/ || exit 1\n"
         'HEALTHCHECK CMD ["/bin/check", "--quick"]\nHEALTHCHECK --interval=0s cmd true\n'
         "HEALTHCHECK --interval=bogus NONE\n",
         stages=(stage("busybox", health(),
                       health("CMD-SHELL", "wget -q -O- http://localhost/ || exit 1", interval=30 * SECOND,
                              timeout=90 * SECOND, start_period=SECOND // 2, start_interval=3 * SECOND // 2, retries=3),
                       health("CMD", "/bin/check", "--quick"), health("CMD-SHELL", "true"), health()),)),
    err("healthcheck-empty", "FROM busybox\nHEALTHCHECK\n", 2, at_line(2) + "HEALTHCHECK requires at least one argument"),
    err("healthcheck-none-with-args", "FROM busybox\nHEALTHCHECK NONE x\n", 2,
        at_line(2) + "HEALTHCHECK NONE takes no arguments"),
    err("healthcheck-cmd-missing", "FROM busybox\nHEALTHCHECK CMD\n", 2, at_line(2) + "Missing command after HEALTHCHECK CMD"),
    err("healthcheck-unknown-type", "FROM busybox\nHEALTHCHECK connect tcp\n", 2,
        at_line(2) + 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)'),
    err("healthcheck-duration-without-unit", "FROM busybox\nHEALTHCHECK --interval=10 CMD x\n", 2,
        at_line(2) + 'time: missing unit in duration "10"'),
    err("healthcheck-duration-bad-unit", "FROM busybox\nHEALTHCHECK --timeout=1x CMD x\n", 2,
        at_line(2) + 'time: unknown unit "x" in duration "1x"'),
    err("healthcheck-interval-too-short", "FROM busybox\nHEALTHCHECK --start-period=100us CMD x\n", 2,
        at_line(2) + 'Interval "start-period" cannot be less than 1ms'),
    err("healthcheck-retries-not-a-number", "FROM busybox\nHEALTHCHECK --retries=three CMD x\n", 2,
        at_line(2) + 'strconv.ParseInt: parsing "three": invalid syntax'),
    err("healthcheck-retries-negative", "FROM busybox\nHEALTHCHECK --retries=-2 CMD x\n", 2,
        at_line(2) + "--retries cannot be negative (-2)"),
    # ------------------------------------------------------------ the rest
    Case("expose-sorted-raw", "FROM busybox\nEXPOSE 8080 80/udp 443\nEXPOSE $PORT\n",
         stages=(stage("busybox", expose("443", "80/udp", "8080"), expose("$PORT")),)),
    err("expose-empty", "FROM busybox\nEXPOSE\n", 2, at_line(2) + "EXPOSE requires at least one argument"),
    Case("volume-forms", 'FROM busybox\nVOLUME /data /logs\nVOLUME ["/a", "/b c"]\n',
         stages=(stage("busybox", volume("/data", "/logs"), volume("/a", "/b c")),)),
    err("volume-empty-string", 'FROM busybox\nVOLUME ["/a", " "]\n', 2,
        at_line(2) + "VOLUME specified can not be an empty string"),
    Case("user-and-workdir", "FROM busybox\nUSER app:app\nWORKDIR /srv/$APP\nWORKDIR relative dir\n",
         stages=(stage("busybox", user("app:app"), workdir("/srv/$APP"), workdir("relative dir")),)),
    err("workdir-missing", "FROM busybox\nWORKDIR\n", 2, at_line(2) + "WORKDIR requires exactly one argument"),
    err("user-missing", "FROM busybox\nUSER\n", 2, at_line(2) + "USER requires exactly one argument"),
    Case("stopsignal-ignores-flags", "FROM busybox\nSTOPSIGNAL SIGTERM\nSTOPSIGNAL --ignored 9\n",
         stages=(stage("busybox", stopsignal("SIGTERM"), stopsignal("9")),)),
    err("stopsignal-missing", "FROM busybox\nSTOPSIGNAL\n", 2, at_line(2) + "STOPSIGNAL requires exactly one argument"),
    Case("onbuild", "FROM busybox\nONBUILD RUN echo triggered\nonbuild copy --chown=1 . /app\nONBUILD ENV A=1\n",
         stages=(stage("busybox", onbuild("RUN echo triggered"), onbuild("copy --chown=1 . /app"), onbuild("ENV A=1")),)),
    err("onbuild-onbuild", "FROM busybox\nONBUILD ONBUILD RUN x\n", 2,
        at_line(2) + "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    err("onbuild-from", "FROM busybox\nONBUILD from x\n", 2, at_line(2) + "FROM isn't allowed as an ONBUILD trigger"),
    err("onbuild-maintainer", "FROM busybox\nONBUILD MAINTAINER me\n", 2,
        at_line(2) + "MAINTAINER isn't allowed as an ONBUILD trigger"),
    err("onbuild-empty", "FROM busybox\nONBUILD\n", 2, at_line(2) + "ONBUILD requires at least one argument"),
    Case("maintainer-still-accepted", "FROM busybox\nMAINTAINER Jane Doe <jane@example.com>\n",
         stages=(stage("busybox", maintainer("Jane Doe <jane@example.com>")),)),
    # ------------------------------------------------------------ whole-file errors
    err("unknown-instruction-suggests", "FROM busybox\nRUNN echo\n", 2,
        at_line(2) + "unknown instruction: RUNN (did you mean RUN?)"),
    err("unknown-instruction-lowercase", "fromm busybox\n", 1, at_line(1) + "unknown instruction: fromm (did you mean from?)"),
    err("unknown-instruction", "FROM busybox\nBOGUS thing\n", 2, at_line(2) + "unknown instruction: BOGUS"),
    err("only-comments", "# nothing\n# here\n", 2, PARSE + "file with no instructions"),
    err("empty", "", 0, "the Dockerfile (Dockerfile) cannot be empty"),
]


def _strip(expected: Instruction, actual: Instruction) -> Instruction:
    # line/original are compared only where the corpus states them
    if expected.line == 0:
        actual = replace(actual, line=0)
    if expected.original == "":
        actual = replace(actual, original="")
    return actual


def test_corpus_is_large_and_unique() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus(case: Case) -> None:
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
        assert [_strip(e, a) for e, a in zip(want.commands, got.commands, strict=False)] == list(want.commands)
        assert len(got.commands) == len(want.commands)
    assert df.warnings == case.warnings
    assert dict(df.directives) == case.directives
    assert df.escape == case.escape
