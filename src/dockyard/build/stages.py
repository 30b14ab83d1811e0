"""One build's run: the stages the target needs, and each instruction as a step.

Every step ends as an image whose parent is the step before (see state.py); the cache
is asked first (cache.py). Metadata instructions only change the run config
(metadata.py); RUN runs in a container (run_step.py); COPY, ADD and WORKDIR write into
the image's layers mounted under a fresh upper dir (rootfs.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard import errors
from dockyard.build import copy as build_copy
from dockyard.build import instructions as ins
from dockyard.build.metadata import DEFAULT_SHELL, apply_metadata, shell_or_exec, workdir_path
from dockyard.build.output import BuildOutput
from dockyard.build.parser import chomp_heredoc, parse, parse_heredoc
from dockyard.build.rootfs import scratch_rootfs
from dockyard.build.run_step import RunRequest, run_container
from dockyard.build.shell_lex import ShellLex
from dockyard.build.state import (
    NOP,
    StageState,
    commit_step,
    from_image,
    from_scratch,
    load_cached,
    probe_config,
)
from dockyard.engine.images import host_platform
from dockyard.engine.images_model import ImageRecord, short_id
from dockyard.oci.image_spec import RunConfig
from dockyard.securejoin import resolve_in_root
from dockyard.store import references

if TYPE_CHECKING:
    from dockyard.build.executor import Builder, PreparedBuild

__all__ = ["BuildRun", "StepFailed", "stage_index", "PREDEFINED_ARGS"]

# Usable in RUN without an ARG line, and never recorded in the image (as Docker).
PREDEFINED_ARGS = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                             "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"})
METADATA = (ins.EnvInstruction, ins.LabelInstruction, ins.CmdInstruction, ins.EntrypointInstruction,
            ins.ExposeInstruction, ins.VolumeInstruction, ins.UserInstruction, ins.StopsignalInstruction,
            ins.ShellInstruction, ins.OnbuildInstruction, ins.HealthcheckInstruction)


class StepFailed(errors.DockyardError):
    """A step failed after the stream started: reported as errorDetail (code = RUN's exit code)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


def stage_index(df: ins.Dockerfile, name: str) -> int | None:
    for i, stage in enumerate(df.stages):
        if stage.name and stage.name == name.lower():
            return i
    return None


class BuildRun:
    """One build's progress: stages done, the step counter, containers to clean up."""

    def __init__(self, builder: Builder, prepared: PreparedBuild, out: BuildOutput) -> None:
        self.b = builder
        self.p = prepared
        self.opts = prepared.options
        self.out = out
        self.df = prepared.dockerfile
        self.lex = ShellLex(self.df.escape or "\\")
        self.done: dict[int, StageState] = {}
        self.step = 0
        self.total = 0
        self.consumed_args: set[str] = set()
        self.leftover_containers: list[str] = []
        self.os_name, self.arch = host_platform()

    # ------------------------------------------------------------------ plan
    def _meta_env(self) -> dict[str, str]:
        return {k: v for k, v in self.meta_args.items() if v is not None}

    def _needed_stages(self, target: int) -> list[int]:
        needed: set[int] = set()
        todo = [target]
        while todo:
            i = todo.pop()
            if i in needed:
                continue
            needed.add(i)
            stage = self.df.stages[i]
            base = self.lex.process_word(stage.base, self._meta_env())
            dep = self._stage_ref(base, before=i)
            if dep is not None:
                todo.append(dep)
            for cmd in stage.commands:
                src = getattr(cmd, "from_", "")
                if src:
                    dep = self._stage_ref(self.lex.process_word(src, self._meta_env()), before=i)
                    if dep is not None:
                        todo.append(dep)
        return sorted(needed)

    def _stage_ref(self, name: str, before: int) -> int | None:
        """A FROM / --from naming an earlier stage, by name or index."""
        lowered = name.lower()
        for j in range(before):
            if self.df.stages[j].name and self.df.stages[j].name == lowered:
                return j
        if name.isdigit() and int(name) < before:
            return int(name)
        return None

    # ------------------------------------------------------------------ run
    async def execute(self) -> str:
        self.meta_args: dict[str, str | None] = {}
        target = stage_index(self.df, self.opts.target) if self.opts.target else len(self.df.stages) - 1
        assert target is not None
        for arg in self.df.meta_args:   # meta ARGs may be used by FROM; evaluate before planning
            for name, default in arg.args:
                value = self.opts.build_args.get(name) if name in self.opts.build_args else default
                if value is not None and name not in self.opts.build_args:
                    value = self.lex.process_word(value, self._meta_env())
                self.meta_args[name] = value
        stages = self._needed_stages(target)
        self.total = len(self.df.meta_args) + sum(1 + len(self.df.stages[i].commands) for i in stages) \
            + (1 if self.opts.labels else 0)
        for warning in self.df.warnings:
            self.out.stream(f"[WARNING]: {warning}\n")
        if self.df.warnings:
            self.out.stream("[WARNING]: Empty continuation lines will become errors in a future release.\n")
        for arg in self.df.meta_args:
            self._print_step(arg.original)
            self.consumed_args.update(name for name, _ in arg.args)
        state: StageState | None = None
        for i in stages:
            state = await self._build_stage(i, last=i == target)
            self.done[i] = state
            self.out.aux({"ID": state.image_id})
        assert state is not None
        if not state.image_id:   # FROM scratch and nothing else: still an image
            await self._commit_metadata(state, state.run, "")
            self.out.aux({"ID": state.image_id})
        self._warn_unused_args()
        image_id = state.image_id
        if self.out.quiet:
            self.out.always(image_id + "\n")
        self.out.stream(f"Successfully built {short_id(image_id)}\n")
        if self.p.tags:
            await asyncio.to_thread(self.b.images.add_tags, image_id, self.p.tags)
            for tag in self.p.tags:
                self.out.stream(f"Successfully tagged {references.parse(tag).familiar}\n")
        return image_id

    def _print_step(self, original: str) -> None:
        self.step += 1
        self.out.step(self.step, self.total, original)

    def _warn_unused_args(self) -> None:
        unused = sorted(k for k in self.opts.build_args
                        if k not in self.consumed_args and k not in PREDEFINED_ARGS)
        if unused:
            self.out.stream(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed\n")

    async def _build_stage(self, index: int, last: bool) -> StageState:
        stage = self.df.stages[index]
        self._print_step(stage.original)
        state = await self._from(stage, index)
        self.out.stream(f" ---> {short_id(state.image_id)}\n" if state.image_id else " ---> \n")
        if state.run.on_build:
            await self._run_triggers(state)
        for cmd in stage.commands:
            self._print_step(cmd.original)
            await self._dispatch(state, cmd)
            self.out.result(state.image_id)
        if last and self.opts.labels:
            labels = tuple(sorted(self.opts.labels.items()))
            self._print_step("LABEL " + " ".join(f'"{k}"=\'{v}\'' for k, v in labels))
            run, comment = apply_metadata(state.run, ins.LabelInstruction(line=0, original="", pairs=labels),
                                          cmd_set=state.cmd_set)
            await self._commit_metadata(state, run, comment)
            self.out.result(state.image_id)
        return state

    async def _from(self, stage: ins.Stage, index: int) -> StageState:
        base = self.lex.process_word(stage.base, self._meta_env())
        if not base:
            raise StepFailed("base name (" + stage.base + ") should not be blank")
        dep = self._stage_ref(base, before=index)
        if dep is not None:
            src = self.done[dep]
            record = await asyncio.to_thread(self.b.images.resolve, src.image_id) if src.image_id else None
            if record is None:
                return from_scratch(stage.name, self.os_name, self.arch)
            return await asyncio.to_thread(from_image, stage.name, self.b.images, record)
        if base.lower() == "scratch":
            return from_scratch(stage.name, self.os_name, self.arch)
        record = await asyncio.to_thread(self._resolve_image, base)
        return await asyncio.to_thread(from_image, stage.name, self.b.images, record)

    def _resolve_image(self, name: str) -> ImageRecord:
        try:
            return self.b.images.resolve(name)
        except errors.NotFound:
            repo = references.parse_normalized(name).familiar_name
            raise StepFailed(f"pull access denied for {repo}, repository does not exist or may require "
                             "'docker login': denied: requested access to the resource is denied") from None

    async def _run_triggers(self, state: StageState) -> None:
        triggers = list(state.run.on_build)
        self.out.stream(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) != 1 else ''}\n")
        state.run = replace(state.run, on_build=())   # the child image does not inherit them
        for text in triggers:
            result = parse(text, name=None)
            for node in result.nodes:
                await self._dispatch(state, ins.parse_instruction(node))

    # ------------------------------------------------------------------ one step
    def _env(self, state: StageState) -> dict[str, str]:
        """What ${VAR} sees: the stage's ARGs with values, overridden by its ENV."""
        env = {k: v for k, v in state.args.items() if v is not None}
        env.update(dict(e.split("=", 1) if "=" in e else (e, "") for e in state.run.env))
        return env

    async def _dispatch(self, state: StageState, cmd: ins.Instruction) -> None:
        if isinstance(cmd, ins.ArgInstruction):
            self._declare_args(state, cmd)
            await self._commit_metadata(state, state.run, "ARG " + " ".join(
                name if value is None else f"{name}={value}" for name, value in cmd.args))
            return
        if not isinstance(cmd, (ins.RunInstruction, ins.CmdInstruction, ins.EntrypointInstruction)):
            env = self._env(state)
            cmd = cmd.expand(lambda w: self.lex.process_word(w, env), lambda w: self.lex.process_words(w, env))
        if isinstance(cmd, METADATA):
            run, comment = apply_metadata(state.run, cmd, cmd_set=state.cmd_set)
            if isinstance(cmd, ins.CmdInstruction):
                state.cmd_set = True
            await self._commit_metadata(state, run, comment)
        elif isinstance(cmd, ins.MaintainerInstruction):
            await self._commit_metadata(state, state.run, "MAINTAINER " + cmd.name, author=cmd.name)
        elif isinstance(cmd, ins.WorkdirInstruction):
            await self._workdir(state, cmd)
        elif isinstance(cmd, ins.RunInstruction):
            await self._run(state, cmd)
        elif isinstance(cmd, (ins.CopyInstruction, ins.AddInstruction)):
            await self._copy(state, cmd)
        else:
            raise StepFailed(f"unsupported instruction: {cmd.original}")

    def _declare_args(self, state: StageState, cmd: ins.ArgInstruction) -> None:
        env = self._env(state)
        for name, default in cmd.args:
            self.consumed_args.add(name)
            if name in self.opts.build_args:
                value = self.opts.build_args[name]
            elif default is not None:
                value = self.lex.process_word(default, env)
            else:
                value = self.meta_args.get(name)   # `ARG NAME` in a stage takes the global value
            state.args[name] = value

    async def _probe(self, state: StageState, container_config: dict[str, Any]) -> bool:
        """A cached image for this step: move onto it and say so."""
        if self.opts.no_cache:
            return False
        hit = await asyncio.to_thread(self.b.cache.probe, state.image_id, container_config)
        if hit is None:
            return False
        await asyncio.to_thread(load_cached, self.b.images, state, hit)
        self.out.stream(" ---> Using cache\n")
        return True

    async def _commit_metadata(self, state: StageState, run: RunConfig, comment: str, *,
                               author: str | None = None) -> None:
        shell = list(run.shell or DEFAULT_SHELL)
        container_config = probe_config(run, [*shell, NOP, comment] if comment else [*shell, NOP])
        if await self._probe(state, container_config):
            return
        await asyncio.to_thread(commit_step, self.b.images, state, run, container_config, None, author=author)

    async def _workdir(self, state: StageState, cmd: ins.WorkdirInstruction) -> None:
        path = workdir_path(state.run.working_dir, cmd.path)
        run = replace(state.run, working_dir=path)
        shell = list(run.shell or DEFAULT_SHELL)
        container_config = probe_config(run, [*shell, NOP, f"WORKDIR {path}"])
        if await self._probe(state, container_config):
            return

        def make() -> None:
            with scratch_rootfs(self._lowerdirs(state), self.b.scratch_dir) as fs:
                target = resolve_in_root(str(fs.merged), path)
                os.makedirs(target, 0o755, exist_ok=True)
                fs.unmount()
                layer = self.b.images.commit_layer(fs.upper, fs.lowerdirs)
                commit_step(self.b.images, state, run, container_config, layer)

        await asyncio.to_thread(make)

    def _lowerdirs(self, state: StageState) -> list[str]:
        return self.b.images.rootfs_lowerdirs(state.image_id) if state.image_id else []

    # ------------------------------------------------------------------ RUN
    def _run_env(self, state: StageState) -> tuple[list[str], list[str]]:
        """(the container's env, the `|N K=V` args that key the cache), as Docker."""
        env_keys = {e.partition("=")[0] for e in state.run.env}
        args = {k: v for k, v in state.args.items() if v is not None}
        for k in PREDEFINED_ARGS:
            if k in self.opts.build_args and self.opts.build_args[k] is not None:
                args.setdefault(k, self.opts.build_args[k] or "")
        visible = sorted((k, v) for k, v in args.items() if k not in env_keys)
        env = [*state.run.env, *(f"{k}={v}" for k, v in visible)]
        keyed = sorted(f"{k}={v}" for k, v in visible if k not in PREDEFINED_ARGS)
        return env, keyed

    async def _run(self, state: StageState, cmd: ins.RunInstruction) -> None:
        for flag in cmd.flags_used:
            if flag not in ("network",):   # what the classic builder cannot do; --network it can
                raise StepFailed(f"the --{flag} option requires BuildKit. Refer to "
                                 "https://docs.docker.com/go/buildkit/ to learn how to build images with "
                                 "BuildKit enabled")
        if not state.image_id:
            raise StepFailed("no image to run the command in: the stage has no filesystem yet (FROM scratch)")
        command = list(_with_heredocs(cmd, state.run))
        env, keyed_args = self._run_env(state)
        saved = [f"|{len(keyed_args)}", *keyed_args, *command] if keyed_args else command
        container_config = probe_config(state.run, saved, clear_entrypoint=True)
        if await self._probe(state, container_config):
            return
        network = cmd.network if cmd.network not in ("", "default") else self.opts.network_mode
        if network in ("", "default"):
            network = self.b.default_network
        req = RunRequest(image_id=state.image_id, cmd=command, env=env, working_dir=state.run.working_dir,
                         user=state.run.user, network_mode=network, extra_hosts=self.opts.extra_hosts,
                         memory=self.opts.memory, shm_size=self.opts.shm_size)
        cid = ""

        def started(container_id: str) -> None:
            nonlocal cid
            cid = container_id
            self.out.stream(f" ---> Running in {container_id[:12]}\n")

        def output(data: bytes) -> None:
            self.out.stream(data.decode("utf-8", "replace"))

        try:
            cid, code = await run_container(self.b.containers, req, output, started)
        except asyncio.CancelledError:   # the client went away: the step's container goes too
            if cid:
                await asyncio.shield(self._remove_container(cid))
            raise
        except errors.DockyardError as e:
            if cid:
                self.leftover_containers.append(cid)
            raise StepFailed(e.message) from None
        if code != 0:
            if cid:
                self.leftover_containers.append(cid)
            raise StepFailed(f"The command '{' '.join(command)}' returned a non-zero code: {code}", code)
        try:
            upper = self.b.paths.container(cid) / "rw" / "upper"
            lowers = self._lowerdirs(state)

            def commit() -> None:
                layer = self.b.images.commit_layer(upper, lowers)
                commit_step(self.b.images, state, state.run, container_config, layer)

            await asyncio.to_thread(commit)
        finally:
            if self.opts.remove or self.opts.force_remove:
                await self._remove_container(cid)
            else:
                self.leftover_containers.append(cid)

    async def _remove_container(self, cid: str) -> None:
        with contextlib.suppress(errors.DockyardError):
            await self.b.containers.remove(cid, force=True, volumes=True)   # a VOLUME's anonymous volume too
            self.out.stream(f"Removing intermediate container {cid[:12]}\n")

    # ------------------------------------------------------------------ COPY / ADD
    async def _copy(self, state: StageState, cmd: ins.CopyInstruction | ins.AddInstruction) -> None:
        name = "ADD" if isinstance(cmd, ins.AddInstruction) else "COPY"
        from_ = getattr(cmd, "from_", "")
        run = state.run
        if getattr(cmd, "parents", False) or cmd.excludes:
            flag = "--parents" if getattr(cmd, "parents", False) else "--exclude"
            raise StepFailed(f"dockerfile parse error on line {cmd.line}: unknown flag: {flag}")
        if cmd.heredocs and cmd.sources:
            raise StepFailed(f"{name} of heredocs and files in one instruction is not supported; split it")
        try:
            chmod = int(cmd.chmod, 8) if cmd.chmod else None
        except ValueError:
            raise StepFailed(f"invalid chmod parameter: {cmd.chmod!r}: use an octal mode such as 0755") from None
        checksum = getattr(cmd, "checksum", "") or None
        with contextlib.ExitStack() as stack:
            src_root = await asyncio.to_thread(self._copy_source, stack, state, cmd, from_)
            sources = [doc.name for doc in cmd.heredocs] or list(cmd.sources)
            downloads = Path(tempfile.mkdtemp(prefix="add-", dir=self.b.scratch_dir))
            stack.callback(shutil.rmtree, downloads, True)
            if name == "ADD":   # a URL is fetched once, for its checksum, and kept for the copy
                digest = await asyncio.to_thread(lambda: build_copy.add_checksum(
                    src_root, sources, checksum=checksum, download_dir=downloads, dest=cmd.dest))
            elif not from_ and not cmd.heredocs:   # the context never changes: hash it once
                memo = self.p.context.checksums
                key = ("COPY", *sources)
                if key not in memo:
                    memo[key] = await asyncio.to_thread(build_copy.source_checksum, src_root, sources)
                digest = memo[key]
            else:
                digest = await asyncio.to_thread(build_copy.source_checksum, src_root, sources,
                                                 from_context=not from_)
            opts = "".join(f"--{k}={v} " for k, v in (("chown", cmd.chown), ("chmod", cmd.chmod)) if v)
            comment = f"{name} {opts}{digest} in {cmd.dest} "
            shell = list(run.shell or DEFAULT_SHELL)
            container_config = probe_config(run, [*shell, NOP, comment])
            if await self._probe(state, container_config):
                return

            def make() -> None:
                with scratch_rootfs(self._lowerdirs(state), self.b.scratch_dir) as fs:
                    chown = build_copy.resolve_chown(fs.merged, cmd.chown) if cmd.chown else None
                    if name == "ADD":
                        build_copy.add_into(src_root, sources, cmd.dest, fs.merged, workdir=run.working_dir or "/",
                                            chown=chown, chmod=chmod, checksum=checksum, download_dir=downloads)
                    else:
                        build_copy.copy_into(src_root, sources, cmd.dest, fs.merged, workdir=run.working_dir or "/",
                                             chown=chown, chmod=chmod, from_context=not from_)
                    fs.unmount()
                    layer = self.b.images.commit_layer(fs.upper, fs.lowerdirs)
                    commit_step(self.b.images, state, run, container_config, layer)

            await asyncio.to_thread(make)

    def _copy_source(self, stack: contextlib.ExitStack, state: StageState,
                     cmd: ins.CopyInstruction | ins.AddInstruction, from_: str) -> Path:
        """Where COPY reads: the context, heredocs, or another stage's / image's filesystem."""
        if cmd.heredocs:
            tmp = Path(tempfile.mkdtemp(prefix="heredoc-", dir=self.b.scratch_dir))
            stack.callback(shutil.rmtree, tmp, True)
            env = self._env(state)
            raw = ShellLex(self.df.escape or "\\", raw_quotes=True, raw_escapes=True)   # quotes stay text
            for doc in cmd.heredocs:
                content = raw.process_word(doc.content, env) if doc.expand else doc.content
                (tmp / doc.name).write_text(content)
            return tmp
        if not from_:
            return self.p.context_dir
        index = self._stage_ref(from_, before=len(self.df.stages))
        if index is not None and index in self.done:
            image_id = self.done[index].image_id
            lowers = self.b.images.rootfs_lowerdirs(image_id) if image_id else []
        else:
            record = self._resolve_image(from_)
            lowers = self.b.images.rootfs_lowerdirs(record.id)
        fs = stack.enter_context(scratch_rootfs(lowers, self.b.scratch_dir))
        return fs.merged

    async def cleanup(self) -> None:
        if self.opts.force_remove:
            for cid in self.leftover_containers:
                await self._remove_container(cid)
        self.p.close()


def _with_heredocs(cmd: ins.RunInstruction, run: RunConfig) -> tuple[str, ...]:
    """The command RUN executes. A RUN that is only a heredoc runs the heredoc as the script;
    otherwise the heredoc bodies follow the command line and the shell reads them itself."""
    if not cmd.heredocs:
        return shell_or_exec(cmd.command, cmd.prepend_shell, run)
    shell = run.shell or DEFAULT_SHELL
    text = " ".join(cmd.command)
    bodies = [chomp_heredoc(doc.content) if doc.chomp else doc.content for doc in cmd.heredocs]
    if len(cmd.heredocs) == 1 and parse_heredoc(text.strip()) is not None:
        return (*shell, bodies[0])
    return (*shell, text + "\n" + "".join(f"{body}{doc.name}\n" for body, doc in zip(bodies, cmd.heredocs,
                                                                                      strict=True)))
