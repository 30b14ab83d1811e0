"""`version` and `info`, laid out with docker's own templates."""

from __future__ import annotations

import platform
import sys

from dockyard.cli.command import Cli, Command, StatusError, daemon_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from dockyard.cli.flags import Parsed

__all__ = ["VERSION", "INFO", "VERSION_TEMPLATE"]

# docker's defaultVersionTemplate, rendered through tabwriter(20, 1, 1).
VERSION_TEMPLATE = """{{with .Client -}}
Client:
 Version:\t{{.Version}}
 API version:\t{{.APIVersion}}{{if ne .APIVersion .DefaultAPIVersion}} (downgraded from {{.DefaultAPIVersion}}){{end}}
 Go version:\t{{.GoVersion}}
 Git commit:\t{{.GitCommit}}
 Built:\t{{.BuildTime}}
 OS/Arch:\t{{.Os}}/{{.Arch}}
 Context:\t{{.Context}}
{{- end}}

{{- if .ServerOK}}{{with .Server}}

Server:{{if .Platform}}{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}{{end}}
{{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- range $key, $value := $component.Details }}
  {{$key}}:\t{{$value}}
  {{- end }}
  {{- end }}
{{- end }}
 {{- end}}{{- end}}"""

_FORMAT_HELP = (
    "Format output using a custom template:\n"
    "'json':             Print in JSON format\n"
    "'TEMPLATE':         Print output using the given Go template.\n"
    "Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates"
)


def _client_info(api_version: str) -> dict[str, Any]:
    from dockyard import __version__
    from dockyard.client.api import MAX_API_VERSION

    machine = platform.machine()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(machine, machine)
    return {
        "Platform": {"Name": ""},
        "Version": __version__,
        "ApiVersion": api_version,
        "APIVersion": api_version,
        "DefaultAPIVersion": MAX_API_VERSION,
        "GoVersion": "python" + ".".join(str(x) for x in sys.version_info[:3]),
        "GitCommit": "dockyard",
        "BuildTime": "",
        "Os": sys.platform if sys.platform != "linux" else "linux",
        "Arch": arch,
        "Context": "default",
    }


def _render(fmt: str, data: Any, table: bool) -> str:
    from dockyard.cli.gotemplate import Template, TemplateError

    try:
        text = Template(fmt).execute(data)
    except TemplateError as e:
        raise StatusError(f"template parsing error: {e}", 1) from None
    if table:
        from dockyard.cli.formatting import tabwrite

        text = tabwrite(text, minwidth=20, tabwidth=1, padding=1)
    return text


def _version(cli: Cli, o: Parsed) -> int:
    from dockyard.client.api import MAX_API_VERSION
    from dockyard.client.transport import ConnectError
    from dockyard.errors import DockyardError

    error: str | None = None
    server: dict[str, Any] | None = None
    api = MAX_API_VERSION
    try:
        api = cli.client.api_version
        server = cli.client.version()
    except (ConnectError, DockyardError) as e:
        error = daemon_error(e)
    data = {"Client": _client_info(api), "Server": server, "ServerOK": server is not None}
    fmt = o.str("format")
    if fmt == "json":
        import json

        cli.print(json.dumps({"Client": data["Client"], "Server": server}, ensure_ascii=False))
    elif fmt:
        cli.print(_render(fmt, data, table=False))
    else:
        cli.print(_render(VERSION_TEMPLATE, data, table=True))
    if error:
        raise StatusError(error, 1)
    return 0


def _info(cli: Cli, o: Parsed) -> int:
    fmt = o.str("format")
    info = cli.client.info()
    if fmt == "json":
        import json

        cli.print(json.dumps(info, ensure_ascii=False))
        return 0
    if fmt:
        cli.print(_render(fmt, info, table=False))
        return 0
    from dockyard import __version__

    lines = [
        "Client:",
        f" Version:    {__version__}",
        " Context:    default",
        f" Debug Mode: {'true' if cli.debug else 'false'}",
        "",
        "Server:",
        f" Containers: {info.get('Containers', 0)}",
        f"  Running: {info.get('ContainersRunning', 0)}",
        f"  Paused: {info.get('ContainersPaused', 0)}",
        f"  Stopped: {info.get('ContainersStopped', 0)}",
        f" Images: {info.get('Images', 0)}",
        f" Server Version: {info.get('ServerVersion', '')}",
        f" Storage Driver: {info.get('Driver', '')}",
    ]
    for pair in info.get("DriverStatus") or []:
        if len(pair) == 2:
            lines.append(f"  {pair[0]}: {pair[1]}")
    lines += [
        f" Logging Driver: {info.get('LoggingDriver', '')}",
        f" Cgroup Driver: {info.get('CgroupDriver', '')}",
        f" Cgroup Version: {info.get('CgroupVersion', '')}",
    ]
    runtimes = info.get("Runtimes") or {}
    if runtimes:
        lines.append(" Runtimes: " + " ".join(sorted(runtimes)))
    if info.get("DefaultRuntime"):
        lines.append(f" Default Runtime: {info['DefaultRuntime']}")
    lines += [
        f" Kernel Version: {info.get('KernelVersion', '')}",
        f" Operating System: {info.get('OperatingSystem', '')}",
        f" OSType: {info.get('OSType', '')}",
        f" Architecture: {info.get('Architecture', '')}",
        f" CPUs: {info.get('NCPU', 0)}",
    ]
    mem = info.get("MemTotal")
    if mem:
        from dockyard.cli.formatting import bytes_size

        lines.append(f" Total Memory: {bytes_size(mem)}")
    lines += [
        f" Name: {info.get('Name', '')}",
        f" ID: {info.get('ID', '')}",
        f" Docker Root Dir: {info.get('DockerRootDir', '')}",
        f" Debug Mode: {'true' if info.get('Debug') else 'false'}",
        f" Experimental: {'true' if info.get('ExperimentalBuild') else 'false'}",
        f" Live Restore Enabled: {'true' if info.get('LiveRestoreEnabled') else 'false'}",
    ]
    cli.print("\n".join(lines))
    for w in info.get("Warnings") or []:
        cli.eprint(w)
    return 0


VERSION = Command("[OPTIONS]", "Show the dockyard version information", _version,
                  flags=(("f", "format", "string", _FORMAT_HELP),), args=("none",))
INFO = Command("[OPTIONS]", "Display system-wide information", _info,
               flags=(("f", "format", "string", _FORMAT_HELP),), aliases=("system info", "info"), args=("none",))
