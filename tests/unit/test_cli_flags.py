"""The pflag-like parser and help renderer."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from dockyard.cli.flags import FlagError, FlagSet, parse_bytes, parse_int, render_flags, wrap_usage
from dockyard.cli.runflags import CREATE_FLAGS, RUN_FLAGS

RUN = FlagSet(RUN_FLAGS, interspersed=False)


def test_combined_short_bools():
    p = RUN.parse(["-dit", "busybox", "sh"])
    assert p.bool("detach") and p.bool("interactive") and p.bool("tty")
    assert p.args == ["busybox", "sh"]


def test_value_forms_and_repeats():
    p = RUN.parse(["-e", "A=1", "--env=B=2", "-eC=3", "--env", "D", "-p8080:80", "--name=x", "img"])
    assert p.list("env") == ["A=1", "B=2", "C=3", "D"]
    assert p.list("publish") == ["8080:80"]
    assert p.str("name") == "x"
    assert p.args == ["img"]


def test_short_value_after_bools():
    p = RUN.parse(["-itv", "/a:/b", "img"])
    assert p.bool("interactive") and p.bool("tty")
    assert p.list("volume") == ["/a:/b"]


def test_flags_stop_at_first_positional_for_run():
    p = RUN.parse(["--rm", "busybox", "ls", "-la", "--rm"])
    assert p.bool("rm")
    assert p.args == ["busybox", "ls", "-la", "--rm"]


def test_interspersed_for_other_commands():
    fs = FlagSet([("f", "force", "bool", "x")])
    p = fs.parse(["a", "-f", "b"])
    assert p.bool("force") and p.args == ["a", "b"]


def test_double_dash_ends_flags():
    fs = FlagSet([("f", "force", "bool", "x")])
    p = fs.parse(["--", "-f", "x"])
    assert not p.bool("force") and p.args == ["-f", "x"]


def test_lone_dash_is_positional():
    fs = FlagSet([("m", "message", "string", "x")])
    assert fs.parse(["-", "repo"]).args == ["-", "repo"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--foo"], "unknown flag: --foo"),
        (["--foo=bar"], "unknown flag: --foo"),
        (["-x"], "unknown shorthand flag: 'x' in -x"),
        (["-dx"], "unknown shorthand flag: 'x' in -x"),
        (["-m"], "flag needs an argument: 'm' in -m"),
        (["--memory"], "flag needs an argument: --memory"),
        (["-m", "abc", "img"], "invalid argument \"abc\" for \"-m, --memory\" flag: invalid size: 'abc'"),
        (["--rm=maybe"], 'invalid argument "maybe" for "--rm" flag: strconv.ParseBool: parsing "maybe": invalid syntax'),
        (["--cpu-shares", "x"], 'invalid argument "x" for "-c, --cpu-shares" flag: strconv.ParseInt: parsing "x": '
                                "invalid syntax"),
    ],
)
def test_errors_worded_like_pflag(argv, message):
    with pytest.raises(FlagError) as e:
        RUN.parse(argv)
    assert str(e.value) == message


def test_bool_with_value():
    p = RUN.parse(["--rm=false", "-t=true", "img"])
    assert p.bool("rm") is False and p.bool("tty") is True
    assert p.changed("rm")


def test_help_flag_and_h_reserved_for_hostname_in_run():
    assert RUN.parse(["-h", "box", "img"]).str("hostname") == "box"
    assert RUN.parse(["--help"]).bool("help")
    other = FlagSet([("a", "all", "bool", "x")])
    assert other.parse(["-h"]).bool("help")


def test_sizes():
    assert parse_bytes("512m") == 512 * 1024 * 1024
    assert parse_bytes("1g") == 1 << 30
    assert parse_bytes("1.5GiB") == int(1.5 * (1 << 30))
    assert parse_bytes("100") == 100
    assert parse_bytes("10kb") == 10240
    assert parse_bytes("-1") == -1
    with pytest.raises(ValueError):
        parse_bytes("abc")
    assert parse_int("0x10") == 16 and parse_int("-1") == -1


def test_wrap_matches_pflag_examples():
    text = "Add an annotation to the container (passed through to the OCI runtime) (default map[])"
    assert wrap_usage(41, 79, text) == (
        "Add an annotation to the\n" + " " * 41 + "container (passed through to the\n" + " " * 41
        + "OCI runtime) (default map[])"
    )


def test_render_simple():
    out = render_flags([("a", "all", "bool", "Show all"), ("", "format", "string", "Format")])
    assert out == "  -a, --all             Show all\n      --format string   Format\n"


DOCKER = shutil.which("docker")


@pytest.mark.skipif(DOCKER is None, reason="docker CLI not installed")
@pytest.mark.parametrize("cmd", ["run", "create", "ps", "images", "logs", "stop", "rm", "inspect", "import",
                                 "start", "kill", "rmi", "history", "exec", "attach", "commit"])
def test_help_is_byte_identical_to_docker(cmd):
    """Our help text equals docker's with the binary name changed (80 columns, no terminal)."""
    from dockyard.cli.main import COMMANDS, _load

    ref = subprocess.run([DOCKER, cmd, "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
    ours = _load(COMMANDS[cmd]).help_text(cmd, 80)
    assert ours == ref.replace("docker ", "dockyard ").replace("docker\n", "dockyard\n").replace("'docker", "'dockyard")


def test_create_flags_are_run_flags_minus_attach_only_ones():
    names = {f[1] for f in CREATE_FLAGS}
    assert "detach" not in names and "sig-proxy" not in names and "rm" in names
