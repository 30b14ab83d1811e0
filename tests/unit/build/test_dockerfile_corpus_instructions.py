"""Dockerfile corpus, instructions: each instruction's arguments, flags and errors, as Docker parses them."""

from __future__ import annotations

from dockerfile_expect import (
    PARSE,
    SECOND,
    Case,
    add,
    arg,
    at_line,
    copy,
    corpus_test,
    env,
    err,
    expose,
    health,
    label,
    maintainer,
    onbuild,
    run,
    stage,
    stopsignal,
    user,
    volume,
    workdir,
)

CASES = [
    # ------------------------------------------------------------ FROM, stages, ARG
    Case(
        "meta-args",
        'ARG VERSION=1.36\nARG BASE\nARG A=1 B="two words" C=\n'
        'FROM busybox:${VERSION}\nARG VERSION\nRUN echo $VERSION\n',
        meta=(
            arg(("VERSION", "1.36")),
            arg(("BASE", None)),
            arg(("A", "1"), ("B", '"two words"'), ("C", "")),
        ),
        stages=(stage("busybox:${VERSION}", arg(("VERSION", None)), run("echo $VERSION")),),
    ),
    Case(
        "multi-stage",
        "FROM golang:1.22 AS Build\nRUN go build -o /app\n"
        "FROM build AS test\nFROM scratch\nCOPY --from=Build /app /app\n",
        stages=(
            stage("golang:1.22", run("go build -o /app"), name="build", line=1),
            stage("build", name="test", line=3, original="FROM build AS test"),
            stage("scratch", copy("/app", dest="/app", from_="Build"), line=4),
        ),
    ),
    Case(
        "from-platform",
        "ARG TARGET=linux/amd64\nFROM --platform=$TARGET busybox AS base\n",
        meta=(arg(("TARGET", "linux/amd64")),),
        stages=(
            stage(
                "busybox", name="base", platform="$TARGET", original="FROM --platform=$TARGET busybox AS base"
            ),
        ),
    ),
    err(
        "from-two-arguments",
        "FROM busybox extra\n",
        1,
        at_line(1) + "FROM requires either one or three arguments",
    ),
    err(
        "from-three-arguments-without-as",
        "FROM a IS b\n",
        1,
        at_line(1) + "FROM requires either one or three arguments",
    ),
    err("from-without-image", "FROM\n", 1, at_line(1) + "FROM requires either one or three arguments"),
    err(
        "stage-name-invalid",
        "FROM busybox AS 2nd\n",
        1,
        at_line(1)
        + "invalid name for build stage: \"2nd\", name can't start with a number or contain symbols",
    ),
    err("from-unknown-flag", "FROM --arch=arm busybox\n", 1, at_line(1) + "unknown flag: --arch"),
    err("instruction-before-from", "RUN echo\nFROM busybox\n", 1, "no build stage in current context"),
    err("arg-blank-name", "ARG =x\nFROM busybox\n", 1, at_line(1) + "ARG names can not be blank"),
    err("arg-empty", "ARG\nFROM busybox\n", 1, at_line(1) + "ARG requires at least one argument"),
    # ------------------------------------------------------------ ENV, LABEL
    Case(
        "env-forms",
        "FROM busybox\nENV PATH /usr/local/bin:$PATH\n"
        "ENV A=1 B=\"two words\" C=three\\ words D='$literal'\nENV E \"\"\n",
        stages=(
            stage(
                "busybox",
                env(("PATH", "/usr/local/bin:$PATH")),
                env(("A", "1"), ("B", '"two words"'), ("C", "three\\ words"), ("D", "'$literal'")),
                env(("E", '""')),
            ),
        ),
    ),
    Case(
        "env-escaped-quotes",
        'FROM busybox\nENV A="a \\"quoted\\" value"\n',
        stages=(stage("busybox", env(("A", '"a \\"quoted\\" value"'))),),
    ),
    err("env-without-value", "FROM busybox\nENV ONLYNAME\n", 2, PARSE + "ENV must have two arguments"),
    err("env-blank-name", "FROM busybox\nENV =value\n", 2, at_line(2) + "ENV names can not be blank"),
    err(
        "env-missing-equals",
        "FROM busybox\nENV A=1 B\n",
        2,
        PARSE + "Syntax error - can't find = in \"B\". Must be of the form: name=value",
    ),
    err("env-empty", "FROM busybox\nENV\n", 2, at_line(2) + "ENV requires at least one argument"),
    Case(
        "label-forms",
        'FROM busybox\nLABEL maintainer="someone <a@b>" version=1.0\n'
        'LABEL "com.example.multi word"="yes" \\\n      description="line one \\\nline two"\n'
        "LABEL legacy value with spaces\n",
        stages=(
            stage(
                "busybox",
                label(("maintainer", '"someone <a@b>"'), ("version", "1.0")),
                label(('"com.example.multi word"', '"yes"'), ("description", '"line one line two"')),
                label(("legacy", "value with spaces")),
            ),
        ),
    ),
    err("label-empty", "FROM busybox\nLABEL\n", 2, at_line(2) + "LABEL requires at least one argument"),
    # ------------------------------------------------------------ COPY, ADD and flags
    Case(
        "copy-flags",
        "FROM busybox\nCOPY --from=builder --chown=1000:1000 --chmod=0644 --link a.txt b.txt /dst/\n"
        "COPY --parents --exclude=*.md --exclude=tmp/ ./src/ /app/\n"
        'COPY ["with space.txt", "/dst dir/"]\n',
        stages=(
            stage(
                "busybox",
                copy(
                    "a.txt",
                    "b.txt",
                    dest="/dst/",
                    from_="builder",
                    chown="1000:1000",
                    chmod="0644",
                    link=True,
                ),
                copy("./src/", dest="/app/", parents=True, excludes=("*.md", "tmp/")),
                copy("with space.txt", dest="/dst dir/"),
            ),
        ),
    ),
    Case(
        "copy-quoted-flag-value",
        'FROM busybox\nCOPY --chown="app user":"app group" src /dst\n',
        stages=(stage("busybox", copy("src", dest="/dst", chown="app user:app group")),),
    ),
    Case(
        "copy-double-dash-ends-flags",
        "FROM busybox\nCOPY --chown=1 -- --file /dst\n",
        stages=(stage("busybox", copy("--file", dest="/dst", chown="1")),),
    ),
    Case(
        "copy-flag-non-ascii-as-docker-garbles-it",
        "FROM busybox\nCOPY --chown=josé a b\n",
        stages=(stage("busybox", copy("a", dest="b", chown="josÃ©")),),
    ),
    err(
        "copy-one-argument",
        "FROM busybox\nCOPY onlyone\n",
        2,
        at_line(2) + "COPY requires at least two arguments, "
        "but only one was provided. Destination could not be determined",
    ),
    Case(
        "add-flags",
        "FROM busybox\nADD --checksum=sha256:abc https://example.com/a.tar.gz /tmp/\n"
        "ADD --keep-git-dir=true --link git@github.com:moby/buildkit.git /src\n"
        "ADD --unpack=false --chown=app --exclude=*.log archive.tar /opt/\n",
        stages=(
            stage(
                "busybox",
                add("https://example.com/a.tar.gz", dest="/tmp/", checksum="sha256:abc"),
                add("git@github.com:moby/buildkit.git", dest="/src", keep_git_dir=True, link=True),
                add("archive.tar", dest="/opt/", unpack=False, chown="app", excludes=("*.log",)),
            ),
        ),
    ),
    err(
        "add-one-argument",
        "FROM busybox\nADD x\n",
        2,
        at_line(2) + "ADD requires at least two arguments, "
        "but only one was provided. Destination could not be determined",
    ),
    err(
        "unknown-flag-suggests",
        "FROM busybox\nCOPY --fromm=x a b\n",
        2,
        at_line(2) + "unknown flag: --fromm (did you mean from?)",
    ),
    err(
        "flag-missing-value",
        "FROM busybox\nCOPY --from a b\n",
        2,
        at_line(2) + "missing a value on flag: --from",
    ),
    err(
        "bool-flag-empty-value",
        "FROM busybox\nCOPY --link= a b\n",
        2,
        at_line(2) + "missing a value on flag: --link",
    ),
    err(
        "bool-flag-bad-value",
        "FROM busybox\nCOPY --link=maybe a b\n",
        2,
        at_line(2) + "expecting boolean value for flag --link, not: maybe",
    ),
    err(
        "flag-twice",
        "FROM busybox\nCOPY --chown=1 --chown=2 a b\n",
        2,
        at_line(2) + "duplicate flag specified: --chown",
    ),
    err(
        "flag-on-instruction-without-flags",
        "FROM busybox\nUSER --bogus root\n",
        2,
        at_line(2) + "unknown flag: --bogus",
    ),
    # ------------------------------------------------------------ RUN flags
    Case(
        "run-flags",
        "FROM busybox\nRUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=tok "
        "--network=none --security=insecure make\nRUN --device=/dev/fuse,required cat\n",
        stages=(
            stage(
                "busybox",
                run(
                    "make",
                    mounts=("type=cache,target=/root/.cache", "type=secret,id=tok"),
                    network="none",
                    security="insecure",
                    used=("mount", "network", "security"),
                ),
                run("cat", devices=("/dev/fuse,required",), used=("device",)),
            ),
        ),
    ),
    err(
        "run-bad-network",
        "FROM busybox\nRUN --network=bridge true\n",
        2,
        at_line(2) + 'invalid network mode "bridge"',
    ),
    err(
        "run-bad-security",
        "FROM busybox\nRUN --security=loose true\n",
        2,
        at_line(2) + 'security "loose" is not valid',
    ),
    err(
        "run-mount-from-variable",
        "FROM busybox\nRUN --mount=from=$STAGE,target=/x true\n",
        2,
        at_line(2) + "'from' doesn't support variable expansion, define alias stage instead",
    ),
    err(
        "run-mount-bad-csv",
        'FROM busybox\nRUN --mount=a\\"b true\n',
        2,
        at_line(2)
        + 'failed to parse csv mounts: parse error on line 1, column 2: bare " in non-quoted-field',
    ),
    err(
        "run-device-bad-field",
        "FROM busybox\nRUN --device=a,b true\n",
        2,
        at_line(2) + "invalid field 'b' must be a key=value pair",
    ),
    # ------------------------------------------------------------ HEALTHCHECK
    Case(
        "healthcheck-forms",
        "FROM busybox\nHEALTHCHECK NONE\n"
        "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=500ms "
        "--start-interval=1.5s --retries=3 \\\n"
        "  CMD wget -q -O- http://localhost/ || exit 1\n"
        'HEALTHCHECK CMD ["/bin/check", "--quick"]\nHEALTHCHECK --interval=0s cmd true\n'
        "HEALTHCHECK --interval=bogus NONE\n",
        stages=(
            stage(
                "busybox",
                health(),
                health(
                    "CMD-SHELL",
                    "wget -q -O- http://localhost/ || exit 1",
                    interval=30 * SECOND,
                    timeout=90 * SECOND,
                    start_period=SECOND // 2,
                    start_interval=3 * SECOND // 2,
                    retries=3,
                ),
                health("CMD", "/bin/check", "--quick"),
                health("CMD-SHELL", "true"),
                health(),
            ),
        ),
    ),
    err(
        "healthcheck-empty",
        "FROM busybox\nHEALTHCHECK\n",
        2,
        at_line(2) + "HEALTHCHECK requires at least one argument",
    ),
    err(
        "healthcheck-none-with-args",
        "FROM busybox\nHEALTHCHECK NONE x\n",
        2,
        at_line(2) + "HEALTHCHECK NONE takes no arguments",
    ),
    err(
        "healthcheck-cmd-missing",
        "FROM busybox\nHEALTHCHECK CMD\n",
        2,
        at_line(2) + "Missing command after HEALTHCHECK CMD",
    ),
    err(
        "healthcheck-unknown-type",
        "FROM busybox\nHEALTHCHECK connect tcp\n",
        2,
        at_line(2) + 'Unknown type "CONNECT" in HEALTHCHECK (try CMD)',
    ),
    err(
        "healthcheck-duration-without-unit",
        "FROM busybox\nHEALTHCHECK --interval=10 CMD x\n",
        2,
        at_line(2) + 'time: missing unit in duration "10"',
    ),
    err(
        "healthcheck-duration-bad-unit",
        "FROM busybox\nHEALTHCHECK --timeout=1x CMD x\n",
        2,
        at_line(2) + 'time: unknown unit "x" in duration "1x"',
    ),
    err(
        "healthcheck-interval-too-short",
        "FROM busybox\nHEALTHCHECK --start-period=100us CMD x\n",
        2,
        at_line(2) + 'Interval "start-period" cannot be less than 1ms',
    ),
    err(
        "healthcheck-retries-not-a-number",
        "FROM busybox\nHEALTHCHECK --retries=three CMD x\n",
        2,
        at_line(2) + 'strconv.ParseInt: parsing "three": invalid syntax',
    ),
    err(
        "healthcheck-retries-negative",
        "FROM busybox\nHEALTHCHECK --retries=-2 CMD x\n",
        2,
        at_line(2) + "--retries cannot be negative (-2)",
    ),
    # ------------------------------------------------------------ the rest
    Case(
        "expose-sorted-raw",
        "FROM busybox\nEXPOSE 8080 80/udp 443\nEXPOSE $PORT\n",
        stages=(stage("busybox", expose("443", "80/udp", "8080"), expose("$PORT")),),
    ),
    err("expose-empty", "FROM busybox\nEXPOSE\n", 2, at_line(2) + "EXPOSE requires at least one argument"),
    Case(
        "volume-forms",
        'FROM busybox\nVOLUME /data /logs\nVOLUME ["/a", "/b c"]\n',
        stages=(stage("busybox", volume("/data", "/logs"), volume("/a", "/b c")),),
    ),
    err(
        "volume-empty-string",
        'FROM busybox\nVOLUME ["/a", " "]\n',
        2,
        at_line(2) + "VOLUME specified can not be an empty string",
    ),
    Case(
        "user-and-workdir",
        "FROM busybox\nUSER app:app\nWORKDIR /srv/$APP\nWORKDIR relative dir\n",
        stages=(stage("busybox", user("app:app"), workdir("/srv/$APP"), workdir("relative dir")),),
    ),
    err(
        "workdir-missing", "FROM busybox\nWORKDIR\n", 2, at_line(2) + "WORKDIR requires exactly one argument"
    ),
    err("user-missing", "FROM busybox\nUSER\n", 2, at_line(2) + "USER requires exactly one argument"),
    Case(
        "stopsignal-ignores-flags",
        "FROM busybox\nSTOPSIGNAL SIGTERM\nSTOPSIGNAL --ignored 9\n",
        stages=(stage("busybox", stopsignal("SIGTERM"), stopsignal("9")),),
    ),
    err(
        "stopsignal-missing",
        "FROM busybox\nSTOPSIGNAL\n",
        2,
        at_line(2) + "STOPSIGNAL requires exactly one argument",
    ),
    Case(
        "onbuild",
        "FROM busybox\nONBUILD RUN echo triggered\nonbuild copy --chown=1 . /app\nONBUILD ENV A=1\n",
        stages=(
            stage(
                "busybox", onbuild("RUN echo triggered"), onbuild("copy --chown=1 . /app"), onbuild("ENV A=1")
            ),
        ),
    ),
    err(
        "onbuild-onbuild",
        "FROM busybox\nONBUILD ONBUILD RUN x\n",
        2,
        at_line(2) + "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
    ),
    err(
        "onbuild-from",
        "FROM busybox\nONBUILD from x\n",
        2,
        at_line(2) + "FROM isn't allowed as an ONBUILD trigger",
    ),
    err(
        "onbuild-maintainer",
        "FROM busybox\nONBUILD MAINTAINER me\n",
        2,
        at_line(2) + "MAINTAINER isn't allowed as an ONBUILD trigger",
    ),
    err("onbuild-empty", "FROM busybox\nONBUILD\n", 2, at_line(2) + "ONBUILD requires at least one argument"),
    Case(
        "maintainer-still-accepted",
        "FROM busybox\nMAINTAINER Jane Doe <jane@example.com>\n",
        stages=(stage("busybox", maintainer("Jane Doe <jane@example.com>")),),
    ),
]


test_corpus = corpus_test(CASES)


def test_corpus_is_large() -> None:
    assert len(CASES) >= 30
