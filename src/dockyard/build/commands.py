"""The typed Dockerfile instructions (buildkit's `instructions` command types), as frozen data.

Each holds the *raw* words as written. `expand(word, words)` returns a copy with
variables expanded exactly where Docker expands them before running the instruction:
ADD, ARG, COPY, ENV, EXPOSE (into several words), FROM (base and platform, with the
global ARGs only), LABEL, STOPSIGNAL, USER, VOLUME and WORKDIR. RUN, CMD, ENTRYPOINT,
SHELL and HEALTHCHECK are left to the shell that runs them; ONBUILD and MAINTAINER
are stored as written; `COPY --from` is never expanded (buildkit refuses a variable there).
`word(text) -> str` is normally `ShellLex(escape).process_word(text, env)` and
`words(text) -> list[str]` its `process_words`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import ClassVar, Self

from dockyard.build.parser import Heredoc

__all__ = [
    "Word", "Words", "FromInstruction", "RunInstruction", "CopyInstruction", "AddInstruction",
    "CmdInstruction", "EntrypointInstruction", "EnvInstruction", "LabelInstruction", "ArgInstruction",
    "ExposeInstruction", "VolumeInstruction", "UserInstruction", "WorkdirInstruction",
    "HealthcheckInstruction", "ShellInstruction", "StopsignalInstruction", "OnbuildInstruction",
    "MaintainerInstruction", "Instruction", "Stage", "Dockerfile",
]

Word = Callable[[str], str]
Words = Callable[[str], list[str]]


@dataclass(frozen=True, kw_only=True)
class _Base:
    line: int = 0          # 1-based line the instruction starts at
    original: str = ""     # as Docker prints it after "Step N/M : "
    keyword: ClassVar[str] = ""

    def expand(self, word: Word, words: Words) -> Self:
        return self  # nothing Docker expands before running it


def _pairs(pairs: tuple[tuple[str, str], ...], word: Word) -> tuple[tuple[str, str], ...]:
    return tuple((word(k), word(v)) for k, v in pairs)


@dataclass(frozen=True)
class FromInstruction(_Base):
    base: str
    stage_name: str        # lower-cased, "" when there is no AS
    platform: str          # --platform, "" when not given
    keyword: ClassVar[str] = "from"

    def expand(self, word: Word, words: Words) -> Self:
        # Docker expands these with the global (before-FROM) ARGs only.
        return replace(self, base=word(self.base), platform=word(self.platform) if self.platform else "")


@dataclass(frozen=True)
class RunInstruction(_Base):
    command: tuple[str, ...]          # exec form: argv; shell form: one string for the shell
    prepend_shell: bool               # True for the shell form
    heredocs: tuple[Heredoc, ...]     # raw bodies; strip tabs where chomp (parser.chomp_heredoc)
    network: str                      # "default" | "none" | "host"
    mounts: tuple[str, ...]           # --mount values as written (CSV)
    security: str                     # "sandbox" | "insecure"
    devices: tuple[str, ...] = ()
    flags_used: tuple[str, ...] = ()  # names of the flags written ("mount", ...), in order
    keyword: ClassVar[str] = "run"


@dataclass(frozen=True)
class CopyInstruction(_Base):
    sources: tuple[str, ...]          # paths; heredoc sources are in `heredocs`
    dest: str
    from_: str
    chown: str
    chmod: str
    link: bool
    parents: bool
    excludes: tuple[str, ...]
    heredocs: tuple[Heredoc, ...]     # inline files: name is the file name, content already chomped
    keyword: ClassVar[str] = "copy"

    def expand(self, word: Word, words: Words) -> Self:
        chown, chmod = word(self.chown), word(self.chmod)
        sources = tuple(word(s) for s in self.sources)
        return replace(self, chown=chown, chmod=chmod, sources=sources, dest=word(self.dest))


@dataclass(frozen=True)
class AddInstruction(_Base):
    sources: tuple[str, ...]
    dest: str
    chown: str
    chmod: str
    link: bool
    checksum: str
    keep_git_dir: bool
    heredocs: tuple[Heredoc, ...]
    excludes: tuple[str, ...] = ()
    unpack: bool | None = None        # --unpack; None when not given (archives unpack, URLs do not)
    keyword: ClassVar[str] = "add"

    def expand(self, word: Word, words: Words) -> Self:
        chown, chmod, checksum = word(self.chown), word(self.chmod), word(self.checksum)
        sources = tuple(word(s) for s in self.sources)
        return replace(self, chown=chown, chmod=chmod, checksum=checksum, sources=sources,
                       dest=word(self.dest))


@dataclass(frozen=True)
class CmdInstruction(_Base):
    command: tuple[str, ...]
    prepend_shell: bool
    keyword: ClassVar[str] = "cmd"


@dataclass(frozen=True)
class EntrypointInstruction(_Base):
    command: tuple[str, ...] | None   # None for an empty ENTRYPOINT (it clears the inherited one)
    prepend_shell: bool
    keyword: ClassVar[str] = "entrypoint"


@dataclass(frozen=True)
class EnvInstruction(_Base):
    pairs: tuple[tuple[str, str], ...]
    keyword: ClassVar[str] = "env"

    def expand(self, word: Word, words: Words) -> Self:
        return replace(self, pairs=_pairs(self.pairs, word))


@dataclass(frozen=True)
class LabelInstruction(_Base):
    pairs: tuple[tuple[str, str], ...]
    keyword: ClassVar[str] = "label"

    def expand(self, word: Word, words: Words) -> Self:
        return replace(self, pairs=_pairs(self.pairs, word))


@dataclass(frozen=True)
class ArgInstruction(_Base):
    args: tuple[tuple[str, str | None], ...]   # (name, default or None)
    keyword: ClassVar[str] = "arg"

    def expand(self, word: Word, words: Words) -> Self:
        return replace(self, args=tuple((word(k), None if v is None else word(v)) for k, v in self.args))


@dataclass(frozen=True)
class ExposeInstruction(_Base):
    ports: tuple[str, ...]           # sorted as buildkit sorts them, before expansion
    keyword: ClassVar[str] = "expose"

    def expand(self, word: Word, words: Words) -> Self:
        # the one instruction where one word may expand into several ("$PORTS" -> 80 443)
        return replace(self, ports=tuple(w for port in self.ports for w in words(port)))


@dataclass(frozen=True)
class VolumeInstruction(_Base):
    paths: tuple[str, ...]
    keyword: ClassVar[str] = "volume"

    def expand(self, word: Word, words: Words) -> Self:
        return replace(self, paths=tuple(word(p) for p in self.paths))


@dataclass(frozen=True)
class UserInstruction(_Base):
    user: str
    keyword: ClassVar[str] = "user"

    def expand(self, word: Word, words: Words) -> Self:
        return replace(self, user=word(self.user))


@dataclass(frozen=True)
class WorkdirInstruction(_Base):
    path: str
    keyword: ClassVar[str] = "workdir"

    def expand(self, word: Word, words: Words) -> Self:
        return replace(self, path=word(self.path))


@dataclass(frozen=True)
class HealthcheckInstruction(_Base):
    test: tuple[str, ...] | None     # ("CMD", argv...) | ("CMD-SHELL", "cmd"); None for NONE
    interval: int                    # nanoseconds, 0 = inherit/default
    timeout: int
    start_period: int
    start_interval: int
    retries: int
    keyword: ClassVar[str] = "healthcheck"


@dataclass(frozen=True)
class ShellInstruction(_Base):
    shell: tuple[str, ...]
    keyword: ClassVar[str] = "shell"


@dataclass(frozen=True)
class StopsignalInstruction(_Base):
    signal: str
    keyword: ClassVar[str] = "stopsignal"

    def expand(self, word: Word, words: Words) -> Self:
        return replace(self, signal=word(self.signal))


@dataclass(frozen=True)
class OnbuildInstruction(_Base):
    expression: str                  # the trigger as stored in the image ("RUN echo hi")
    keyword: ClassVar[str] = "onbuild"


@dataclass(frozen=True)
class MaintainerInstruction(_Base):
    name: str
    keyword: ClassVar[str] = "maintainer"


Instruction = (FromInstruction | RunInstruction | CopyInstruction | AddInstruction | CmdInstruction
               | EntrypointInstruction | EnvInstruction | LabelInstruction | ArgInstruction
               | ExposeInstruction | VolumeInstruction | UserInstruction | WorkdirInstruction
               | HealthcheckInstruction | ShellInstruction | StopsignalInstruction | OnbuildInstruction
               | MaintainerInstruction)


@dataclass(frozen=True)
class Stage:
    name: str                        # lower-cased AS name, "" when unnamed
    base: str                        # raw; expand with the global ARGs (see expand)
    platform: str
    line: int
    original: str                    # the FROM line as Docker prints it
    commands: tuple[Instruction, ...]

    def expand(self, word: Word, words: Words) -> Self:
        """The stage with its base image and platform expanded (word over the global ARGs)."""
        return replace(self, base=word(self.base), platform=word(self.platform) if self.platform else "")


@dataclass(frozen=True)
class Dockerfile:
    meta_args: tuple[ArgInstruction, ...]     # the ARGs before the first FROM
    stages: tuple[Stage, ...]
    directives: Mapping[str, str]
    escape: str
    warnings: tuple[str, ...]
