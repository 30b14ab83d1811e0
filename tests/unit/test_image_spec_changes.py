"""`docker import -c` change lines and image filter helpers (engine/images_changes.py, images_filters.py)."""

import signal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dockyard.engine.images_changes import apply_changes, expand_ports, parse_duration
from dockyard.engine.images_filters import Filters, get_timestamp
from dockyard.engine.signames import parse_signal
from dockyard.errors import InvalidArgument
from dockyard.oci.image_spec import Healthcheck, RunConfig


def changes(*lines: str) -> RunConfig:
    return apply_changes(RunConfig(), list(lines))


def test_cmd_and_entrypoint_forms() -> None:
    assert changes('CMD ["sh"]').cmd == ("sh",)
    assert changes("CMD echo hi there").cmd == ("/bin/sh", "-c", "echo hi there")
    assert changes('cmd ["a", "b c"]').cmd == ("a", "b c")
    assert changes('ENTRYPOINT ["/init"]').entrypoint == ("/init",)
    assert changes("ENTRYPOINT []").entrypoint == ()
    cfg = changes('CMD ["x"]', 'ENTRYPOINT ["/init"]')
    assert cfg.cmd == ("x",) and cfg.entrypoint == ("/init",)
    base = RunConfig(cmd=("inherited",))
    assert apply_changes(base, ['ENTRYPOINT ["/e"]']).cmd is None


def test_env_and_label() -> None:
    cfg = changes('ENV A=1 B="two words" C=x\\ y', "ENV D legacy value  here", "ENV A=3", "ENV E=$A-${B}")
    assert cfg.env == ("A=3", "B=two words", "C=x y", "D=legacy value  here", "E=3-two words")
    cfg = changes('LABEL a=b "c d"=e', "LABEL a=z")
    assert cfg.labels == {"a": "z", "c d": "e"}
    assert changes("ENV X='$NOPE'").env == ("X=$NOPE",)


def test_expose_user_volume_workdir_stopsignal() -> None:
    cfg = changes("EXPOSE 80 53/udp 8000-8001", "EXPOSE 80/tcp", "USER nobody", 'VOLUME ["/data", "/x"]',
                  "VOLUME /y /z", "WORKDIR /app", "WORKDIR sub/../dir", "STOPSIGNAL SIGQUIT")
    assert cfg.exposed_ports == ("80/tcp", "53/udp", "8000/tcp", "8001/tcp")
    assert cfg.user == "nobody"
    assert cfg.volumes == ("/data", "/x", "/y", "/z")
    assert cfg.working_dir == "/app/dir"
    assert cfg.stop_signal == "SIGQUIT"


def test_healthcheck_and_onbuild() -> None:
    cfg = changes("HEALTHCHECK --interval=5s --retries=2 CMD curl -f http://x/ || exit 1")
    assert cfg.healthcheck == Healthcheck(("CMD-SHELL", "curl -f http://x/ || exit 1"), interval=5 * 10**9, retries=2)
    assert changes('HEALTHCHECK CMD ["true"]').healthcheck == Healthcheck(("CMD", "true"))
    assert changes("HEALTHCHECK NONE").healthcheck == Healthcheck(("NONE",))
    assert changes("ONBUILD run echo hi").on_build == ("RUN echo hi",)


@pytest.mark.parametrize("line, message", [
    ("RUN echo hi", "run is not a valid change command"),
    ("FROM busybox", "from is not a valid change command"),
    ("STOPSIGNAL NOPE", "Invalid signal: NOPE"),
    ("EXPOSE abc", "invalid containerPort: abc"),
    ("EXPOSE 80/xyz", "invalid proto: xyz"),
    ("ENV", "ENV requires at least one argument"),
    ("ENV =x", "ENV names can not be blank"),
    ("ENV onlyname", "ENV must have two arguments"),
    ("USER", "USER requires exactly one argument"),
    ("ONBUILD ONBUILD RUN x", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("HEALTHCHECK --bogus=1 CMD x", "Unknown flag: bogus"),
    ("ENV A=\"unterminated", "unexpected end of statement while looking for matching double-quote"),
])
def test_bad_changes(line: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        changes(line)
    assert str(exc.value) == message


def test_invalid_command_is_reported_before_applying_anything() -> None:
    with pytest.raises(InvalidArgument, match="copy is not a valid change command"):
        changes('CMD ["ok"]', "COPY a b")


def test_helpers() -> None:
    assert parse_duration("1m30s") == 90 * 10**9
    assert parse_duration("500ms") == 5 * 10**8
    with pytest.raises(InvalidArgument):
        parse_duration("5 s")
    assert parse_signal("9") == 9 and parse_signal("term") == 15 and parse_signal("SIGKILL") == 9
    assert parse_signal("RTMIN+1") > 0
    assert expand_ports("1-3/udp") == ["1/udp", "2/udp", "3/udp"]


def test_filters() -> None:
    f = Filters({"label": ["a", "b=c"], "dangling": ["true"]})
    f.validate({"label", "dangling"})
    with pytest.raises(InvalidArgument, match="^invalid filter 'label'$"):
        f.validate({"dangling"})
    assert f.bool_or_default("dangling", False) is True
    assert f.match_kv_list("label", {"a": "x", "b": "c"})
    assert not f.match_kv_list("label", {"a": "x", "b": "d"})
    assert not f.match_kv_list("label", {"b": "c"})
    with pytest.raises(InvalidArgument, match=r"^invalid filter 'dangling=\[maybe\]'$"):
        Filters({"dangling": ["maybe"]}).bool_or_default("dangling", False)


def test_timestamps() -> None:
    assert get_timestamp("1700000000", now=0) == 1700000000
    assert get_timestamp("10m", now=1000.0) == 400.0
    assert get_timestamp("2024-01-01") == 1704067200
    assert get_timestamp("2024-01-01T00:00:00Z") == 1704067200
    with pytest.raises(InvalidArgument):
        get_timestamp("next tuesday")


@given(st.lists(st.text(max_size=40), max_size=4))
def test_changes_never_crash(lines: list[str]) -> None:
    try:
        apply_changes(RunConfig(), lines)
    except InvalidArgument:
        pass


def test_parse_signal_defaults_and_numbers():
    assert parse_signal(None, 15) == parse_signal("", 15) == 15
    assert parse_signal(9) == parse_signal(" 9 ") == parse_signal("kill") == parse_signal("SIGKILL") == 9
    assert parse_signal("RTMIN+3") == signal.SIGRTMIN + 3
    for bad in ("0", "65", "-1", "SIGNOPE", "IGN", None):
        with pytest.raises(InvalidArgument, match="Invalid signal"):
            parse_signal(bad)
