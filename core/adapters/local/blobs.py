"""Blobs as files: `root/<container>/<name>`, with '/' in names mapped to folders.

Writes stream into a temp file beside the target and are renamed over it, so readers see the
old blob or the new one, never a part. The etag is the file's (mtime_ns, size); a write bumps
mtime past the previous file's, so every write changes the etag even within the file system's
timestamp granularity. An explicit content type is kept in a sidecar under
`root/.loupe-meta/` (outside every container); without one, it is guessed from the name, which
also serves files dropped into the folder by hand.

Limits a folder imposes: a name cannot be both a blob and a folder ("a" and "a/b"), which
raises `Conflict`; name segments starting with `.loupe-` are reserved for temp files.
"""

from __future__ import annotations

import contextlib
import errno
import mimetypes
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from stat import S_ISREG
from typing import BinaryIO

from core.adapters.blob_names import check_blob_name, check_container_name
from core.domain.errors import Conflict, InvalidInput, NotFound
from core.ports import BlobInfo

RESERVED = ".loupe-"
_CHUNK = 1 << 20
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)
_SETTLED_NS = 2_000_000_000
_FOLDERS_REMEMBERED = 100_000
_Keys = list[str]  # `list` is a method name inside the class


class FolderBlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root
        self._meta = root / f"{RESERVED}meta"
        self._root_text = str(root)
        self._folders: dict[Path, tuple[int, _Keys]] = {}
        root.mkdir(parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        """The folder that holds one folder per container (what a folder watcher watches)."""
        return self._root

    def _path(self, container: str, name: str) -> Path:
        return Path(self._file(container, name))

    def _file(self, container: str, name: str) -> str:
        """The blob's file as text: a checked name's segments are plain folder names, so
        joining with '/' is what `Path.joinpath` does, at a fraction of its cost."""
        check_container_name(container)
        check_blob_name(name)
        if RESERVED in name and any(part.startswith(RESERVED) for part in name.split("/")):
            raise InvalidInput.one("name", f"name segments must not start with {RESERVED!r}")
        return f"{self._root_text}/{container}/{name}"

    def _sidecar(self, container: str, name: str) -> Path:
        return self._meta.joinpath(container, *name.split("/"))

    def put(
        self,
        container: str,
        name: str,
        data: bytes | BinaryIO,
        *,
        content_type: str | None = None,
        overwrite: bool = True,
    ) -> BlobInfo:
        path = self._path(container, name)
        fd, temp = _temp_beside(path, f"{container}/{name}")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(data, bytes | bytearray | memoryview):
                    out.write(data)
                else:
                    shutil.copyfileobj(data, out, _CHUNK)
            _advance_mtime(temp, path)
            _place(temp, path, overwrite, f"{container}/{name}")
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        self._set_content_type(container, name, content_type)
        return self.info(container, name)

    def _set_content_type(self, container: str, name: str, content_type: str | None) -> None:
        sidecar = self._sidecar(container, name)
        if content_type is None:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                sidecar.unlink()
            return
        fd, temp = _temp_beside(sidecar, f"{container}/{name}")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(content_type)
        os.replace(temp, sidecar)

    def _content_type(self, container: str, name: str) -> str | None:
        try:
            return self._sidecar(container, name).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return mimetypes.guess_type(name, strict=False)[0]

    def get(self, container: str, name: str) -> bytes:
        with self._open(container, name) as file:
            return file.read()

    def _open(self, container: str, name: str) -> BinaryIO:
        try:
            return self._path(container, name).open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"no blob {name!r} in container {container!r}") from None

    def stream(self, container: str, name: str, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """Chunks read with the file opened for each and closed at once: a reader that stops
        midway (a download whose client went away) leaves nothing open, even before its
        generator is collected. A blob replaced or deleted meanwhile fails the read with
        `Conflict`, as Azure's ETag-checked ranges do, rather than mixing two versions."""
        path = self._file(container, name)
        try:  # NotFound comes before any chunk; a header probe reads only this one
            first, head = _read_at(path, 0, chunk_size)
        except FileNotFoundError:
            raise NotFound(f"no blob {name!r} in container {container!r}") from None

        def chunks() -> Iterator[bytes]:
            if not head:
                return
            yield head
            if len(head) < chunk_size:
                return  # the whole file was in the first read
            offset = len(head)
            while True:
                try:
                    version, chunk = _read_at(path, offset, chunk_size)
                except FileNotFoundError:
                    version, chunk = None, b""
                if version != first:
                    raise Conflict(f"{container}/{name} changed while being read")
                if not chunk:
                    return
                offset += len(chunk)
                yield chunk

        return chunks()

    def info(self, container: str, name: str) -> BlobInfo:
        try:
            found = self._path(container, name).stat()
        except (FileNotFoundError, NotADirectoryError):
            found = None
        if found is None or not S_ISREG(found.st_mode):
            raise NotFound(f"no blob {name!r} in container {container!r}")
        return self._info(container, name, found)

    def _info(
        self, container: str, name: str, stat: os.stat_result, *, sidecars: bool = True
    ) -> BlobInfo:
        """`sidecars=False`: the blob's folder has no content types set (a listing checks
        once per folder, not once per file)."""
        return BlobInfo(
            container=container,
            name=name,
            size=stat.st_size,
            etag=f"{stat.st_mtime_ns:x}-{stat.st_size:x}",
            last_modified=datetime.fromtimestamp(stat.st_mtime_ns / 1e9, UTC),
            content_type=self._content_type(container, name)
            if sidecars
            else mimetypes.guess_type(name, strict=False)[0],
        )

    def exists(self, container: str, name: str) -> bool:
        return self._path(container, name).is_file()

    def list(self, container: str, prefix: str = "") -> Iterator[BlobInfo]:
        check_container_name(container)
        return self._walk(container, self._root / container, "", prefix)

    def list_since(self, container: str, prefix: str, since: datetime) -> Iterator[BlobInfo]:
        """A folder's entries change (its ctime moves) when a file is created, renamed into
        it or removed, and a file's ctime moves when it is written, renamed or linked: so a
        folder unchanged since `since` holds no new file, and is only walked through for its
        subfolders (remembered while it stays unchanged). An idle sweep stats each folder."""
        check_container_name(container)
        since_ns = round(since.timestamp() * 1_000_000) * 1000
        return self._walk(container, self._root / container, "", prefix, since_ns)

    def _walk(
        self, container: str, folder: Path, base: str, prefix: str, since_ns: int | None = None
    ) -> Iterator[BlobInfo]:
        """Depth first with each folder's entries sorted as `name/` and files as `name`: the
        order of the full names, because every name under `d/` sorts right after `d/`."""
        if since_ns is not None:
            try:
                changed = _changed_ns(os.stat(folder))
            except (FileNotFoundError, NotADirectoryError):
                return
            if changed < since_ns:
                for key in self._subfolders(folder, changed):
                    name = base + key
                    if name.startswith(prefix) or prefix.startswith(name):
                        yield from self._walk(container, folder / key[:-1], name, prefix, since_ns)
                return
        try:
            with os.scandir(folder) as scan:
                entries = [e for e in scan if not e.name.startswith(RESERVED)]
        except (FileNotFoundError, NotADirectoryError):
            return
        keyed = sorted((e.name + "/" if e.is_dir() else e.name, e) for e in entries)
        sidecars = self._meta.joinpath(container, *base.split("/")).is_dir()
        for key, entry in keyed:
            name = base + key
            if key.endswith("/"):
                if name.startswith(prefix) or prefix.startswith(name):
                    yield from self._walk(container, Path(entry.path), name, prefix, since_ns)
            elif name.startswith(prefix) and entry.is_file():
                with contextlib.suppress(FileNotFoundError):  # deleted meanwhile
                    found = entry.stat()
                    if since_ns is None or _changed_ns(found) >= since_ns:
                        yield self._info(container, name, found, sidecars=sidecars)

    def _subfolders(self, folder: Path, changed: int) -> _Keys:
        """`folder`'s subfolders as sorted `name/` keys, remembered by the folder's change
        time; only once that time is well past (timestamps may be coarser than a write)."""
        cached = self._folders.get(folder)
        if cached is not None and cached[0] == changed:
            return cached[1]
        try:
            with os.scandir(folder) as scan:
                keys = sorted(e.name + "/" for e in scan if _is_folder(e))
        except (FileNotFoundError, NotADirectoryError):
            return []
        if time.time_ns() - changed > _SETTLED_NS:
            if len(self._folders) >= _FOLDERS_REMEMBERED:
                self._folders.clear()
            self._folders[folder] = (changed, keys)
        return keys

    def delete(self, container: str, name: str) -> None:
        path = self._path(container, name)
        for file, top in ((path, self._root / container), (self._sidecar(container, name), None)):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                file.unlink()
            _prune(file.parent, top or self._meta / container)

    def url(self, container: str, name: str, *, expires_in_s: int = 3600) -> str | None:
        self._path(container, name)
        return None  # a folder has no links of its own: the API serves it (core.domain.links)

    def write_url(self, container: str, name: str, *, expires_in_s: int = 900) -> str | None:
        self._path(container, name)
        return None  # the API takes the upload on a write link of its own

    def close(self) -> None:
        pass


def _read_at(path: str, offset: int, size: int) -> tuple[tuple[int, ...], bytes]:
    """(the file's `_identity`, up to `size` bytes of it from `offset`), opened and closed
    here; `FileNotFoundError` for a missing file or one that is not a regular file."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except (NotADirectoryError, IsADirectoryError):
        raise FileNotFoundError(path) from None
    try:
        stat = os.fstat(fd)
        if not S_ISREG(stat.st_mode):
            raise FileNotFoundError(path)
        if offset:
            os.lseek(fd, offset, os.SEEK_SET)
        # No more than the file holds, and a byte to see its end: a read sized for a large
        # chunk allocates (and maps) that much memory even for a 1 KB file.
        held = max(stat.st_size - offset, 0)
        data = os.read(fd, min(size, held + 1))
        while len(data) < min(size, held) and (more := os.read(fd, size - len(data))):
            data += more  # a short read (a network file system): read on, as `read` does
        return _identity(stat), data
    finally:
        os.close(fd)


def _changed_ns(stat: os.stat_result) -> int:
    return max(stat.st_ctime_ns, stat.st_mtime_ns)


def _is_folder(entry: os.DirEntry[str]) -> bool:
    return not entry.name.startswith(RESERVED) and entry.is_dir()


def _identity(stat: os.stat_result) -> tuple[int, int, int, int]:
    """Which version of a file this is: a write replaces the file and moves its mtime."""
    return stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size


def _temp_beside(target: Path, label: str) -> tuple[int, str]:
    """A new temp file in `target`'s folder (created if need be), for an atomic rename."""
    for _ in range(3):  # a concurrent delete may prune the folder just made
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(prefix=f"{RESERVED}tmp-", dir=target.parent)
        except (FileExistsError, NotADirectoryError):
            raise Conflict(f"{label}: a blob exists where a folder of blobs is needed") from None
        except FileNotFoundError:
            continue
    raise Conflict(f"{label}: its folder keeps disappearing (concurrent deletes)")


def _advance_mtime(temp: str, target: Path) -> None:
    """Make the new file's mtime later than the one it replaces, so the etag changes."""
    try:
        old = target.stat().st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return
    new = os.stat(temp)
    if new.st_mtime_ns <= old:
        os.utime(temp, ns=(new.st_atime_ns, old + 1))


def _place(temp: str, target: Path, overwrite: bool, label: str) -> None:
    if target.is_dir():
        raise Conflict(f"{label} is a folder of other blobs")
    if overwrite:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)  # atomic create-if-absent
    except FileExistsError:
        raise Conflict(f"blob {label} already exists") from None
    except OSError as error:  # a file system without hard links
        if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
        if target.exists():
            raise Conflict(f"blob {label} already exists") from None
        os.replace(temp, target)
        return
    os.unlink(temp)


def _prune(folder: Path, top: Path) -> None:
    """Remove folders left empty by a delete, up to (not including) `top`."""
    while folder != top and top in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
