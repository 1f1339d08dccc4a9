"""Opening and reading photo files without trusting them: regular files only, never blocking, bounded in size.

What model.images decodes comes through here, a descriptor (`open_regular_file`) or the file's bytes read once
(`read_regular_file`); each raises `ImageError` with the reason alone, and model.images puts the file's name
in front of it.
"""

from __future__ import annotations

import errno
import os
import stat

# Bigger files are refused before they are read: no camera writes a 200 MB photo (a 100-megapixel JPEG is
# about 40 MB), so such a file is a scan, a RAW-sized TIFF or a hostile file, and reading it costs time.
MAX_FILE_BYTES = 200 * 1024 * 1024

_NOT_REGULAR = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
                (stat.S_ISBLK, "a device"))
_LINK = "symbolic link, not followed"
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX; Windows has no FIFOs to block on


class ImageError(ValueError):
    """A file or array that cannot be read as a photo."""


class FileChangedError(ImageError):
    """A file whose size or modification time changed while it was read: its bytes may be part old, part new."""


def read_regular_file(path: str | os.PathLike, follow_links: bool = True) -> bytes:
    """The bytes of the regular file at path, read once to its end; ImageError(reason) where open_regular_file
    refuses it or reading fails, FileChangedError where its size or modification time changed meanwhile."""
    with os.fdopen(open_regular_file(path, follow_links), "rb") as f:
        try:
            before = os.fstat(f.fileno())
            data = f.read(before.st_size + 1)  # one byte more, so that a file that grew meanwhile is seen to
            after = os.fstat(f.fileno())
        except OSError as exc:
            raise ImageError(_os_reason(exc, path)) from None
    if len(data) != before.st_size or (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
        raise FileChangedError("changed while being read")
    return data


def open_regular_file(path: str | os.PathLike, follow_links: bool = True) -> int:
    """A read-only descriptor for path, or ImageError(reason) for anything but a regular file of a size that
    may be read (follow_links=False: a symbolic link is refused too).

    The type is checked with stat before opening, because opening a FIFO waits for a writer for ever and
    reading /dev/zero never ends; the open itself is non-blocking and the type checked again on the
    descriptor, so a file swapped for a FIFO in between cannot hang us either.
    """
    flags = os.O_RDONLY | _NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= 0 if follow_links else getattr(os, "O_NOFOLLOW", 0)
    try:
        st = os.stat(path) if follow_links else os.lstat(path)
    except OSError as exc:
        raise ImageError(_os_reason(exc, path)) from None
    except (ValueError, UnicodeError):  # an embedded NUL, or a str that no file name can be
        raise ImageError("invalid file name") from None
    _check_regular(st)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        loop = exc.errno == errno.ELOOP and not follow_links  # replaced by a link since lstat
        raise ImageError(_LINK if loop else _os_reason(exc, path)) from None
    try:
        _check_regular(os.fstat(fd))
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def check_size(size: int) -> None:
    """ImageError(reason) for a file of size bytes that is not read: empty, or over MAX_FILE_BYTES."""
    if size == 0:
        raise ImageError("empty file")
    if size > MAX_FILE_BYTES:
        raise ImageError(f"file too large ({size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB)")


def _check_regular(st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise ImageError("is a directory")
    if stat.S_ISLNK(st.st_mode):
        raise ImageError(_LINK)
    for test, kind in _NOT_REGULAR:
        if test(st.st_mode):
            raise ImageError(f"not a regular file ({kind})")
    if not stat.S_ISREG(st.st_mode):
        raise ImageError("not a regular file")
    check_size(st.st_size)


def _os_reason(exc: OSError, path: str | os.PathLike) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "broken symbolic link" if os.path.islink(path) else "no such file"
    if exc.errno == errno.ENOTDIR:
        return "no such file (a folder in its path is a file)"
    if exc.errno == errno.ENAMETOOLONG:
        return "file name too long"
    if exc.errno == errno.ENXIO:
        return "not a regular file (no such device)"
    return f"cannot read ({exc.strerror or exc})"
