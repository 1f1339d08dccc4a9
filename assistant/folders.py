"""Photo folders on disk: which files are photos, and how they are named in the index.

The index names a file by its absolute path as text: undecodable bytes become `\\xff`-style escapes and a
backslash is doubled, so that no two paths share a name (a file named with the byte 0xff and one named with
the four characters backslash, x, f, f did) and path_of gives back the exact bytes of any name.

The rule for links: seesay reads only what lies inside the folders it was given. Symbolic links met while
walking a folder (to files or to folders) are not followed, because their targets may lie anywhere on
the machine; a folder named on the command line is used as given, even when it is itself a link. Only
regular files are read: a FIFO, socket or device named like a photo would block or never end.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

from store import FileInfo, Store

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".heic", ".heif"})
TEMPORARY_SUFFIXES = ("~", ".tmp", ".part", ".crdownload", ".swp")
KEPT = "; what the index holds in it is kept"  # said of a folder not read, where an index is being updated


def is_photo_name(name: str) -> bool:
    """A file name worth reading as a photo: a photo suffix, not hidden, not a temporary file."""
    if name.startswith(".") or name.endswith(TEMPORARY_SUFFIXES):
        return False
    return Path(name).suffix.lower() in PHOTO_SUFFIXES


def index_name(path: str | bytes | os.PathLike) -> str:
    """The path as the index records it: absolute, and valid UTF-8 even when the file name is not (undecodable
    bytes become backslash escapes and a backslash is doubled, the same way every time)."""
    return _escaped(os.fsencode(os.path.abspath(path)))


def _escaped(raw: bytes) -> str:
    return raw.replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace")


def _older_name(path: str | bytes | os.PathLike) -> str:
    """The name the index gave path before backslashes were doubled (a backslash stood for itself)."""
    return os.fsencode(os.path.abspath(path)).decode("utf-8", "backslashreplace")


_ESCAPE = re.compile(r"\\(?:\\|x([0-9a-f]{2}))")


def _unescaped(name: str) -> bytes | None:
    """The bytes of the path whose index name is name; None where no path has that name."""
    raw, start = bytearray(), 0
    try:
        for m in _ESCAPE.finditer(name):
            raw += name[start:m.start()].encode("utf-8")
            raw += bytes([int(m[1], 16)]) if m[1] else b"\\"
            start = m.end()
        raw += name[start:].encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no index name holds one
        return None
    return bytes(raw) if index_name(bytes(raw)) == name else None


def path_of(name: str) -> str:
    """The file an index name stands for, to open or look up: os.fsencode(path_of(index_name(p))) gives back
    the exact bytes of p's absolute path. A name that no path has by this rule (recorded before backslashes
    were doubled, where a backslash stood for itself) is read as written."""
    if not isinstance(name, str):
        raise ValueError(f"an index name is text, got {name!r}")
    raw = _unescaped(name)
    return os.fsdecode(raw) if raw is not None else name


def shown_name(name: str) -> str:
    """An index name as a user reads it: the file's path through display_path, on one line."""
    from model.images import display_path

    return display_path(path_of(name))


def script_path(name: str) -> str:
    """An index name as the text of its file's path, for scripts (`search --json`, `export`): the path exactly
    where it is valid UTF-8 (one backslash where the index doubles it), undecodable bytes as `\\xff` escapes;
    the name the index gave it before backslashes were doubled."""
    return _older_name(path_of(name))


def _names_a_file(name: str) -> bool:
    """Whether a file (or link) on disk has this index name now."""
    raw = _unescaped(name)
    return raw is not None and os.path.lexists(raw)


def index_names(path: str | bytes | os.PathLike) -> list[str]:
    """The names the index may hold path under: its name, and the one given before backslashes were
    doubled where that differs and is no other file's name now (a path with a backslash, indexed before)."""
    names = [index_name(path)]
    if (older := _older_name(path)) != names[0] and not _names_a_file(older):
        names.append(older)
    return names


def recorded_under(store: Store, folders: Sequence[str | bytes | os.PathLike]) -> set[str]:
    """Every name the index holds inside folders (files and failures), those given before backslashes
    were doubled included, but not another file's name now (folder `a\\\\b` was the name of `a\\b`)."""
    names = store.paths_under([index_name(f) for f in folders])
    older = [name for f in folders if (name := _older_name(f)) != index_name(f)]
    if older:  # only for folders with a backslash in their path: each call reads every recorded name
        names |= {n for n in store.paths_under(older) - names if not _names_a_file(n)}
    return names


def regular_file(path: str | os.PathLike) -> tuple[FileInfo | None, str | None]:
    """(FileInfo, None) for a regular file; (FileInfo or None, why) for anything seesay will not read.

    Links are not followed. The FileInfo of a skipped entry lets the index remember the skip until it changes.
    """
    try:
        st = os.lstat(path)
    except OSError as exc:
        return None, exc.strerror or str(exc)
    info = FileInfo(index_name(path), st.st_size, st.st_mtime)
    if stat.S_ISLNK(st.st_mode):
        return info, "symbolic link, not followed (it may point outside the folder)"
    if not stat.S_ISREG(st.st_mode):
        return info, "not a regular file"
    return info, None


def walk_photos(folders: Sequence[str | os.PathLike]) -> Iterator[tuple[Path, FileInfo | None, str | None]]:
    """(path, FileInfo, reason skipped or None) for each photo-named entry under folders, in sorted order.

    Hidden files and folders and temporary files are passed over silently; unreadable folders (no
    permission, a path too long to open) and links are reported as skipped, with no FileInfo: what the
    index holds under them is not known to be gone.
    """
    unread: list[OSError] = []
    for folder in folders:
        for root, dirs, files in os.walk(folder, onerror=unread.append, followlinks=False):
            while unread:
                yield _unread_folder(unread.pop(0))
            kept = []
            for d in sorted(dirs):
                if d.startswith("."):
                    continue
                if os.path.islink(os.path.join(root, d)):
                    yield Path(root) / d, None, "symbolic link to a folder, not followed"
                else:
                    kept.append(d)
            dirs[:] = kept
            for name in sorted(files):
                if is_photo_name(name):
                    path = Path(root) / name
                    yield (path, *regular_file(path))
        while unread:
            yield _unread_folder(unread.pop(0))


def _unread_folder(exc: OSError) -> tuple[Path, None, str]:
    why = "name too long to open" if exc.errno == errno.ENAMETOOLONG else (exc.strerror or str(exc)).lower()
    return Path(exc.filename or "?"), None, f"folder not read ({why}){KEPT}"
