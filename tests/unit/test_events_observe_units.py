"""Pure parts of stats, top, update and their CLI commands: parsers, docker's arithmetic, wire shapes."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from types import SimpleNamespace

import pytest

from dockyard import errors
from dockyard.api.wire_stats import stats_response
from dockyard.cli.command import StatusError
from dockyard.cli.events import EventContext, get_timestamp, pretty_event
from dockyard.cli.port import port_lines
from dockyard.cli.stats import StatsRow, entry_from_frame
from dockyard.cli.top import render_top
from dockyard.engine.stats import Sample, read_net_dev, read_system_cpu
from dockyard.engine.top import parse_ps_output, ps_command, validate_ps_args
from dockyard.engine.update import check_update, merge_update, update_resources

NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     140       2    0    0    0     0          0         0      140       2    0    0    0     0       0          0
  eth0:    1296      16    1    2    0     0          0         0      726        9    3    4    0     0       0          0
"""


def test_read_net_dev_skips_loopback():
    assert read_net_dev(NET_DEV) == {"eth0": {
        "rx_bytes": 1296, "rx_packets": 16, "rx_errors": 1, "rx_dropped": 2,
        "tx_bytes": 726, "tx_packets": 9, "tx_errors": 3, "tx_dropped": 4}}
    assert set(read_net_dev(NET_DEV, skip_loopback=False)) == {"lo", "eth0"}


def test_read_system_cpu():
    text = "cpu  100 0 50 1000 10 0 5 7 0 0\ncpu0 50 0 25 500 5 0 2 3 0 0\ncpu1 50 0 25 500 5 0 3 4 0 0\nintr 1\n"
    total, cpus = read_system_cpu(text, ticks=100)
    assert cpus == 2 and total == (100 + 50 + 1000 + 10 + 5) * 10_000_000  # user..softirq, not steal
    total, cpus = read_system_cpu()
    assert total > 0 and cpus >= 1


def _container(name="web"):
    return SimpleNamespace(id="f" * 64, name=name)


def test_stats_of_a_stopped_container_is_docker_empty_frame():
    out = stats_response(_container(), None, None)
    assert out["read"] == out["preread"] == "0001-01-01T00:00:00Z"
    assert out["pids_stats"] == {} and out["memory_stats"] == {} and out["storage_stats"] == {}
    assert out["blkio_stats"]["io_service_bytes_recursive"] is None and len(out["blkio_stats"]) == 8
    assert out["cpu_stats"] == out["precpu_stats"] == {
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    assert out["name"] == "/web" and out["num_procs"] == 0 and "networks" not in out


def _frame(total, system, pre_total, pre_system, usage=100 << 20, inactive=20 << 20, limit=1 << 30):
    prev = Sample(read="2024-01-01T00:00:00Z", cpu_stats={"cpu_usage": {"total_usage": pre_total},
                                                          "system_cpu_usage": pre_system, "online_cpus": 2})
    cur = Sample(read="2024-01-01T00:00:01Z",
                 cpu_stats={"cpu_usage": {"total_usage": total, "percpu_usage": [total, 0],
                                          "usage_in_kernelmode": 1, "usage_in_usermode": 2},
                            "system_cpu_usage": system, "online_cpus": 2,
                            "throttling_data": {"periods": 3}},
                 memory_stats={"usage": usage, "limit": limit, "max_usage": usage,
                               "stats": {"total_inactive_file": inactive}},
                 pids_stats={"current": 4},
                 blkio_stats={"io_service_bytes_recursive": [
                     {"major": 8, "minor": 0, "op": "Read", "value": 4096},
                     {"major": 8, "minor": 0, "op": "Write", "value": 1000}]},
                 networks={"eth0": {"rx_bytes": 1500, "tx_bytes": 2500}})
    return json.loads(json.dumps(stats_response(_container(), cur, prev)))


def test_stats_frame_shape_and_docker_cli_arithmetic():
    frame = _frame(total=1_500_000_000, system=20_000_000_000, pre_total=1_000_000_000,
                   pre_system=18_000_000_000)
    assert list(frame) == ["name", "id", "read", "preread", "pids_stats", "blkio_stats", "num_procs",
                           "storage_stats", "cpu_stats", "precpu_stats", "memory_stats", "networks"]
    assert frame["preread"] == "2024-01-01T00:00:00Z"
    assert frame["cpu_stats"]["throttling_data"] == {"periods": 3, "throttled_periods": 0, "throttled_time": 0}
    assert frame["networks"]["eth0"]["rx_packets"] == 0
    entry = entry_from_frame("web", frame)
    # (0.5e9 / 2e9) * 2 cpus * 100
    assert entry.cpu_percentage == pytest.approx(50.0)
    assert entry.memory == 80 << 20 and entry.memory_percentage == pytest.approx(80 / 1024 * 100)
    assert (entry.block_read, entry.block_write, entry.network_rx, entry.network_tx) == (4096, 1000, 1500, 2500)
    row = StatsRow(entry)
    assert [row.ID(), row.Name(), row.CPUPerc(), row.MemUsage(), row.MemPerc(), row.NetIO(), row.BlockIO(),
            row.PIDs()] == ["ffffffffffff", "web", "50.00%", "80MiB / 1GiB", "7.81%", "1.5kB / 2.5kB",
                            "4.1kB / 1kB", "4"]


def test_stats_row_of_an_invalid_entry():
    entry = entry_from_frame("web", _frame(0, 0, 0, 0))
    entry.invalid = True
    row = StatsRow(entry)
    assert (row.CPUPerc(), row.MemUsage(), row.NetIO(), row.PIDs()) == ("--", "-- / --", "--", "--")


PS_EF = """UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init splash
root         100       1  0 10:01 ?        00:00:00 sh -c while true; do sleep 1; done
root         101     100  0 10:01 ?        00:00:00 sleep 1
"""


def test_parse_ps_output_keeps_container_pids_and_joins_the_command():
    result = parse_ps_output(PS_EF, {100, 101})
    assert result.titles == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert result.processes == [
        ["root", "100", "1", "0", "10:01", "?", "00:00:00", "sh -c while true; do sleep 1; done"],
        ["root", "101", "100", "0", "10:01", "?", "00:00:00", "sleep 1"]]


def test_parse_ps_output_thread_rows_follow_their_process():
    out = "  PID  LWP CMD\n  100    - sh\n    -  100 -\n    -  102 -\n  200    - other\n    -  200 -\n"
    result = parse_ps_output(out, {100})
    assert result.processes == [["100", "-", "sh"], ["-", "100", "-"], ["-", "102", "-"]]


def test_ps_args_checks_and_command():
    with pytest.raises(errors.SystemError_, match="Couldn't find PID field"):
        parse_ps_output("UID CMD\nroot x\n", {1})
    with pytest.raises(errors.InvalidArgument, match='specifying "user=PID" is not allowed'):
        validate_ps_args("-o user=PID")
    validate_ps_args("-o pid=PID")
    assert ps_command("-ef", [3, 5]) == (["ps", "-ef", "-q3,5"], ["ps", "-ef"])


def test_top_table_is_tabwriter_20_1_3():
    text = render_top(["UID", "PID", "CMD"], [["root", "1", "sleep 10"]])
    assert text == "UID                 PID                 CMD\nroot                1                   sleep 10\n"


def test_update_checks():
    check_update({"Memory": 64 << 20, "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3}})
    for body, message in [
        ({"Memory": 1024}, "Minimum memory limit allowed is 6MB"),
        ({"Memory": 64 << 20, "MemorySwap": 32 << 20}, "Minimum memoryswap limit should be larger"),
        ({"NanoCpus": 10**9, "CpuPeriod": 50000}, "Nano CPUs and CPU Period cannot both be set"),
        ({"NanoCpus": 1000 * 10**9}, "Range of CPUs is from 0.01 to"),
        ({"CpuPeriod": 10}, "CPU cfs period can not be less than 1ms"),
        ({"CpuQuota": 10}, "CPU cfs quota can not be less than 1ms"),
        ({"BlkioWeight": 5}, "Range of blkio weight is from 10 to 1000"),
        ({"RestartPolicy": {"Name": "sometimes"}}, "invalid restart policy: unknown policy 'sometimes'"),
        ({"RestartPolicy": {"Name": "always", "MaximumRetryCount": 2}}, "can only be used with 'on-failure'"),
        ({"Memory": "64m"}, "cannot unmarshal"),
    ]:
        with pytest.raises(errors.InvalidArgument, match=message):
            check_update(body)


def test_update_merge_follows_docker():
    hc = {"Memory": 64 << 20, "MemorySwap": 0, "NanoCpus": 0, "CpuShares": 0, "PidsLimit": None,
          "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}, "AutoRemove": False}
    new = merge_update("c1", hc, {"Memory": 100 << 20, "CpuShares": 512, "PidsLimit": -1,
                                  "RestartPolicy": {"Name": "always"}})
    # swap was implicitly 2x memory (128m): 100m fits under it and the old value is kept
    assert new["Memory"] == 100 << 20 and new["MemorySwap"] == 128 << 20 and new["CpuShares"] == 512
    assert new["PidsLimit"] == 0 and new["RestartPolicy"] == {"Name": "always", "MaximumRetryCount": 0}
    assert hc["Memory"] == 64 << 20  # the old record is left alone
    with pytest.raises(errors.Conflict, match="Cannot update container c1: Memory limit should be smaller"):
        merge_update("c1", hc, {"Memory": 200 << 20})
    with pytest.raises(errors.Conflict, match="Nano CPUs cannot be updated as CPU Quota"):
        merge_update("c1", {"CpuQuota": 50000}, {"NanoCpus": 10**9})
    with pytest.raises(errors.Conflict, match="AutoRemove is enabled"):
        merge_update("c1", {"AutoRemove": True}, {"RestartPolicy": {"Name": "always"}})
    assert update_resources(new, {"Memory": 100 << 20, "CpuShares": 512, "PidsLimit": -1}) == {
        "memory": {"limit": 100 << 20, "swap": 128 << 20}, "cpu": {"shares": 512}, "pids": {"limit": -1}}
    assert update_resources({"NanoCpus": 5 * 10**8}, {"NanoCpus": 5 * 10**8}) == {
        "cpu": {"period": 100000, "quota": 50000}}
    assert update_resources(new, {"RestartPolicy": {"Name": "always"}}) == {}


def test_port_lines():
    ports = {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
             "9/udp": [{"HostIp": "0.0.0.0", "HostPort": "9"}], "443/tcp": None}
    assert port_lines(ports, "c") == ["9/udp -> 0.0.0.0:9", "80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080"]
    assert port_lines(ports, "c", "80") == ["0.0.0.0:8080", "[::]:8080"]
    with pytest.raises(StatusError, match="Error: No public port '443/tcp' published for c"):
        port_lines(ports, "c", "443/tcp")


def test_events_cli_timestamps_and_pretty_print():
    now = 1_700_000_000.25
    assert get_timestamp("10m", now) == "1699999400"
    assert get_timestamp("1699999999.5", now) == "1699999999.5"
    assert get_timestamp("2023-11-14T22:13:20Z", now) == "1700000000.000000000"
    assert get_timestamp("2023-11-14T22:13:20.5+01:00", now) == "1699996400.500000000"
    with pytest.raises(ValueError, match='failed to parse value as time or duration: "soon"'):
        get_timestamp("soon", now)
    msg = {"Type": "container", "Action": "start", "Actor": {"ID": "abc", "Attributes": {"name": "x", "image": "b"}},
           "time": 1, "timeNano": 1_000_000_005}
    line = pretty_event(msg)
    assert line.endswith(" container start abc (image=b, name=x)") and ".000000005" in line
    ctx = EventContext(msg)
    assert ctx.Actor["Attributes"]["name"] == "x" and ctx.to_json() is msg


DOCKER = shutil.which("docker")


@pytest.mark.skipif(DOCKER is None, reason="docker CLI not installed")
@pytest.mark.parametrize("cmd", ["events", "stats", "top", "update", "port", "pause", "unpause", "rename", "wait"])
def test_help_is_byte_identical_to_docker(cmd):
    from dockyard.cli.main import COMMANDS, _load

    ref = subprocess.run([DOCKER, cmd, "--help"], capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
    ours = _load(COMMANDS[cmd]).help_text(cmd, 80)
    assert ours == ref.replace("docker ", "dockyard ").replace("docker\n", "dockyard\n").replace("'docker", "'dockyard")


def test_local_time_render_is_rfc3339_nano_fixed():
    line = pretty_event({"Type": "t", "Action": "a", "Actor": {"ID": "i"}, "timeNano": int(time.time() * 1e9)})
    stamp = line.split(" ")[0]
    assert len(stamp.split(".")[1]) >= 10  # nine digits, then Z or an offset


def test_blkio_lists_as_moby_fills_them():
    from dockyard.engine.stats import BLKIO_KEYS, _blkio_as_docker

    entry = {"major": 8, "minor": 0, "op": "Read", "value": 1}
    v1 = _blkio_as_docker({"io_service_bytes_recursive": [entry], "io_serviced_recursive": []}, v1=True)
    assert list(v1) == list(BLKIO_KEYS) and v1["io_service_bytes_recursive"] == [entry]
    assert all(v1[k] == [] for k in BLKIO_KEYS[1:])
    assert _blkio_as_docker({"io_service_bytes_recursive": []}, v1=False) == {"io_service_bytes_recursive": None}
    assert _blkio_as_docker({}, v1=True) == {}
    frame = stats_response(_container(), Sample(read="x", blkio_stats=v1), None)
    assert frame["blkio_stats"]["sectors_recursive"] == []
