"""The pure parts of `bootstrap debian` / `bootstrap python`: apt sources, names, configs, pip.conf,
dpkg status, shadow dates, release dates, and the cache's all-or-nothing entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockyard.engine import aptsources, rootfs_build
from dockyard.engine.aptsources import AptSource
from dockyard.engine.bootstrap_cache import BootstrapCache, TeeReader
from dockyard.engine.bootstrap_catalog import debian_config, python_config, resolve_target
from dockyard.engine.debian_rootfs import DEBOOTSTRAP_LINE, find_debootstrap
from dockyard.engine.hostsettings import image_pip_conf, local_ca_files
from dockyard.engine.python_layer import _python3_minor, installed_version, upstream_version
from dockyard.errors import InvalidArgument, SystemError_

# This machine's /etc/apt/sources.list.d/debian.sources, as it is.
HOST_SOURCES = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
# http://snapshot.debian.org/archive/debian-security/20250520T000000Z
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

# The image's debian.sources: the same entries, without the comments.
IMAGE_SOURCES = "".join(line for line in HOST_SOURCES.splitlines(keepends=True) if not line.startswith("#"))


# ------------------------------------------------------------ apt sources
def test_deb822_as_on_this_machine() -> None:
    sources = aptsources.parse_deb822(HOST_SOURCES)
    assert sources == [
        AptSource(("deb",), ("http://deb.debian.org/debian",), ("bookworm", "bookworm-updates"), ("main",)),
        AptSource(("deb",), ("http://deb.debian.org/debian-security",), ("bookworm-security",), ("main",))]
    assert aptsources.debian_mirror(sources, "bookworm", "bookworm") == "http://deb.debian.org/debian"
    assert aptsources.image_sources(sources, "bookworm", "bookworm") == IMAGE_SOURCES


def test_deb822_continuations_disabled_and_source_entries() -> None:
    text = ("types: deb deb-src\nuris: https://mirror.example/debian/\nsuites: bookworm\ncomponents: main contrib\n"
            "signed-by:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n abc\n -----END PGP PUBLIC KEY BLOCK-----\n\n"
            "Types: deb\nURIs: http://old.example/debian\nSuites: bookworm\nEnabled: no\n\n"
            "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n")
    sources = aptsources.parse_deb822(text)
    assert [s.enabled for s in sources] == [True, False, True]
    assert sources[0].components == ("main", "contrib")
    # the disabled and the source-only entries are not mirrors; the trailing slash goes
    assert aptsources.debian_mirror(sources, "bookworm", "bookworm") == "https://mirror.example/debian"
    assert "old.example" not in aptsources.image_sources(sources, "bookworm", "bookworm")
    assert "src.example" not in aptsources.image_sources(sources, "bookworm", "bookworm")


def test_one_line_format_with_options_and_third_party_repos() -> None:
    text = ("# a comment\n"
            "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://ftp.de.debian.org/debian trixie main\n"
            "deb http://security.debian.org/debian-security trixie-security main  # inline\n"
            "deb-src http://ftp.de.debian.org/debian trixie main\n"
            "deb https://packages.example.com/repo stable main\n"
            "deb cdrom:[Debian]/ trixie main\n")
    sources = aptsources.parse_one_line(text)
    assert [s.uris[0] for s in sources][:2] == ["http://ftp.de.debian.org/debian",
                                                "http://security.debian.org/debian-security"]
    # a trixie host bootstrapping bookworm: same mirrors, suites renamed, the third-party repo left out
    assert aptsources.debian_mirror(sources, "trixie", "bookworm") == "http://ftp.de.debian.org/debian"
    text_out = aptsources.image_sources(sources, "trixie", "bookworm")
    assert "Suites: bookworm\n" in text_out and "Suites: bookworm-security\n" in text_out
    assert "packages.example.com" not in text_out and "cdrom" not in text_out and "trixie" not in text_out


def test_read_host_sources_from_a_tree(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("deb http://a.example/debian bookworm main\n")
    (tmp_path / "sources.list.d" / "z.sources").write_text(HOST_SOURCES)
    (tmp_path / "sources.list.d" / "b.list").write_text("deb http://b.example/debian bookworm-backports main\n")
    (tmp_path / "sources.list.d" / "ignored.list.save").write_text("deb http://c.example/debian bookworm main\n")
    uris = [s.uris[0] for s in aptsources.read_host_sources(tmp_path)]
    assert uris == ["http://a.example/debian", "http://b.example/debian", "http://deb.debian.org/debian",
                    "http://deb.debian.org/debian-security"]


def test_codename_and_no_mirror_error() -> None:
    assert aptsources.host_codename('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
                                    'VERSION_CODENAME=bookworm\n') == "bookworm"
    assert aptsources.host_codename('ID=debian\nVERSION_CODENAME="trixie"\n') == "trixie"
    sources = aptsources.parse_deb822(HOST_SOURCES)
    assert aptsources.host_codename("ID=debian\n", sources) == "bookworm"   # inferred from the bare suite
    ubuntu_release = "ID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\n"
    ubuntu = aptsources.parse_one_line("deb http://archive.ubuntu.com/ubuntu jammy main\n")
    assert aptsources.host_codename(ubuntu_release, ubuntu) == ""
    with pytest.raises(SystemError_, match="no apt source for it"):
        aptsources.debian_mirror(ubuntu, "", "bookworm")
    with pytest.raises(SystemError_, match="no Debian apt source"):
        aptsources.image_sources(ubuntu, "", "bookworm")


# ------------------------------------------------------------ names and configs
@pytest.mark.parametrize("name,kind", [
    ("debian", "debian"), ("debian:bookworm", "debian"), ("debian:12", "debian"), ("debian:latest", "debian"),
    ("docker.io/library/debian:12", "debian"), ("library/debian", "debian"),
    ("python:3.11-slim", "python"), ("python:3.11", "python"), ("python:3-slim", "python"),
    ("python:3.11-slim-bookworm", "python"), ("busybox", "busybox"), ("busybox:latest", "busybox")])
def test_tag_aliases(name: str, kind: str) -> None:
    assert resolve_target(name).kind == kind


@pytest.mark.parametrize("name", ["alpine", "debian:11", "python", "python:3.12-slim", "Debian", "",
                                  "quay.io/debian:12"])
def test_unknown_names_list_what_can_be_bootstrapped(name: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        resolve_target(name)
    assert e.value.message.startswith(f"unknown base image {name!r}: can bootstrap busybox")
    for known in ("debian:bookworm", "debian:12", "python:3.11-slim", "python:3-slim"):
        assert known in e.value.message


def test_configs_like_the_official_images() -> None:
    created = 1763690000
    base = debian_config("sha256:" + "a" * 64, created, "debootstrap ...")
    doc = json.loads(base.to_bytes())
    assert doc["config"] == {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                             "Cmd": ["bash"]}
    assert doc["created"] == "2025-11-21T01:53:20Z" and doc["rootfs"]["diff_ids"] == ["sha256:" + "a" * 64]
    assert [h.get("empty_layer", False) for h in doc["history"]] == [False, True]
    py = json.loads(python_config(base, "sha256:" + "b" * 64, created + 60, "apt-get install ...", "3.11.2").to_bytes())
    assert py["rootfs"]["diff_ids"] == ["sha256:" + "a" * 64, "sha256:" + "b" * 64]
    assert py["config"]["Cmd"] == ["python3"]
    assert py["config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                   "LANG=C.UTF-8", "PYTHON_VERSION=3.11.2"]
    # one history entry per layer that is not empty: what `docker history` pairs with the layers
    assert sum(1 for h in py["history"] if not h.get("empty_layer")) == 2
    assert base.to_bytes() == debian_config("sha256:" + "a" * 64, created, "debootstrap ...").to_bytes()


# ------------------------------------------------------------ what the image takes from the host
def test_pip_conf_keeps_what_works_inside_the_image() -> None:
    inside = {"/etc/ssl/certs/ca-certificates.crt"}
    host = "[global]\ncert = /etc/ssl/certs/ca-certificates.crt\ntimeout = 60\n"
    assert image_pip_conf(host, inside.__contains__) == host
    user = ("[global]\nfind-links = /opt/wheels\nextra-index-url = file:///opt/pypi/simple file:///opt/pypi-more/simple\n"
            "index-url = https://pypi.org/simple\n[install]\nno-cache-dir = true\n")
    assert image_pip_conf(user, inside.__contains__) == \
        "[global]\nindex-url = https://pypi.org/simple\n\n[install]\nno-cache-dir = true\n"
    assert image_pip_conf("[global]\nfind-links = /opt/wheels\n", inside.__contains__) == ""
    assert image_pip_conf("not an ini file", inside.__contains__) == ""
    assert image_pip_conf("", inside.__contains__) == ""


def test_local_ca_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.crt").write_bytes(b"B")
    (tmp_path / "sub" / "a.crt").write_bytes(b"A")
    (tmp_path / "readme.txt").write_bytes(b"not a cert")
    assert local_ca_files(tmp_path) == (("b.crt", b"B"), ("sub/a.crt", b"A"))
    assert local_ca_files(tmp_path / "missing") == ()


def test_find_debootstrap_says_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(SystemError_, match="debootstrap is not installed .*apt-get install debootstrap"):
        find_debootstrap(str(tmp_path))


def test_debootstrap_progress_lines() -> None:
    m = DEBOOTSTRAP_LINE.match("I: Retrieving libc6 2.36-9+deb12u10")
    assert m is not None and m.groups() == ("Retrieving", "libc6 2.36-9+deb12u10")
    assert DEBOOTSTRAP_LINE.match("I: Base system installed successfully.") is None


# ------------------------------------------------------------ dpkg status, shadow, release dates
STATUS = """\
Package: python3.11
Status: install ok installed
Version: 3.11.2-6+deb12u6

Package: python3
Status: install ok installed
Depends: python3.11 (>= 3.11.2-1~), libpython3-stdlib (= 3.11.2-1+b1)
Version: 3.11.2-1+b1

Package: python3.12
Status: deinstall ok config-files
Version: 3.12.1-1
"""


def test_python_version_from_dpkg_status() -> None:
    assert _python3_minor(STATUS) == "3.11"
    assert installed_version(STATUS, "python3.11") == "3.11.2-6+deb12u6"
    assert installed_version(STATUS, "python3.12") == ""   # only config files left: not installed
    assert upstream_version("3.11.2-6+deb12u6") == "3.11.2"
    assert upstream_version("1:2.38.1-5+deb12u3") == "2.38.1"
    assert upstream_version("20230311") == "20230311"
    with pytest.raises(SystemError_):
        _python3_minor("Package: bash\nStatus: install ok installed\n")


def test_shadow_dates_are_pinned() -> None:
    text = "root:*:20779:0:99999:7:::\nsys:*::0:99999:7:::\nbroken\n"
    assert rootfs_build._shadow(text, 20000) == "root:*:20000:0:99999:7:::\nsys:*::0:99999:7:::\nbroken\n"


def test_release_epoch(tmp_path: Path) -> None:
    (tmp_path / "deb.debian.org_debian_dists_bookworm_InRelease").write_text(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\nDate: Sat, 10 May 2025 08:51:46 UTC\n")
    (tmp_path / "deb.debian.org_debian-security_dists_bookworm-security_InRelease").write_text(
        "Origin: Debian\nDate: Tue, 20 May 2025 10:00:00 UTC\n")
    (tmp_path / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4").write_text("Date: nonsense")
    assert rootfs_build.release_epoch(tmp_path) == 1747735200
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemError_, match="no release file"):
        rootfs_build.release_epoch(empty)


def test_scrub_removes_run_to_run_noise(tmp_path: Path) -> None:
    files = ["var/log/dpkg.log", "var/log/apt/history.log", "var/cache/apt/archives/x.deb",
             "var/cache/apt/archives/lock", "var/lib/apt/lists/x_Packages", "var/lib/apt/lists/lock",
             "var/lib/dpkg/status-old", "var/lib/dpkg/status", "etc/resolv.conf", "etc/hostname", "etc/passwd",
             "tmp/x/y", "dev/null-file", "run/lock/.keep", "var/log/wtmp"]
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text("x")
    (tmp_path / "etc/shadow").write_text("root:*:20779:0:99999:7:::\n")
    rootfs_build.scrub(tmp_path, 20000 * 86400)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == ["etc/passwd", "etc/shadow", "var/cache/apt/archives/lock", "var/lib/apt/lists/lock",
                    "var/lib/dpkg/status", "var/log/wtmp"]
    assert (tmp_path / "run/lock").is_dir() and (tmp_path / "var/log/apt").is_dir()
    assert (tmp_path / "etc/shadow").read_text() == "root:*:20000:0:99999:7:::\n"


# ------------------------------------------------------------ the cache
def test_cache_entries_are_all_or_nothing(tmp_path: Path) -> None:
    cache = BootstrapCache(tmp_path)
    key = cache.key({"kind": "debian", "v": 1})
    assert key == cache.key({"v": 1, "kind": "debian"}) and key != cache.key({"kind": "debian", "v": 2})
    with pytest.raises(RuntimeError):
        with cache.layer_writer(key) as (gz, record):
            gz.write(b"half a layer")
            raise RuntimeError("build failed")
    assert cache.record(key) is None and not any((tmp_path / "layers").iterdir())
    with cache.layer_writer(key) as (gz, record):
        import io
        tee = TeeReader(io.BytesIO(b"layer bytes"), gz)
        while tee.read(4):
            pass
        record.update(diff_id="sha256:x", created=1)
    assert cache.record(key) == {"diff_id": "sha256:x", "created": 1}
    import gzip
    assert gzip.decompress(cache.layer_path(key).read_bytes()) == b"layer bytes"
    cache.layer_path(key).unlink()   # a record without its layer is no entry
    assert cache.record(key) is None
    cache.drop(key)
    with cache.lock("k"), cache.lock("other"):
        pass
    lists, archives = cache.apt_dirs("bookworm", "amd64")
    assert (lists / "partial").is_dir() and (archives / "partial").is_dir()
