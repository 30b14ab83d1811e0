"""`run`/`create` flags → the `POST /containers/create` body, shaped as docker 28 sends it.

The body carries every HostConfig field docker sends (mostly zero values), because some
daemons and proxies depend on seeing them; see api-trace/02_run_rm_it.log.
Errors are ValueError with docker's wording; `run` shows them with exit status 125.
"""

from __future__ import annotations

import os

from dockyard.cli.flags import parse_bytes, parse_map
from dockyard.cli.mountopts import split_volumes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["build_create_body", "parse_env_file", "parse_publish", "parse_restart", "console_size"]


def _kv_env(value: str) -> str | None:
    key, eq, _ = value.partition("=")
    if not key:
        raise ValueError(f"invalid environment variable: {value}")
    if eq:
        return value
    if key in os.environ:
        return f"{key}={os.environ[key]}"
    return value


def parse_env_file(path: str, lookup_missing: bool = True) -> list[str]:
    """docker's env-file format: KEY=VAL lines, `#` comments, bare KEY taken from the environment."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ValueError(f"open {path}: {e.strerror.lower() if e.strerror else e}") from None
    out = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, eq, val = line.partition("=")
        if not key.strip() or " " in key.strip() and not eq:
            raise ValueError(f"variable '{key}' contains whitespaces" if " " in key else
                             f"no variable name on line '{raw}'")
        if eq:
            out.append(f"{key.lstrip()}={val}")
        elif lookup_missing and key.strip() in os.environ:
            out.append(f"{key.strip()}={os.environ[key.strip()]}")
        elif lookup_missing:
            continue
        del lineno
    return out


def _split_port_spec(spec: str) -> tuple[str, str, str, str]:
    """"[ip:][hostPort:]containerPort[/proto]" → (ip, host, container, proto)."""
    proto = "tcp"
    body = spec
    if "/" in spec:
        body, _, proto = spec.rpartition("/")
        proto = proto.lower() or "tcp"
    ip = ""
    if body.startswith("["):  # [::1]:8080:80
        end = body.find("]")
        ip = body[1:end]
        body = body[end + 2:] if end + 1 < len(body) and body[end + 1] == ":" else body[end + 1:]
        host, _, cont = body.rpartition(":")
        return ip, host, cont, proto
    parts = body.split(":")
    if len(parts) == 1:
        return "", "", parts[0], proto
    if len(parts) == 2:
        return "", parts[0], parts[1], proto
    if len(parts) == 3:
        return parts[0], parts[1], parts[2], proto
    # an unbracketed IPv6 address: the last two fields are ports
    return ":".join(parts[:-2]), parts[-2], parts[-1], proto


def _port_range(text: str, what: str, spec: str) -> list[int]:
    if not text:
        return []
    lo, dash, hi = text.partition("-")
    try:
        a = int(lo)
        b = int(hi) if dash else a
    except ValueError:
        raise ValueError(f"invalid {what} port: {text}" if what == "containerPort" else
                         f"invalid hostPort: {text}") from None
    if not (0 <= a <= 65535 and 0 <= b <= 65535):
        raise ValueError(f"invalid {what}: {text}")
    if b < a:
        raise ValueError(f"invalid port range: {text}")
    return list(range(a, b + 1))


def parse_publish(specs: list[str]) -> tuple[dict[str, dict], dict[str, list[dict[str, str]]]]:
    """`-p` values → (ExposedPorts, PortBindings)."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        ip, host, cont, proto = _split_port_spec(spec)
        if proto not in ("tcp", "udp", "sctp"):
            raise ValueError(f"invalid proto: {proto}")
        if not cont:
            raise ValueError(f"no port specified: {spec}<empty>")
        cports = _port_range(cont, "containerPort", spec)
        hports = _port_range(host, "hostPort", spec)
        if hports and len(hports) != len(cports) and len(hports) > 1 and len(cports) > 1:
            raise ValueError(f"invalid ranges specified for container and host Ports: {cont} and {host}")
        for i, cp in enumerate(cports):
            key = f"{cp}/{proto}"
            exposed[key] = {}
            if not hports:
                hp = ""
            elif len(cports) == 1 and len(hports) > 1:
                hp = f"{hports[0]}-{hports[-1]}"
            else:
                hp = str(hports[i])
            bindings.setdefault(key, []).append({"HostIp": ip, "HostPort": hp})
    return exposed, bindings


def parse_restart(policy: str) -> dict[str, Any]:
    name, _, count = policy.partition(":")
    if name not in ("", "no", "always", "unless-stopped", "on-failure"):
        raise ValueError(f"invalid restart policy format: unknown policy '{name}'; use one of 'no', 'always', "
                         "'on-failure', or 'unless-stopped'")
    retries = 0
    if count:
        if name != "on-failure":
            raise ValueError("invalid restart policy format: maximum retry count can only be used with 'on-failure'")
        try:
            retries = int(count)
        except ValueError:
            raise ValueError(f"invalid restart policy format: maximum retry count must be an integer: {count}") from None
    return {"Name": name or "no", "MaximumRetryCount": retries}


def console_size(fd: int = 1) -> list[int]:
    """[height, width] of the terminal on fd, [0, 0] if it is not one (ConsoleSize)."""
    try:
        import fcntl
        import struct
        import termios

        rows, cols = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))[:2]
        return [rows, cols]
    except (OSError, ImportError):
        return [0, 0]


def _ulimit(spec: str) -> dict[str, Any]:
    name, _, limits = spec.partition("=")
    soft, _, hard = limits.partition(":")
    try:
        s = int(soft)
        h = int(hard) if hard else s
    except ValueError:
        raise ValueError(f"invalid ulimit argument: {spec}") from None
    return {"Name": name, "Hard": h, "Soft": s}


def _device(spec: str) -> dict[str, str]:
    parts = spec.split(":")
    src = parts[0]
    dst = parts[1] if len(parts) > 1 and parts[1] and not set(parts[1]) <= set("rwm") else src
    perms = parts[-1] if len(parts) > 1 and set(parts[-1]) <= set("rwm") else "rwm"
    return {"PathOnHost": src, "PathInContainer": dst, "CgroupPermissions": perms}


def _throttle(values: list[str], rate: bool) -> list[dict[str, Any]]:
    out = []
    for v in values:
        path, _, amount = v.rpartition(":")
        out.append({"Path": path, "Rate": parse_bytes(amount) if rate else int(amount)})
    return out


def build_create_body(o: Parsed, image: str, cmd: list[str], detach: bool = False) -> dict[str, Any]:
    """The create request body for `run`/`create` options `o`."""
    from dockyard.cli.formatting import parse_duration

    attach = [a.lower() for a in o.list("attach")]
    for a in attach:
        if a not in ("stdin", "stdout", "stderr"):
            raise ValueError(f"invalid argument \"{a}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR")
    interactive = o.bool("interactive")
    attach_stdin = "stdin" in attach or interactive
    attach_stdout = "stdout" in attach or not attach
    attach_stderr = "stderr" in attach or not attach
    if detach:
        if attach:
            raise ValueError("Conflicting options: -a and -d")
        attach_stdin = attach_stdout = attach_stderr = False

    env: list[str] = []
    for path in o.list("env-file"):
        env.extend(parse_env_file(path))
    for e in o.list("env"):
        v = _kv_env(e)
        if v is not None:
            env.append(v)

    labels: dict[str, str] = {}
    for path in o.list("label-file"):
        for line in parse_env_file(path, lookup_missing=False):
            k, _, v = line.partition("=")
            labels[k] = v
    for lab in o.list("label"):
        k, _, v = lab.partition("=")
        if not k:
            raise ValueError(f"invalid label '{lab}': empty name")
        labels[k] = v

    exposed, bindings = parse_publish(o.list("publish"))
    for e in o.list("expose"):
        port, _, proto = e.partition("/")
        for p in _port_range(port, "containerPort", e):
            exposed.setdefault(f"{p}/{proto or 'tcp'}", {})

    binds, volumes = split_volumes(o.list("volume"))
    mounts = o.list("mount")   # already Mount objects: checked as the flag was parsed (cli/mountopts.py)
    tmpfs: dict[str, str] = {}
    for t in o.list("tmpfs"):
        path, _, opts = t.partition(":")
        tmpfs[path] = opts

    entrypoint: list[str] | None = None
    if o.changed("entrypoint"):
        entrypoint = [o.str("entrypoint")]

    restart = parse_restart(o.str("restart", "no"))
    auto_remove = o.bool("rm")
    if auto_remove and restart["Name"] not in ("", "no"):
        raise ValueError("Conflicting options: --restart and --rm")

    cpus = o.str("cpus")
    nano_cpus = 0
    if cpus:
        try:
            nano_cpus = int(round(float(cpus) * 1e9))
        except ValueError:
            raise ValueError(f"invalid argument \"{cpus}\" for \"--cpus\" flag: failed to parse {cpus} as a rational number") from None

    swap = o.get("memory-swap")
    networks = [n for n in o.list("network") + o.list("net")]
    net_mode = networks[0] if networks else "default"
    endpoint: dict[str, Any] = {
        "IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "", "DriverOpts": None,
        "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "DNSNames": None,
    }
    aliases = o.list("network-alias") + o.list("net-alias")
    if aliases:
        endpoint["Aliases"] = aliases
    if o.str("ip") or o.str("ip6"):
        endpoint["IPAMConfig"] = {"IPv4Address": o.str("ip"), "IPv6Address": o.str("ip6")}
    if o.list("link-local-ip"):
        endpoint["IPAMConfig"] = {**(endpoint["IPAMConfig"] or {}), "LinkLocalIPs": o.list("link-local-ip")}
    if o.str("mac-address"):
        endpoint["MacAddress"] = o.str("mac-address")
    if o.list("link") and (net_mode not in ("default", "bridge", "host", "none")
                           and not net_mode.startswith("container:")):
        endpoint["Links"] = o.list("link")   # on a user-defined network a link is an endpoint alias
    endpoints = {net_mode: endpoint}
    for extra in networks[1:]:
        endpoints[extra] = dict(endpoint, Aliases=None, IPAMConfig=None, Links=None)

    health: dict[str, Any] | None = None
    if o.bool("no-healthcheck"):
        health = {"Test": ["NONE"]}
    elif any(o.changed(f) for f in ("health-cmd", "health-interval", "health-timeout", "health-retries",
                                    "health-start-period", "health-start-interval")):
        test = ["CMD-SHELL", o.str("health-cmd")] if o.str("health-cmd") else None
        health = {
            "Test": test,
            "Interval": int(parse_duration(o.str("health-interval", "0s")) * 1e9),
            "Timeout": int(parse_duration(o.str("health-timeout", "0s")) * 1e9),
            "StartPeriod": int(parse_duration(o.str("health-start-period", "0s")) * 1e9),
            "StartInterval": int(parse_duration(o.str("health-start-interval", "0s")) * 1e9),
            "Retries": int(o.get("health-retries") or 0),
        }

    config: dict[str, Any] = {
        "Hostname": o.str("hostname"),
        "Domainname": o.str("domainname"),
        "User": o.str("user"),
        "AttachStdin": attach_stdin,
        "AttachStdout": attach_stdout,
        "AttachStderr": attach_stderr,
    }
    if exposed:
        config["ExposedPorts"] = exposed
    config.update({
        "Tty": o.bool("tty"),
        "OpenStdin": interactive,
        "StdinOnce": interactive and attach_stdin and not detach,
        "Env": env or None,
        "Cmd": cmd or None,
        "Image": image,
        "Volumes": volumes,
        "WorkingDir": o.str("workdir"),
        "Entrypoint": entrypoint,
        "OnBuild": None,
        "Labels": labels,
    })
    if health is not None:
        config["Healthcheck"] = health
    if o.str("stop-signal"):
        config["StopSignal"] = o.str("stop-signal")
    if o.changed("stop-timeout"):
        config["StopTimeout"] = o.get("stop-timeout")
    if o.str("mac-address"):
        config["MacAddress"] = o.str("mac-address")

    host: dict[str, Any] = {
        "Binds": binds or None,
        "ContainerIDFile": o.str("cidfile"),
        "LogConfig": {"Type": o.str("log-driver"), "Config": parse_map(o.list("log-opt"))},
        "NetworkMode": net_mode,
        "PortBindings": bindings,
        "RestartPolicy": restart,
        "AutoRemove": auto_remove,
        "VolumeDriver": o.str("volume-driver"),
        "VolumesFrom": o.list("volumes-from") or None,
        "ConsoleSize": [0, 0],
        "Annotations": parse_map(o.list("annotation")) or None,
        "CapAdd": o.list("cap-add") or None,
        "CapDrop": o.list("cap-drop") or None,
        "CgroupnsMode": o.str("cgroupns"),
        "Dns": o.list("dns"),
        "DnsOptions": o.list("dns-option"),
        "DnsSearch": o.list("dns-search"),
        "ExtraHosts": o.list("add-host") or None,
        "GroupAdd": o.list("group-add") or None,
        "IpcMode": o.str("ipc"),
        "Cgroup": "",
        "Links": o.list("link") or None,
        "OomScoreAdj": int(o.get("oom-score-adj") or 0),
        "PidMode": o.str("pid"),
        "Privileged": o.bool("privileged"),
        "PublishAllPorts": o.bool("publish-all"),
        "ReadonlyRootfs": o.bool("read-only"),
        "SecurityOpt": o.list("security-opt") or None,
        "StorageOpt": parse_map(o.list("storage-opt")) or None,
        "Tmpfs": tmpfs or None,
        "UTSMode": o.str("uts"),
        "UsernsMode": o.str("userns"),
        "ShmSize": int(o.get("shm-size") or 0),
        "Sysctls": parse_map(o.list("sysctl")) or None,
        "Runtime": o.str("runtime"),
        "Isolation": o.str("isolation"),
        "CpuShares": int(o.get("cpu-shares") or 0),
        "Memory": int(o.get("memory") or 0),
        "NanoCpus": nano_cpus,
        "CgroupParent": o.str("cgroup-parent"),
        "BlkioWeight": int(o.get("blkio-weight") or 0),
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": _throttle(o.list("device-read-bps"), True),
        "BlkioDeviceWriteBps": _throttle(o.list("device-write-bps"), True),
        "BlkioDeviceReadIOps": _throttle(o.list("device-read-iops"), False),
        "BlkioDeviceWriteIOps": _throttle(o.list("device-write-iops"), False),
        "CpuPeriod": int(o.get("cpu-period") or 0),
        "CpuQuota": int(o.get("cpu-quota") or 0),
        "CpuRealtimePeriod": int(o.get("cpu-rt-period") or 0),
        "CpuRealtimeRuntime": int(o.get("cpu-rt-runtime") or 0),
        "CpusetCpus": o.str("cpuset-cpus"),
        "CpusetMems": o.str("cpuset-mems"),
        "Devices": [_device(d) for d in o.list("device")],
        "DeviceCgroupRules": o.list("device-cgroup-rule") or None,
        "DeviceRequests": None,
        "KernelMemory": int(o.get("kernel-memory") or 0),
        "MemoryReservation": int(o.get("memory-reservation") or 0),
        "MemorySwap": int(swap) if swap is not None else 0,
        "MemorySwappiness": int(o.get("memory-swappiness") if o.changed("memory-swappiness") else -1),
        "OomKillDisable": o.bool("oom-kill-disable"),
        "PidsLimit": int(o.get("pids-limit") or 0),
        "Ulimits": [_ulimit(u) for u in o.list("ulimit")],
        "CpuCount": int(o.get("cpu-count") or 0),
        "CpuPercent": int(o.get("cpu-percent") or 0),
        "IOMaximumIOps": int(o.get("io-maxiops") or 0),
        "IOMaximumBandwidth": int(o.get("io-maxbandwidth") or 0),
        "MaskedPaths": None,
        "ReadonlyPaths": None,
    }
    if mounts:
        host["Mounts"] = mounts
    if o.changed("init"):
        host["Init"] = o.bool("init")
    for key in ("Annotations", "StorageOpt", "Tmpfs", "Sysctls", "KernelMemory"):
        if not host[key]:
            del host[key]
    if not host["Runtime"]:
        del host["Runtime"]
    return {**config, "HostConfig": host, "NetworkingConfig": {"EndpointsConfig": endpoints}}
