"""Steps that only change the image's run config (ENV, LABEL, CMD, ...): pure transitions.

Each returns the new run config and the comment Docker records for the step
(`ENV GREETING=hi`, `CMD ["sh" "-c" "x"]`), from which the step's created_by
(`/bin/sh -c #(nop)  ENV GREETING=hi`) and cache key are made.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace

from dockyard.build import instructions as ins
from dockyard.build.golang import go_quote
from dockyard.engine.images_changes import DEFAULT_SHELL, expand_ports, merge_env
from dockyard.engine.signames import parse_signal
from dockyard.errors import InvalidArgument
from dockyard.oci.image_spec import Healthcheck, RunConfig

__all__ = ["apply_metadata", "go_quote_list", "shell_or_exec", "DEFAULT_SHELL", "workdir_path"]



def go_quote_list(words: tuple[str, ...] | list[str]) -> str:
    """Go's %q of a []string: ["a" "b"]."""
    return "[" + " ".join(go_quote(w) for w in words) + "]"


def shell_or_exec(command: tuple[str, ...], prepend_shell: bool, run: RunConfig) -> tuple[str, ...]:
    """A shell-form command runs through the stage's SHELL (default /bin/sh -c)."""
    if prepend_shell:
        return (*(run.shell or DEFAULT_SHELL), " ".join(command))
    return tuple(command)


def workdir_path(current: str, new: str) -> str:
    """WORKDIR relative to the previous one; always absolute and clean."""
    joined = posixpath.join("/", current or "/", new)
    return posixpath.normpath(joined).replace("//", "/") or "/"


def apply_metadata(run: RunConfig, inst: ins.Instruction, *, cmd_set: bool) -> tuple[RunConfig, str]:
    """(new run config, comment) for a metadata instruction, already expanded."""
    if isinstance(inst, ins.EnvInstruction):
        return replace(run, env=merge_env(run.env, list(inst.pairs))), "ENV " + " ".join(f"{k}={v}" for k, v in inst.pairs)
    if isinstance(inst, ins.LabelInstruction):
        labels = dict(run.labels)
        labels.update(dict(inst.pairs))
        return replace(run, labels=labels), "LABEL " + " ".join(f"{k}={v}" for k, v in inst.pairs)
    if isinstance(inst, ins.CmdInstruction):
        cmd = shell_or_exec(inst.command, inst.prepend_shell, run)
        return replace(run, cmd=cmd), "CMD " + go_quote_list(cmd)
    if isinstance(inst, ins.EntrypointInstruction):
        entrypoint = None if inst.command is None else shell_or_exec(inst.command, inst.prepend_shell, run)
        # An ENTRYPOINT drops the CMD inherited from the base image, not one set in this stage.
        cmd = run.cmd if cmd_set else None
        return replace(run, entrypoint=entrypoint, cmd=cmd), "ENTRYPOINT " + go_quote_list(entrypoint or [])
    if isinstance(inst, ins.ExposeInstruction):
        added = [p for word in inst.ports for p in expand_ports(word)]
        ports = list(run.exposed_ports) + [p for p in dict.fromkeys(added) if p not in run.exposed_ports]
        return replace(run, exposed_ports=tuple(ports)), "EXPOSE " + " ".join(added)
    if isinstance(inst, ins.VolumeInstruction):
        volumes = list(run.volumes)
        for v in inst.paths:
            if not v.strip():
                raise InvalidArgument("VOLUME specified can not be an empty string")
            if v not in volumes:
                volumes.append(v)
        return replace(run, volumes=tuple(volumes)), "VOLUME " + go_quote_list(list(inst.paths))
    if isinstance(inst, ins.UserInstruction):
        return replace(run, user=inst.user), "USER " + inst.user
    if isinstance(inst, ins.StopsignalInstruction):
        parse_signal(inst.signal)   # Docker's "Invalid signal: X" for a bad one
        return replace(run, stop_signal=inst.signal), "STOPSIGNAL " + inst.signal
    if isinstance(inst, ins.ShellInstruction):
        return replace(run, shell=tuple(inst.shell)), "SHELL " + go_quote_list(list(inst.shell))
    if isinstance(inst, ins.OnbuildInstruction):
        return replace(run, on_build=(*run.on_build, inst.expression)), "ONBUILD " + inst.expression
    if isinstance(inst, ins.HealthcheckInstruction):
        if inst.test is None:
            health = Healthcheck(test=("NONE",))
        else:
            health = Healthcheck(test=tuple(inst.test), interval=inst.interval, timeout=inst.timeout,
                                 start_period=inst.start_period, start_interval=inst.start_interval,
                                 retries=inst.retries)
        return replace(run, healthcheck=health), "HEALTHCHECK " + _health_comment(health)
    raise TypeError(f"not a metadata instruction: {type(inst).__name__}")


def _health_comment(h: Healthcheck) -> str:
    # Docker records %q of the struct; a readable equivalent is enough for the cache key
    return (f"&{{{go_quote_list(list(h.test))} {h.interval} {h.timeout} {h.start_period} "
            f"{h.start_interval} {h.retries}}}")
