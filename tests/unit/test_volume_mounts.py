"""volume/mounts.py: `-v` specs, `--mount` objects, volumes-from and tmpfs options, read as moby reads them."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.volume import mounts as m


def test_named_volume_bind_and_anonymous():
    v = m.parse_bind("data:/var/lib/data")
    assert (v.type, v.name, v.destination, v.rw, v.copy_data, v.anonymous) == \
        ("volume", "data", "/var/lib/data", True, True, False)
    b = m.parse_bind("/srv/www/:/usr/share/www:ro")
    assert (b.type, b.source, b.destination, b.rw, b.mode, b.propagation, b.make_source) == \
        ("bind", "/srv/www", "/usr/share/www", False, "ro", "rprivate", True)
    a = m.parse_bind("/scratch")
    assert (a.type, a.name, a.destination, a.anonymous) == ("volume", "", "/scratch", True)


def test_modes():
    assert m.parse_bind("/a:/b:rw,rshared").propagation == "rshared"
    assert m.parse_bind("v:/b:nocopy").copy_data is False
    assert m.parse_bind("v:/b:ro,z").rw is False
    assert m.read_write("z") and not m.read_write("ro,Z")


@pytest.mark.parametrize("raw, message", [
    (":/x", "invalid volume specification: ':/x'"),
    ("/foo:rw", "invalid volume specification: '/foo:rw'"),
    ("a:b:c:d", "invalid volume specification: 'a:b:c:d'"),
    ("/a:/b:zz", "invalid mode: zz"),
    ("/a:/b:ro,rw", "invalid mode: ro,rw"),
    ("v:rel", "invalid volume specification: 'v:rel': invalid mount config for type \"volume\": "
              "invalid mount path: 'rel' mount path must be absolute"),
    ("/a:/", "invalid volume specification: '/a:/': invalid mount config for type \"bind\": "
             "invalid specification: destination can't be '/'"),
    ("v:/x:shared", "invalid volume specification: 'v:/x:shared': invalid mount config for type \"volume\": "
                    "field BindOptions must not be specified"),
    ("/a:/x:nocopy", "invalid volume specification: '/a:/x:nocopy': invalid mount config for type \"bind\": "
                     "field VolumeOptions must not be specified"),
])
def test_bad_binds_give_dockers_words(raw, message):
    with pytest.raises(InvalidArgument) as e:
        m.parse_bind(raw)
    assert e.value.message == message


def test_mount_objects():
    b = m.parse_mount({"Type": "bind", "Source": "/tmp", "Target": "/t", "ReadOnly": True,
                       "BindOptions": {"Propagation": "rslave"}})
    assert (b.source, b.rw, b.propagation, b.make_source) == ("/tmp", False, "rslave", False)
    v = m.parse_mount({"Type": "volume", "Target": "/v", "VolumeOptions": {"NoCopy": True}})
    assert v.anonymous and not v.copy_data
    t = m.parse_mount({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 64 << 20, "Mode": 0o1770}})
    assert m.tmpfs_data(t.spec["TmpfsOptions"], False) == "mode=1770,size=64m"


@pytest.mark.parametrize("spec, message", [
    ({"Type": "bind", "Source": "/nope-" + "x" * 8, "Target": "/x"},
     'invalid mount config for type "bind": bind source path does not exist: /nope-xxxxxxxx'),
    ({"Type": "bind", "Target": "/x"}, 'invalid mount config for type "bind": field Source must not be empty'),
    ({"Type": "volume", "Source": "v"}, 'invalid mount config for type "volume": field Target must not be empty'),
    ({"Type": "tmpfs", "Source": "x", "Target": "/t"},
     'invalid mount config for type "tmpfs": field Source must not be specified'),
    ({"Type": "volume", "Target": "/t", "BindOptions": {}},
     'invalid mount config for type "volume": field BindOptions must not be specified'),
    ({"Type": "bind", "Source": "/tmp", "Target": "/t", "BindOptions": {"Propagation": "sideways"}},
     'invalid mount config for type "bind": invalid propagation mode: sideways'),
    ({"Type": "floppy", "Target": "/t"}, 'invalid mount config for type "floppy": mount type unknown'),
    ({"Type": "volume", "Target": "/t", "VolumeOptions": {"Subpath": "a"}},
     'invalid mount config for type "volume": must not set Subpath when using anonymous volumes'),
    ({"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"Options": [["uid", "0"]]}},
     'invalid mount config for type "tmpfs": invalid option: uid'),
])
def test_bad_mounts_give_dockers_words(spec, message):
    with pytest.raises(InvalidArgument) as e:
        m.parse_mount(spec)
    assert e.value.message == message


def test_volumes_from():
    assert m.parse_volumes_from("c1") == ("c1", "rw")
    assert m.parse_volumes_from("c1:ro") == ("c1", "ro")
    for bad in ("c1:rshared", "c1:nocopy", "c1:bogus"):
        with pytest.raises(InvalidArgument, match="invalid mode"):
            m.parse_volumes_from(bad)
    with pytest.raises(InvalidArgument, match="cannot be an empty string"):
        m.parse_volumes_from("")


def test_tmpfs_options_merge_as_moby():
    oci = m.oci_tmpfs("/run", "size=1m,exec,mode=700")
    assert oci == {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                   "options": ["nosuid", "nodev", "rprivate", "size=1m", "exec", "mode=700"]}
    assert m.oci_tmpfs("/t", "")["options"] == ["noexec", "nosuid", "nodev", "rprivate"]
    with pytest.raises(InvalidArgument, match='invalid tmpfs option "bogus"'):
        m.oci_tmpfs("/t", "bogus")


def test_oci_bind():
    ro = m.parse_bind("/s:/d:ro,rslave")
    assert m.oci_mount("/s", ro) == {"destination": "/d", "type": "bind", "source": "/s",
                                     "options": ["rbind", "rro", "rslave"]}
    assert m.oci_mount("/s", ro, rro_ok=False)["options"] == ["rbind", "ro", "rslave"]
    assert m.oci_mount("/s", m.parse_bind("/s:/d"))["options"] == ["rbind", "rprivate"]


def test_oci_bind_recursion_options():
    def mount(**bind):
        return m.parse_mount({"Type": "bind", "Source": "/", "Target": "/d", "ReadOnly": True, "BindOptions": bind})
    assert m.oci_mount("/", mount(NonRecursive=True))["options"] == ["bind", "rro", "rprivate"]
    assert m.oci_mount("/", mount(ReadOnlyNonRecursive=True))["options"] == ["rbind", "ro", "rprivate"]
    forced = mount(ReadOnlyForceRecursive=True)
    assert m.oci_mount("/", forced)["options"] == ["rbind", "rro", "rprivate"]
    with pytest.raises(InvalidArgument, match="rro is not supported"):
        m.oci_mount("/", forced, rro_ok=False)
    volume = m.parse_bind("v:/d:ro")
    assert m.oci_mount("/x", volume)["options"] == ["rbind", "rro"]


@pytest.mark.parametrize("ro, bind, message", [
    (False, {"ReadOnlyNonRecursive": True}, "!ReadOnly && BindOptions.ReadOnlyNonRecursive"),
    (False, {"ReadOnlyForceRecursive": True}, "!ReadOnly && BindOptions.ReadOnlyForceRecursive"),
    (True, {"ReadOnlyNonRecursive": True, "ReadOnlyForceRecursive": True},
     "ReadOnlyNonRecursive && BindOptions.ReadOnlyForceRecursive"),
])
def test_readonly_option_conflicts(ro, bind, message):
    with pytest.raises(InvalidArgument, match="mount options conflict: " + message.replace("|", r"\|")):
        m.parse_mount({"Type": "bind", "Source": "/", "Target": "/d", "ReadOnly": ro, "BindOptions": bind})


def test_records_round_trip():
    mp = m.parse_bind("data:/d:ro")
    assert m.MountPoint.from_record(mp.record()) == mp
