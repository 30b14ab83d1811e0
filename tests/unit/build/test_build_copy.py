"""COPY's file work on plain directories standing in for the context and the root filesystem.

Expected behaviour was checked against Docker's classic builder (dockerd 20.10 driven by
the docker CLI 28.2) where noted; the cache keys are the exact strings `docker history`
showed for the same files.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dockyard.build.copy import copy_into, resolve_chown, source_checksum
from dockyard.errors import InvalidArgument

CAP_V2 = b"\x01\x00\x00\x02\x00\x20\x00\x00" + bytes(12)  # cap_net_raw+ep


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    """A context as extracted from the docker CLI's tar (everything 0:0)."""
    c = tmp_path / "ctx"
    (c / "dir" / "sub").mkdir(parents=True)
    (c / "dir" / "a").write_text("a\n")
    (c / "dir" / "sub" / "x").write_text("x\n")
    (c / "f").write_text("hi\n")
    os.chmod(c / "f", 0o4755)
    os.utime(c / "f", ns=(1_577_934_245_123_456_789, 1_577_934_245_123_456_789))
    (c / "b.txt").write_text("b\n")
    (c / "c.txt").write_text("c\n")
    (c / "df").write_text("df\n")
    os.symlink("f", c / "link-to-f")
    return c


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n")
    (r / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nstaff:x:2000:app\n")
    return r


def _st(p: Path) -> os.stat_result:
    return os.lstat(p)


def _owner(p: Path) -> tuple[int, int]:
    st = os.lstat(p)
    return st.st_uid, st.st_gid


# -- placement -----------------------------------------------------------------------


def test_file_into_dir_keeps_mode_and_mtime_owned_by_root(ctx, rootfs):
    os.chown(ctx / "f", 123, 456)
    os.chmod(ctx / "f", 0o4755)  # (the chown cleared it)
    copy_into(ctx, ["f"], "/x/", rootfs)
    st = _st(rootfs / "x" / "f")
    assert (rootfs / "x" / "f").read_text() == "hi\n"
    assert stat.S_IMODE(st.st_mode) == 0o4755  # set-id bits survive the chown
    assert st.st_mtime_ns == 1_577_934_245_000_000_000  # whole seconds, as Docker's tar copy
    assert (st.st_uid, st.st_gid) == (0, 0)
    x = _st(rootfs / "x")
    assert (stat.S_IMODE(x.st_mode), x.st_uid, x.st_gid) == (0o755, 0, 0)


def test_file_renamed_and_parents_created(ctx, rootfs):
    copy_into(ctx, ["f"], "/a/b/c/new", rootfs)
    assert (rootfs / "a" / "b" / "c" / "new").read_text() == "hi\n"
    for d in ("a", "a/b", "a/b/c"):
        assert stat.S_IMODE(_st(rootfs / d).st_mode) == 0o755


def test_file_onto_existing_dir_goes_inside(ctx, rootfs):
    (rootfs / "existing").mkdir()
    copy_into(ctx, ["f"], "/existing", rootfs)
    assert (rootfs / "existing" / "f").read_text() == "hi\n"


def test_file_replaces_file_and_dir_at_final_name(ctx, rootfs):
    (rootfs / "t").write_text("old")
    copy_into(ctx, ["f"], "/t", rootfs)
    assert (rootfs / "t").read_text() == "hi\n"
    (rootfs / "d" / "f").mkdir(parents=True)
    (rootfs / "d" / "f" / "inner").write_text("gone")
    copy_into(ctx, ["f"], "/d/", rootfs)  # Docker's untar replaces a directory by the file
    assert (rootfs / "d" / "f").read_text() == "hi\n"


def test_dir_copies_contents_and_merges(ctx, rootfs):
    (rootfs / "d").mkdir()
    (rootfs / "d" / "keep").write_text("k")
    copy_into(ctx, ["dir"], "/d", rootfs)
    assert sorted(os.listdir(rootfs / "d")) == ["a", "keep", "sub"]
    assert (rootfs / "d" / "sub" / "x").read_text() == "x\n"
    copy_into(ctx, ["dir"], "/new/place/", rootfs)
    assert (rootfs / "new" / "place" / "a").exists()


def test_dir_onto_file_fails(ctx, rootfs):
    (rootfs / "file").write_text("")
    with pytest.raises(InvalidArgument, match="not a directory"):
        copy_into(ctx, ["dir"], "/file", rootfs)


def test_source_through_symlink_keeps_symlink_name(ctx, rootfs):
    copy_into(ctx, ["link-to-f"], "/s/", rootfs)
    assert (rootfs / "s" / "link-to-f").read_text() == "hi\n"
    assert not (rootfs / "s" / "link-to-f").is_symlink()


def test_relative_dest_uses_workdir(ctx, rootfs):
    copy_into(ctx, ["f"], "rel/", rootfs, workdir="/w")
    copy_into(ctx, ["b.txt"], ".", rootfs, workdir="/w")
    copy_into(ctx, ["dir"], "./", rootfs, workdir="/w")
    assert sorted(os.listdir(rootfs / "w")) == ["a", "b.txt", "rel", "sub"]
    assert (rootfs / "w" / "rel" / "f").exists()


def test_leading_slash_and_dot_slash_sources(ctx, rootfs):
    copy_into(ctx, ["/f", "./b.txt"], "/s/", rootfs)
    assert sorted(os.listdir(rootfs / "s")) == ["b.txt", "f"]


# -- wildcards and errors ----------------------------------------------------------------


def test_wildcards(ctx, rootfs):
    copy_into(ctx, ["*.txt"], "/t/", rootfs)
    assert sorted(os.listdir(rootfs / "t")) == ["b.txt", "c.txt"]
    copy_into(ctx, ["d*"], "/w/", rootfs)  # a matched directory copies its contents
    assert sorted(os.listdir(rootfs / "w")) == ["a", "df", "sub"]
    copy_into(ctx, ["dir/*/x"], "/deep/", rootfs)
    assert os.listdir(rootfs / "deep") == ["x"]
    copy_into(ctx, ["[bc].txt", "?f"], "/cls/", rootfs)
    assert sorted(os.listdir(rootfs / "cls")) == ["b.txt", "c.txt", "df"]
    copy_into(ctx, ["b*"], "/one", rootfs)  # one match: a plain destination is fine
    assert (rootfs / "one").read_text() == "b\n"


def test_errors_in_dockers_words(ctx, rootfs):
    cases = [
        (["missing"], "/x",
         "COPY failed: file not found in build context or excluded by .dockerignore: stat missing: file does not exist"),
        (["nomatch*"], "/x/", "COPY failed: no source files were specified"),
        (["f", "b.txt"], "/x",
         "When using COPY with more than one source file, the destination must be a directory and end with a /"),
        (["*.txt"], "/x",
         "When using COPY with more than one source file, the destination must be a directory and end with a /"),
        (["../x"], "/", "COPY failed: forbidden path outside the build context: ../x ()"),
        (["/../f"], "/y", "COPY failed: forbidden path outside the build context: ../f ()"),
        (["http://example.com/x"], "/", "COPY failed: source can't be a URL for COPY"),
    ]
    for sources, dest, message in cases:
        with pytest.raises(InvalidArgument) as e:
            copy_into(ctx, sources, dest, rootfs)
        assert str(e.value) == message
        if "When using" not in message:
            with pytest.raises(InvalidArgument) as e:
                source_checksum(ctx, sources)
            assert str(e.value) == message
    with pytest.raises(InvalidArgument) as e:
        copy_into(ctx, ["/missing"], "/x", rootfs, from_context=False)
    assert str(e.value) == "COPY failed: stat missing: file does not exist"


# -- staying inside the root filesystem ------------------------------------------------


def test_symlinked_dest_stays_inside_rootfs(ctx, rootfs, tmp_path):
    os.symlink("/../../etc", rootfs / "app")
    host_etc = set(os.listdir("/etc"))
    copy_into(ctx, ["f"], "/app/", rootfs)
    copy_into(ctx, ["dir"], "/app/sub/", rootfs)
    copy_into(ctx, ["b.txt"], "/app/../app/deeper/b", rootfs)
    assert (rootfs / "etc" / "f").read_text() == "hi\n"
    assert (rootfs / "etc" / "sub" / "a").read_text() == "a\n"
    assert (rootfs / "etc" / "deeper" / "b").read_text() == "b\n"
    assert os.readlink(rootfs / "app") == "/../../etc"
    assert set(os.listdir("/etc")) == host_etc
    assert not (tmp_path / "etc").exists()


def test_dest_symlinks_followed_as_docker_does(ctx, rootfs):
    (rootfs / "target").write_text("old")
    os.symlink("/target", rootfs / "lfile")
    os.symlink("/nonexist/deep", rootfs / "dangling")
    (rootfs / "tgt").mkdir()
    os.symlink("../../../tgt", rootfs / "rel")
    copy_into(ctx, ["f"], "/lfile", rootfs)      # writes through to the target, link kept
    copy_into(ctx, ["f"], "/dangling", rootfs)   # creates the target, inside the root
    copy_into(ctx, ["b.txt"], "/rel", rootfs)    # a directory through a relative link
    assert os.readlink(rootfs / "lfile") == "/target"
    assert (rootfs / "target").read_text() == "hi\n"
    assert (rootfs / "nonexist" / "deep").read_text() == "hi\n"
    assert (rootfs / "tgt" / "b.txt").read_text() == "b\n"


def test_symlink_at_final_name_is_replaced_not_followed(ctx, rootfs):
    (rootfs / "x").mkdir()
    os.symlink("/etc/passwd", rootfs / "x" / "f")
    before = (rootfs / "etc" / "passwd").read_text()
    copy_into(ctx, ["f"], "/x/", rootfs)
    assert not (rootfs / "x" / "f").is_symlink()
    assert (rootfs / "x" / "f").read_text() == "hi\n"
    assert (rootfs / "etc" / "passwd").read_text() == before


def test_symlink_in_dest_tree_replaced_by_directory(ctx, rootfs):
    (rootfs / "d").mkdir()
    os.symlink("/etc", rootfs / "d" / "sub")
    copy_into(ctx, ["dir"], "/d/", rootfs)
    assert (rootfs / "d" / "sub").is_dir() and not (rootfs / "d" / "sub").is_symlink()
    assert (rootfs / "d" / "sub" / "x").exists() and not (rootfs / "etc" / "x").exists()


def test_copy_from_other_root_resolves_inside_it(tmp_path, rootfs):
    stage = tmp_path / "stage"
    (stage / "etc").mkdir(parents=True)
    (stage / "etc" / "passwd").write_text("stage passwd\n")
    (stage / "src" / "in").mkdir(parents=True)
    (stage / "src" / "in" / "f").write_text("1\n")
    os.chown(stage / "src" / "in" / "f", 7, 8)
    os.chmod(stage / "src" / "in" / "f", 0o4755)
    os.chown(stage / "src" / "in", 7, 8)
    os.symlink("/etc/passwd", stage / "src" / "abslink")
    os.symlink("in", stage / "src" / "rel")
    copy_into(stage, ["/src"], "/fromsrc", rootfs, from_context=False)
    copy_into(stage, ["/src/abslink"], "/fromlink", rootfs, from_context=False)
    copy_into(stage, ["src/rel/f"], "/relf", rootfs, from_context=False)
    assert (rootfs / "fromlink").read_text() == "stage passwd\n"  # not the host's /etc/passwd
    assert os.readlink(rootfs / "fromsrc" / "abslink") == "/etc/passwd"
    assert _owner(rootfs / "fromsrc" / "in" / "f") == (7, 8)  # --from keeps owners
    assert _owner(rootfs / "fromsrc" / "in") == (7, 8)
    assert _owner(rootfs / "fromsrc") == (0, 0)
    assert _owner(rootfs / "relf") == (7, 8)
    assert stat.S_IMODE(_st(rootfs / "relf").st_mode) == 0o4755
    copy_into(stage, ["/src"], "/chowned", rootfs, from_context=False, chown=(1, 2))
    assert _owner(rootfs / "chowned" / "in" / "f") == (1, 2)


# -- owner, mode, links, xattrs ----------------------------------------------------------


def test_resolve_chown(rootfs):
    assert resolve_chown(rootfs, "app") == (1000, 1000)
    assert resolve_chown(rootfs, "app:staff") == (1000, 2000)
    assert resolve_chown(rootfs, "1234:5678") == (1234, 5678)
    assert resolve_chown(rootfs, "1234") == (1234, 1234)
    assert resolve_chown(rootfs, "app:0") == (1000, 0)
    errors = {
        "nouser": "unable to convert uid/gid chown string to host mapping: "
                  "can't find uid for user nouser: no such user: nouser",
        "1:nogroup": "unable to convert uid/gid chown string to host mapping: "
                     "can't find gid for group nogroup: no such group: nogroup",
        "a:b:c": "unable to convert uid/gid chown string to host mapping: invalid chown string format: a:b:c",
    }
    for spec, message in errors.items():
        with pytest.raises(InvalidArgument) as e:
            resolve_chown(rootfs, spec)
        assert str(e.value) == message


def test_resolve_chown_reads_passwd_inside_rootfs(rootfs, tmp_path):
    os.unlink(rootfs / "etc" / "passwd")
    os.symlink("/../../../../etc/other", rootfs / "etc" / "passwd")  # stays inside the root
    (rootfs / "etc" / "other").write_text("web:x:33:33::/:/bin/false\n")
    assert resolve_chown(rootfs, "web:0") == (33, 0)
    os.unlink(rootfs / "etc" / "other")
    with pytest.raises(InvalidArgument, match="can't find uid for user web: open /etc/passwd: no such file"):
        resolve_chown(rootfs, "web")


def test_chown_files_dirs_and_created_parents(ctx, rootfs):
    owner = resolve_chown(rootfs, "app:staff")
    copy_into(ctx, ["f"], "/y/z/f2", rootfs, chown=owner)
    assert _owner(rootfs / "y") == _owner(rootfs / "y" / "z") == _owner(rootfs / "y" / "z" / "f2") == (1000, 2000)
    copy_into(ctx, ["dir"], "/p/q/", rootfs, chown=owner)
    assert _owner(rootfs / "p") == (0, 0)  # Docker: parents of a copied directory stay root's
    assert _owner(rootfs / "p" / "q") == _owner(rootfs / "p" / "q" / "sub" / "x") == (1000, 2000)
    (rootfs / "exist").mkdir()
    os.chown(rootfs / "exist", 5, 5)
    copy_into(ctx, ["dir"], "/exist", rootfs, chown=owner)
    assert _owner(rootfs / "exist") == (5, 5)  # an existing destination is left alone
    assert _owner(rootfs / "exist" / "a") == (1000, 2000)


def test_chmod(ctx, rootfs):
    copy_into(ctx, ["dir", "link-to-f"], "/m/", rootfs, chmod=0o640)
    assert stat.S_IMODE(_st(rootfs / "m" / "a").st_mode) == 0o640
    assert stat.S_IMODE(_st(rootfs / "m" / "sub").st_mode) == 0o640
    assert stat.S_IMODE(_st(rootfs / "m" / "link-to-f").st_mode) == 0o640
    copy_into(ctx, ["dir"], "/n", rootfs, chmod=0o700)
    assert stat.S_IMODE(_st(rootfs / "n").st_mode) == 0o700  # a destination the copy made
    os.symlink("a", ctx / "dir" / "sl")
    copy_into(ctx, ["dir"], "/o/", rootfs, chmod=0o600)
    assert stat.S_ISLNK(_st(rootfs / "o" / "sl").st_mode)


def test_hardlinks_symlinks_specials_and_capabilities(ctx, rootfs):
    d = ctx / "dir"
    os.link(d / "a", d / "sub" / "hl")
    os.symlink("../a", d / "sub" / "sl")
    os.mkfifo(d / "fifo")
    os.setxattr(d / "a", "security.capability", CAP_V2)
    copy_into(ctx, ["dir"], "/t/", rootfs, chown=(1000, 1000))
    assert _st(rootfs / "t" / "a").st_ino == _st(rootfs / "t" / "sub" / "hl").st_ino
    assert _st(rootfs / "t" / "a").st_nlink == 2
    assert os.readlink(rootfs / "t" / "sub" / "sl") == "../a"
    assert _owner(rootfs / "t" / "sub" / "sl") == (1000, 1000)
    assert stat.S_ISFIFO(_st(rootfs / "t" / "fifo").st_mode)
    assert os.getxattr(rootfs / "t" / "a", "security.capability") == CAP_V2  # survives the chown
    copy_into(ctx, ["dir/a"], "/single", rootfs)
    assert os.getxattr(rootfs / "single", "security.capability") == CAP_V2


# -- cache keys ------------------------------------------------------------------------------


def _history_sample(tmp_path: Path) -> Path:
    """The files whose keys docker history showed: f (04755, "hi"), dir/ (0755) with a (0644, "a")."""
    c = tmp_path / "c"
    (c / "dir").mkdir(parents=True)
    (c / "f").write_text("hi\n")
    os.chmod(c / "f", 0o4755)
    (c / "dir" / "a").write_text("a\n")
    os.chmod(c / "dir", 0o755)
    os.chmod(c / "dir" / "a", 0o644)
    return c


def test_checksums_match_docker_history(tmp_path):
    """Strings docker history showed for the same files (mode, owner 0:0, content)."""
    c = _history_sample(tmp_path)
    assert source_checksum(c, ["f"]) == "file:0b84d02788280f2ef6180d0afb042625c2de9b4b7fc425e240fb4374e88f44ed"
    assert source_checksum(c, ["dir"]) == "dir:1e547fd1073cb430d27f0215d7852f3cf62bd83c234fef919f6863967f32c95c"
    os.symlink("a", c / "dir" / "sl")  # keyed by its target
    assert source_checksum(c, ["dir"]) == "dir:d2d976d0fbdd0444f566863ce3efa37f2e887874413bac6ac8c289c931d2e765"
    os.unlink(c / "dir" / "sl")
    os.link(c / "dir" / "a", c / "dir" / "hl")  # the second name is a link in the CLI's tar
    assert source_checksum(c, ["dir"]) == "dir:aef475f934bd5faececc39d40f724c476a75d560b11388d4f2c9b4b33db57924"
    os.unlink(c / "dir" / "hl")
    os.setxattr(c / "dir" / "a", "security.capability", CAP_V2)
    assert source_checksum(c, ["dir"]) == "dir:e0512aed9c42cf865664a820e7799c873c9ad4493c44f843cfc825ac1e0b7269"
    # all three together, and two sources
    os.link(c / "dir" / "a", c / "dir" / "hl")
    os.symlink("a", c / "dir" / "sl")
    assert source_checksum(c, ["f", "dir"]) == \
        "multi:7a334dbccbeae9da3cd60ab3583e39f3076569e4c40775a4d850d204a3c0cb8c"


def test_checksum_stable_under_touch_changed_by_content_mode_owner(ctx):
    keys = lambda: (source_checksum(ctx, ["f"]), source_checksum(ctx, ["dir"]), source_checksum(ctx, ["*.txt"]))  # noqa: E731
    base = keys()
    assert base[0].startswith("file:") and base[1].startswith("dir:") and base[2].startswith("multi:")
    os.utime(ctx / "f", (1, 1))
    os.utime(ctx / "dir" / "sub" / "x", (1, 1))
    os.utime(ctx / "dir", (1, 1))
    assert keys() == base
    changes = [
        lambda: (ctx / "dir" / "sub" / "x").write_text("changed\n"),
        lambda: os.chmod(ctx / "dir" / "a", 0o600),
        lambda: os.chown(ctx / "dir" / "a", 1, 1),
        lambda: os.rename(ctx / "dir" / "a", ctx / "dir" / "renamed"),
        lambda: (ctx / "dir" / "new").write_text(""),
    ]
    last = base[1]
    for change in changes:
        change()
        now = source_checksum(ctx, ["dir"])
        assert now != last
        last = now
    os.chmod(ctx / "f", 0o755)
    assert source_checksum(ctx, ["f"]) != base[0]


def test_checksum_of_other_root_keys_files_from_disk(tmp_path):
    stage = tmp_path / "stage"
    (stage / "d").mkdir(parents=True)
    (stage / "d" / "a").write_text("a\n")
    os.link(stage / "d" / "a", stage / "d" / "b")
    os.symlink("/nowhere", stage / "d" / "dangling")
    from_disk = source_checksum(stage, ["/d"], from_context=False)
    as_context = source_checksum(stage, ["/d"], from_context=True)
    assert from_disk.startswith("dir:") and from_disk != as_context  # no hardlink entries from disk
    os.utime(stage / "d" / "a", (5, 5))
    assert source_checksum(stage, ["/d"], from_context=False) == from_disk


def test_deep_trees_walk_without_recursion_limits(tmp_path, rootfs):
    from dockyard.build.fswalk import walk

    deep = tmp_path / "deep"
    deep.mkdir()
    fd = os.open(deep, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(1100):  # deeper than Python's recursion limit
        os.mkdir("d", dir_fd=fd)
        fd, old = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), fd
        os.close(old)
    os.close(os.open("leaf", os.O_CREAT | os.O_WRONLY, dir_fd=fd))
    os.close(fd)
    assert sum(1 for _ in walk(str(deep))) == 1101
    while (deep / "d").is_dir():  # clean up without recursion: pull each level up
        if (deep / "d" / "d").is_dir():
            os.rename(deep / "d" / "d", deep / "next")
            os.rmdir(deep / "d")
            os.rename(deep / "next", deep / "d")
        else:
            os.unlink(deep / "d" / "leaf")
            os.rmdir(deep / "d")
    shallow = tmp_path / "c2"
    (shallow / "t" / ("/".join(["d"] * 200))).mkdir(parents=True)
    copy_into(shallow, ["t"], "/t/", rootfs)
    assert (rootfs / "t" / "/".join(["d"] * 200)).is_dir()
