"""`dockyard network ...` beside the real `docker network ...` (28.2), both against a dockyard daemon.

Each check runs the same command line through both CLIs and compares stdout, stderr (with
the binary's name swapped) and the exit status.  Where a command changes state (create,
rm, prune, connect) docker runs it first, the state is put back, then dockyard runs it.
"""

from __future__ import annotations

import re

import pytest

TEMPLATE = ('{{.Name}} {{.Driver}} {{.Scope}} {{.Internal}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} '
            '{{index .Options "com.docker.network.bridge.name"}} {{json .Labels}}')
ID_LINE = re.compile(r"^[0-9a-f]{64}\n$")


def _renamed(text: str) -> str:
    for word in ("docker ", "docker:", "'docker"):
        text = text.replace(word, word.replace("docker", "dockyard"))
    return text


def _result(p) -> tuple[str, str, int]:
    return p.stdout_text, p.stderr_text, p.returncode


def _compare(daemon, *args: str, input: bytes | None = None) -> tuple[str, str, int]:
    """Run a read-only command through both CLIs; they must print the same."""
    theirs = _result(daemon.docker(*args, check=False, input=input))
    ours = _result(daemon.dockyard(*args, check=False, input=input))
    assert ours == (_renamed(theirs[0]), _renamed(theirs[1]), theirs[2]), args
    return ours


@pytest.fixture
def names(daemon):
    """Network names unique to this daemon; whatever is left of them is removed afterwards."""
    made: list[str] = []

    def name(suffix: str) -> str:
        made.append(f"dy{daemon.tag}-{suffix}")
        return made[-1]

    yield name
    if made:
        daemon.docker("network", "rm", "-f", *made, check=False)


def _subnet(daemon, i: int) -> tuple[str, str]:
    third = int(daemon.tag[:2], 16)
    return f"10.{210 + i}.{third}.0/24", f"10.{210 + i}.{third}.1"


def _create_args(daemon, name: str, i: int) -> list[str]:
    subnet, gateway = _subnet(daemon, i)
    return ["network", "create", "--subnet", subnet, "--gateway", gateway, "--label", "team=blue",
            "-o", f"com.docker.network.bridge.name=dyb{daemon.tag}{i}", name]


def test_create_then_inspect_the_same_both_ways(daemon, names):
    net = names("a")
    args = _create_args(daemon, net, 1)
    created = daemon.docker(*args)
    assert ID_LINE.match(created.stdout_text) and created.stderr_text == ""
    by_docker = _compare(daemon, "network", "inspect", "-f", TEMPLATE, net)
    subnet, gateway = _subnet(daemon, 1)
    assert by_docker[0] == (f'{net} bridge local false {subnet} {gateway} dyb{daemon.tag}1 {{"team":"blue"}}\n')
    _compare(daemon, "network", "inspect", net)
    _compare(daemon, "network", "inspect", "-f", "json", net)
    _compare(daemon, "inspect", "--type", "network", "-f", "{{.Id}}", net)
    _compare(daemon, "inspect", "-f", "{{.Name}}", net)
    daemon.docker("network", "rm", net)

    created = daemon.dockyard(*args)
    assert ID_LINE.match(created.stdout_text) and created.stderr_text == ""
    assert _compare(daemon, "network", "inspect", "-f", TEMPLATE, net) == by_docker


def test_create_refusals_are_the_same(daemon, names):
    net = names("b")
    subnet, gateway = _subnet(daemon, 2)
    for extra in (["--subnet", subnet, "--gateway", "10.99.0.1"], ["--gateway", gateway],
                  ["--subnet", f"{subnet},{subnet}"], ["--subnet", subnet, "--ip-range", "nope"],
                  ["--subnet", "nope"], ["--subnet", subnet, "--aux-address", "x=10.99.0.9"],
                  ["--label", ""], ["-d", "no-such-driver"]):
        code = _compare(daemon, "network", "create", *extra, net)[2]
        assert code != 0, extra
    assert daemon.docker("network", "inspect", net, check=False).returncode == 1


def test_create_duplicate_name_is_refused_alike(daemon, names):
    net = names("c")
    daemon.docker("network", "create", net)
    _compare(daemon, "network", "create", net)


def test_ls_in_every_shape(daemon, names):
    labelled, plain = names("l1"), names("l2")
    daemon.dockyard(*_create_args(daemon, labelled, 3))
    daemon.docker("network", "create", plain)
    short_id = daemon.docker("network", "inspect", "-f", "{{.Id}}", plain).stdout_text[:12]
    for args in (["ls"], ["ls", "-q"], ["ls", "--no-trunc"], ["list"], ["ls", "--filter", f"name={labelled}"],
                 ["ls", "--filter", "label=team=blue"], ["ls", "--filter", "label=team"],
                 ["ls", "--filter", "driver=bridge"], ["ls", "-f", "type=custom"], ["ls", "-f", "dangling=true"],
                 ["ls", "--format", "{{.Name}}"], ["ls", "--format", "json"],
                 ["ls", "--format", "table {{.Name}}\\t{{.Driver}}\\t{{.Labels}}\\t{{.Internal}}"],
                 ["ls", "-q", "-f", f"id={short_id}"]):
        _compare(daemon, "network", *args)
    names_out = daemon.dockyard("network", "ls", "--format", "{{.Name}}").stdout_text.split()
    assert {"bridge", "host", "none", labelled, plain} <= set(names_out)
    filtered = daemon.dockyard("network", "ls", "-q", "--filter", "label=team=blue").stdout_text.split()
    assert len(filtered) == 1


def test_inspect_missing_ones(daemon, names):
    net = names("i")
    daemon.docker("network", "create", net)
    out, err, code = _compare(daemon, "network", "inspect", net, "no-such-net")
    assert code == 1 and out.startswith("[\n    {") and err == "Error response from daemon: network no-such-net not found\n"
    _compare(daemon, "network", "inspect", "-f", "{{.Name}}", "no-such-net", net)
    _compare(daemon, "network", "inspect", "no-such-net")
    _compare(daemon, "inspect", "--type", "network", "no-such-net")


def test_rm_with_a_missing_name(daemon, names):
    a, b = names("r1"), names("r2")
    for cli in (daemon.docker, daemon.dockyard):
        daemon.docker("network", "create", a)
        daemon.docker("network", "create", b)
        p = cli("network", "rm", a, "no-such-net", b, check=False)
        assert _result(p) == (f"{a}\n{b}\n", "Error response from daemon: network no-such-net not found\n"
                                             "exit status 1\n", 1)
    _compare(daemon, "network", "rm", "-f", "no-such-net")
    _compare(daemon, "network", "rm", "bridge")
    _compare(daemon, "network", "rm", "no-such-net")


def test_prune_force(daemon, names):
    a, b = names("p1"), names("p2")
    outputs = []
    for cli in (daemon.docker, daemon.dockyard):
        daemon.docker("network", "create", a)
        daemon.docker("network", "create", b)
        out, err, code = _result(cli("network", "prune", "-f"))
        lines = out.split("\n")
        outputs.append((lines[0], sorted(lines[1:-2]), lines[-2:], err, code))
        assert daemon.docker("network", "inspect", a, check=False).returncode == 1
    assert outputs[0] == outputs[1] == ("Deleted Networks:", sorted([a, b]), ["", ""], "", 0)
    _compare(daemon, "network", "prune", "-f")  # nothing left to prune: nothing printed
    _compare(daemon, "network", "prune", input=b"n\n")


def test_connect_disconnect_errors(daemon, names):
    net = names("e")
    daemon.docker("network", "create", net)
    for args in (["connect", "no-such-net", "no-such-ctr"], ["connect", net, "no-such-ctr"],
                 ["disconnect", net, "no-such-ctr"], ["disconnect", "-f", "no-such-net", "no-such-ctr"],
                 ["connect", "--driver-opt", "bad", net, "x"], ["connect", "--link", "a:b:c", net, "x"],
                 ["disconnect", net, " "], ["connect", net]):
        code = _compare(daemon, "network", *args)[2]
        assert code != 0, args


def test_connect_and_disconnect_a_running_container(daemon, names):
    net = names("k")
    ctr = f"dyk{daemon.tag}"
    daemon.docker("network", "create", net)
    daemon.docker("run", "-d", "--name", ctr, "busybox", "sleep", "300")
    members = ["network", "inspect", "-f", "{{range .Containers}}{{.Name}}{{end}}", net]
    try:
        for first, second in ((daemon.docker, daemon.dockyard), (daemon.dockyard, daemon.docker)):
            assert _result(first("network", "connect", "--alias", "web", net, ctr)) == ("", "", 0)
            assert daemon.docker(*members).stdout_text == f"{ctr}\n"
            assert _compare(daemon, "network", "connect", net, ctr)[2] == 1  # already connected
            assert _result(second("network", "disconnect", net, ctr)) == ("", "", 0)
            assert daemon.docker(*members).stdout_text == "\n"
            _compare(daemon, "network", "disconnect", net, ctr)  # no longer connected
    finally:
        daemon.docker("rm", "-f", ctr, check=False)
