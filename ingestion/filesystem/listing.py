"""The landing zone: one listing of the files the globs select, and safe opening of them.

A local folder is walked once with ``os.scandir``; a bucket is listed once with fsspec's
``find``. Names starting with a dot (in-flight copies of rsync and friends) are skipped.
Locally the folder is a trust boundary: symbolic links are never followed (each is listed as
refused, with where it points), nor are files that are not regular files; a file is opened
without following links and checked to be inside the folder once open.
"""

from __future__ import annotations

import gzip
import io
import os
import posixpath
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from fsspec.utils import glob_translate


class LandingZoneMissing(FileNotFoundError):
    """The configured folder or bucket does not exist (a share not mounted, a typo)."""


class RefusedFile(PermissionError):
    """A file that must not be read (it left the landing zone between listing and opening)."""


class LandingReadError(Exception):
    """Reading an opened file failed (a disk or network error): not a defect of its content.

    Not an ``OSError``, so the readers, which turn their parsers' errors into rejected records,
    let it through to the loader, which reads the file again next run.
    """


@dataclass(frozen=True)
class Listed:
    """One entry of the landing zone: its path relative to the root, size and mtime."""

    location: str
    size: int
    mtime_us: int
    refused: str | None = None  # why it is not read (a link, not a regular file, ...)


def printable_name(name: str) -> str:
    """A path with bytes that are not UTF-8 shown as ``\\xNN`` (storable as text)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _matcher(globs: list[str]) -> Callable[[str], bool]:
    patterns = [re.compile(glob_translate(glob)) for glob in globs]
    return lambda path: any(p.match(path) for p in patterns)


class LandingZone:
    """Where a file-drop system's files are: a local folder or a bucket."""

    def __init__(self, bucket_url: str, globs: list[str], credentials: Any = None) -> None:
        self.bucket_url = bucket_url
        self.matches = _matcher(globs)
        parts = urlsplit(bucket_url)
        self.local = parts.scheme in ("", "file")
        if self.local:
            self.shown = unquote(parts.path) if parts.scheme else bucket_url
            self.root = os.path.realpath(self.shown)
            self.fs: Any = None
        else:
            self.fs, self.root = _bucket(bucket_url, credentials)
            self.scheme = parts.scheme
            self.shown = bucket_url

    def listing(self) -> list[Listed]:
        """Every file the globs select (and every link that could be one), sorted by path.

        Raises:
            LandingZoneMissing: the folder or bucket does not exist.
        """
        found = self._list_local() if self.local else self._list_bucket()
        return sorted(found, key=lambda entry: entry.location)

    def _list_local(self) -> list[Listed]:
        if not os.path.isdir(self.root):
            raise LandingZoneMissing(f"the landing folder {self.shown} does not exist")
        out: list[Listed] = []
        folders = [""]
        while folders:
            folder = folders.pop()
            try:
                entries = os.scandir(os.path.join(self.root, folder))
            except OSError as exc:  # a folder that cannot be listed is recorded, the rest goes on
                if not folder:
                    raise
                reason = f"cannot list the folder ({type(exc).__name__}: {exc.strerror}): not read"
                out.append(Listed(printable_name(folder), 0, 0, reason))
                continue
            with entries:
                for entry in entries:
                    if entry.name.startswith("."):
                        continue
                    location = f"{folder}/{entry.name}" if folder else entry.name
                    if entry.is_symlink():
                        if entry.is_dir() or self.matches(location):
                            out.append(self._refused(entry, location, self._link(entry.path)))
                    elif entry.is_dir(follow_symlinks=False):
                        folders.append(location)
                    elif self.matches(location):
                        out.append(self._local_file(entry, location))
        return out

    def _local_file(self, entry: os.DirEntry[str], location: str) -> Listed:
        if not entry.is_file(follow_symlinks=False):
            return self._refused(entry, location, "not a regular file (a pipe, socket, device)")
        if printable_name(location) != location:
            return self._refused(entry, location, "the file name is not valid UTF-8")
        info = entry.stat(follow_symlinks=False)
        return Listed(location, info.st_size, info.st_mtime_ns // 1000)

    @staticmethod
    def _refused(entry: os.DirEntry[str], location: str, reason: str) -> Listed:
        info = entry.stat(follow_symlinks=False)
        return Listed(printable_name(location), info.st_size, info.st_mtime_ns // 1000, reason)

    def _link(self, path: str) -> str:
        """Why a symbolic link is refused, naming where it points."""
        target = os.path.realpath(path)
        kind = "directory" if os.path.isdir(target) else "file"
        if not os.path.exists(target):
            return "symbolic link to a missing path: refused, not read"
        if not self._inside(target):
            where = printable_name(target)
            return f"symbolic link to {where}, outside the landing zone: refused, not read"
        inside = printable_name(os.path.relpath(target, self.root))
        return (
            f"symbolic link to the {kind} {inside} inside the landing zone: links are not "
            "followed (the target is read under its own name), not read"
        )

    def _inside(self, path: str) -> bool:
        return os.path.commonpath([self.root, path]) == self.root

    def check_unchanged(self, entry: Listed) -> None:
        """Raise ``LandingReadError`` when a listed file's size or modification time is no longer
        what the listing saw (rewritten, cut or replaced since)."""
        try:
            if self.local:
                info = os.stat(os.path.join(self.root, entry.location), follow_symlinks=False)
                now = (info.st_size, info.st_mtime_ns // 1000)
            else:
                from dlt.common.storages.fsspec_filesystem import MTIME_DISPATCH

                details = self.fs.info(posixpath.join(self.root, entry.location))
                modified = MTIME_DISPATCH.get(self.scheme, MTIME_DISPATCH["file"])(details)
                now = (int(details.get("size") or 0),
                       int(modified.timestamp() * 1_000_000) if modified else 0)  # fmt: skip
        except Exception as exc:
            raise LandingReadError(f"{entry.location} cannot be looked at ({exc})") from exc
        if now != (entry.size, entry.mtime_us):
            raise LandingReadError(
                f"{entry.location} changed since it was listed (size {entry.size:,} -> "
                f"{now[0]:,}, modified {entry.mtime_us} -> {now[1]} µs)"
            )

    def _list_bucket(self) -> list[Listed]:
        from dlt.common.storages.fsspec_filesystem import MTIME_DISPATCH

        if not self.fs.exists(self.root) or not self.fs.isdir(self.root):
            raise LandingZoneMissing(f"the landing folder {self.shown} does not exist")
        out = []
        mtime_of = MTIME_DISPATCH.get(self.scheme, MTIME_DISPATCH["file"])
        for path, info in self.fs.find(self.root, detail=True, withdirs=False).items():
            location = posixpath.relpath(path, self.root)
            if any(part.startswith(".") for part in location.split("/")):
                continue  # in-flight copies, as locally
            if info.get("type", "file") == "file" and self.matches(location):
                modified = mtime_of(info)
                mtime_us = int(modified.timestamp() * 1_000_000) if modified else 0
                out.append(Listed(location, int(info.get("size") or 0), mtime_us))
        return out

    def open_raw(self, location: str) -> IO[bytes]:
        """The stored bytes of a listed file.

        Raises:
            RefusedFile: locally, the path became a link or left the folder since the listing.
        """
        if not self.local:
            stream: IO[bytes] = self.fs.open(posixpath.join(self.root, location), "rb")
            return stream
        path = os.path.join(self.root, location)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(path, flags)
        except OSError as exc:
            raise RefusedFile(f"cannot open {location} without following a link ({exc})") from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise RefusedFile(f"{location} is not a regular file")
            opened = os.readlink(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else path
            if not self._inside(os.path.realpath(opened)):
                raise RefusedFile(f"{location} resolves outside the landing zone")
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb")

    def open(self, location: str) -> IO[bytes]:
        """A listed file's content, decompressed when its name ends in ``.gz``; an error while
        reading it raises ``LandingReadError``."""
        raw: IO[bytes] = io.BufferedReader(_ReadErrors(self.open_raw(location), location))
        if location.lower().endswith(".gz"):
            return _OwnedGzip(raw)  # type: ignore[return-value]
        return raw


class _ReadErrors(io.RawIOBase):
    """A binary stream whose storage errors are raised as ``LandingReadError``: an error of
    read, seek or tell, and an end of file before the size the file had when opened."""

    def __init__(self, stream: IO[bytes], location: str) -> None:
        self._stream = stream
        self._location = location
        self._size = _size_of(stream)
        self._position = 0

    def _failed(self, exc: Exception) -> LandingReadError:
        return LandingReadError(f"reading {self._location} failed ({type(exc).__name__}: {exc})")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        try:
            return bool(self._stream.seekable())
        except Exception as exc:
            raise self._failed(exc) from exc

    def readinto(self, buffer: Any) -> int:
        try:
            read = int(self._stream.readinto(buffer))  # type: ignore[attr-defined]
        except Exception as exc:
            raise self._failed(exc) from exc
        if not read and len(buffer) and self._size is not None and self._position < self._size:
            raise LandingReadError(
                f"reading {self._location} failed: it ended at byte {self._position:,} of "
                f"{self._size:,}"
            )
        self._position += read
        return read

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        try:
            self._position = int(self._stream.seek(offset, whence))
        except Exception as exc:
            raise self._failed(exc) from exc
        return self._position

    def tell(self) -> int:
        try:
            return int(self._stream.tell())
        except Exception as exc:
            raise self._failed(exc) from exc

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            super().close()


def _size_of(stream: IO[bytes]) -> int | None:
    """The size of an opened file (fsspec's ``size``, else the descriptor's), None if unknown."""
    try:
        size = getattr(stream, "size", None)
        return int(size) if isinstance(size, int) else os.fstat(stream.fileno()).st_size
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


class _OwnedGzip(gzip.GzipFile):
    """A gzip stream that closes the file it reads from."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__(fileobj=raw, mode="rb")
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


def _bucket(bucket_url: str, credentials: Any) -> tuple[Any, str]:
    """An authenticated fsspec filesystem for a bucket URL and the root path inside it."""
    from dlt.common.configuration.resolve import resolve_configuration
    from dlt.common.storages.configuration import FilesystemConfiguration
    from dlt.common.storages.fsspec_filesystem import fsspec_from_config

    config = resolve_configuration(
        FilesystemConfiguration(),
        explicit_value={"bucket_url": bucket_url, "credentials": credentials},
    )
    fs, _ = fsspec_from_config(config)
    return fs, fs._strip_protocol(bucket_url).rstrip("/")
