"""ADD's remote sources: download an http(s) URL to a file, as Docker's classic builder does.

The file is named from the URL's path (else the response's Content-Disposition), made
mode 0600, and given the response's Last-Modified as its mtime (the epoch without one).
`--checksum=sha256:…` (BuildKit's) is verified while the body streams. 4xx/5xx answers
fail with the body in the message. Downloads can be kept in a directory so that the cache
key (which needs the content) and the copy share one fetch.
"""

from __future__ import annotations

import email.message
import email.utils
import hashlib
import ipaddress
import os
import posixpath
import shutil
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from dockyard.errors import InvalidArgument, SystemError_

__all__ = ["is_url", "parse_checksum", "Download", "fetch"]

UNNAMED = "__unnamed__"
_CHUNK = 1 << 20
_TIMEOUT = 300
_ALGORITHMS = {"sha256": 64, "sha384": 96, "sha512": 128}


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def parse_checksum(checksum: str) -> tuple[str, str]:
    """(algorithm, hex) of a `--checksum` digest, validated as opencontainers/go-digest does."""
    algorithm, sep, hexpart = checksum.partition(":")
    if not sep or not algorithm or not hexpart:
        raise InvalidArgument("invalid checksum digest format")
    if algorithm not in _ALGORITHMS:
        raise InvalidArgument("unsupported digest algorithm")
    if len(hexpart) != _ALGORITHMS[algorithm] or any(c not in "0123456789abcdef" for c in hexpart):
        raise InvalidArgument("invalid checksum digest length" if len(hexpart) != _ALGORITHMS[algorithm]
                              else "invalid checksum digest format")
    return algorithm, hexpart


@dataclass(frozen=True)
class Download:
    dir: str        # holds exactly the downloaded file
    filename: str   # "" when neither the URL nor the response named it (file is __unnamed__)

    @property
    def path(self) -> str:
        return self.filename or UNNAMED


def fetch(url: str, cache_dir: str, *, checksum: str | None = None) -> Download:
    """Download `url` into a directory under `cache_dir` (reused if it is already there)."""
    key = hashlib.sha256(f"{url}\0{checksum or ''}".encode()).hexdigest()[:32]
    target = os.path.join(cache_dir, key)
    marker = target + ".name"
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8", errors="surrogateescape") as f:
            return Download(target, f.read())
    if os.path.isdir(target):
        _rmtree_quiet(target)  # an earlier attempt that did not finish
    os.makedirs(target, 0o700)
    try:
        download = _get(url, target, checksum)
    except BaseException:
        _rmtree_quiet(target)
        raise
    with open(marker, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(download.filename)
    return download


def _opener(url: str) -> urllib.request.OpenerDirector:
    # Like Go's ProxyFromEnvironment: loopback addresses never go through a proxy.
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost" or _is_loopback(host):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _get(url: str, target: str, checksum: str | None) -> Download:
    expected = parse_checksum(checksum) if checksum else None
    try:
        resp = _opener(url).open(urllib.request.Request(url, method="GET"), timeout=_TIMEOUT)
    except urllib.error.HTTPError as e:
        body = e.read().decode("utf-8", "replace").strip()
        raise InvalidArgument(f"failed to GET {url} with status {e.code} {e.reason}: {body}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise InvalidArgument(f'Get "{url}": {reason}') from None
    with resp:
        filename = _filename(url, resp.headers.get("Content-Disposition", ""))
        name = filename or UNNAMED
        if name in (".", ".."):
            raise InvalidArgument(f"cannot determine filename for source {url}")
        path = os.path.join(target, name)
        hasher = hashlib.new(expected[0]) if expected else None
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)  # whatever the umask
            while chunk := resp.read(_CHUNK):
                if hasher is not None:
                    hasher.update(chunk)
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
        except OSError as e:
            raise SystemError_(f"failed to download {url}: {e.strerror or e}") from None
        finally:
            os.close(fd)
        if expected is not None and hasher is not None and hasher.hexdigest() != expected[1]:
            raise InvalidArgument(f"digest mismatch {expected[0]}:{hasher.hexdigest()}: {checksum}")
        mtime = _last_modified(resp.headers.get("Last-Modified", ""))
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    return Download(target, filename)


def _filename(url: str, content_disposition: str) -> str:
    """moby getFilenameForDownload: the URL path's last element, else Content-Disposition's filename."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    if path and not path.endswith("/"):
        base = posixpath.basename(path)
        if base:
            return base
    if content_disposition:
        msg = email.message.Message()
        msg["Content-Disposition"] = content_disposition
        name = msg.get_param("filename", header="Content-Disposition")
        if isinstance(name, tuple):
            name = email.utils.collapse_rfc2231_value(name)
        if isinstance(name, str) and name and not name.endswith("/"):
            return posixpath.basename(name)
    return ""


def _last_modified(value: str) -> int:
    """Seconds since the epoch of an HTTP date; 0 when absent or unparsable (Docker's zero time)."""
    if not value:
        return 0
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0
    return max(int(parsed.timestamp()), 0)


def _rmtree_quiet(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
