"""Atomic file writes: write to a temporary file beside the target, then rename.

A failure (exception, SIGINT, SIGTERM via :mod:`snn2hw.util.faults`) inside the
``with`` block removes the temporary file and leaves any previous file at the
target untouched. An ``OSError`` while writing (disk full, file size limit, no
permission) becomes :class:`~snn2hw.errors.OutputError` naming the target.

:func:`commit_files` moves a set of finished files into place as one unit: all
renamed, or (on an error) every target as it was before.

Output targets: a rename replaces whatever node is at the target, so :func:`check_output_target`
runs first, in :func:`atomic_path` and :func:`commit_files` and, through :func:`output_option`,
on every CLI ``--out`` / ``--json`` before any work. It refuses an existing character or block
device, fifo, socket, a symbolic link to anything but a regular file (a folder for a folder
output) or to nothing, a folder where a file is written and a file where a folder is, and
``-``. ``/dev/null`` is refused like any device: snn2hw has no discard mode (write into a
temporary folder and delete it). A symbolic link to a regular file is followed: the file it
points to is replaced, the link stays.
"""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from snn2hw.errors import OutputError, OutputTargetError
from snn2hw.util.faults import deferred_interrupts, fault_point


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync(path) -> None:
    """Flush a finished file to disk before it is renamed, so a crash cannot leave an empty target."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_NODE_KINDS = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
               (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
               (stat.S_ISFIFO, "a fifo (named pipe)"), (stat.S_ISSOCK, "a socket"))


def node_kind(mode: int) -> str:
    """What an ``st_mode`` is, in words: "a regular file", "a folder", "a character device", "a fifo (named pipe)"..."""
    return next((what for test, what in _NODE_KINDS if test(mode)), "a special file")


def _refuse(path, name: str, what: str, kind: str, replaces: str | None = "it"):
    """The error for an output ``name`` where ``what`` (e.g. "it is a fifo (named pipe)") is in the way."""
    want = "a regular file" if kind == "file" else "a folder"
    why = f" (an output is renamed into place, which would replace {replaces})" if kind == "file" and replaces else ""
    return OutputTargetError(path, f"cannot write {name}: {what}. snn2hw writes only to a path that does not exist "
                                   f"yet or is {want}{why}. Choose another path; to discard an output, write it into "
                                   f"a temporary folder and delete that")


def _check_parents(path: Path, name: str, kind: str) -> None:
    """The nearest existing folder above ``path`` must be a folder (following symbolic links)."""
    for parent in path.parents:
        try:
            st = os.stat(parent)
        except (FileNotFoundError, NotADirectoryError):
            continue  # does not exist (yet), or a component above it is not a folder: look further up
        except OSError as e:
            raise OutputError(path, e) from e
        if not stat.S_ISDIR(st.st_mode):
            raise _refuse(path, name, f"{parent} is {node_kind(st.st_mode)}, not a folder", kind, None)
        return


def check_output_target(path, kind: str = "file", label: str | None = None) -> Path:
    """Refuse an output ``path`` that writing would replace or misuse (see the module doc); return the path to
    write: ``path`` itself, or the file (``kind='file'``) or folder (``kind='folder'``) a symbolic link points to.

    Raises :class:`~snn2hw.errors.OutputTargetError` naming ``path`` (prefixed by ``label``, e.g. the option)
    and what it is. Nothing is created or changed.
    """
    if kind not in ("file", "folder"):
        raise ValueError(f"kind must be 'file' or 'folder', not {kind!r}")
    name = f"{label} {path}" if label else str(path)
    if str(path) == "-":
        raise OutputTargetError(path, f"cannot write {name}: '-' (standard output) is not supported as an output; "
                                      f"give the path of a {kind}")
    p = Path(path)
    try:
        lst = os.lstat(p)
    except (FileNotFoundError, NotADirectoryError):
        _check_parents(p, name, kind)
        return p
    except OSError as e:
        raise OutputError(p, e) from e
    want = stat.S_ISREG if kind == "file" else stat.S_ISDIR
    if not stat.S_ISLNK(lst.st_mode):
        if want(lst.st_mode):
            return p
        what = node_kind(lst.st_mode)
        if kind == "file" and stat.S_ISDIR(lst.st_mode):
            raise OutputTargetError(p, f"cannot write {name}: it is a folder, not a file; give the path of a file "
                                       f"(e.g. inside that folder)")
        raise _refuse(p, name, f"it is {what}", kind)
    link = os.readlink(p)
    try:
        st = os.stat(p)
    except OSError as e:
        why = "which does not exist" if e.errno in (errno.ENOENT, errno.ENOTDIR) else os.strerror(e.errno or 0)
        raise _refuse(p, name, f"it is a symbolic link to {link}, {why}", kind, "the link") from None
    if want(st.st_mode):
        return Path(os.path.realpath(p))
    raise _refuse(p, name, f"it is a symbolic link to {link}, {node_kind(st.st_mode)}", kind, "the link")


def check_output_folder(folder, files=(), folders=(), label: str | None = None) -> Path:
    """:func:`check_output_target` for an output folder and the ``files`` and ``folders`` (names relative to
    it) written inside it, all before any work; returns the folder to write."""
    out = check_output_target(folder, "folder", label)
    for names, kind in ((files, "file"), (folders, "folder")):
        for n in names:
            check_output_target(Path(folder) / n, kind, label)
    return out


def output_option(kind: str = "file"):
    """A click option callback that runs :func:`check_output_target` on the option's value (when given), so a
    command refuses a bad output path while its options are parsed, before any work."""
    def callback(ctx, param, value):
        if value is not None:
            check_output_target(value, kind, label=param.opts[0] if param.opts else None)
        return value
    return callback


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    ``path`` is checked first (:func:`check_output_target`): a device, fifo or socket there is refused, a
    symbolic link to a regular file is followed (the file it points to is replaced).
    """
    path = Path(path)
    target = check_output_target(path, "file")
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with deferred_interrupts():  # no signal between creating the temporary file and knowing its name
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
            os.close(fd)
        yield Path(tmp)
        fault_point(f"atomic:{path.name}")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException as e:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(e, OSError):
            raise OutputError(path, e) from e
        raise


def write_text(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)
    return Path(path)


def write_bytes(path, data: bytes) -> Path:
    """Atomic write of bytes built in memory: how HDF5 files are written (NIR, Lava netx).

    HDF5 writing straight to a file that fails part-way (a full disk) can crash the process
    (h5py segfaults while closing it); an in-memory image written by Python fails cleanly.
    """
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


def commit_files(moves, backup_dir, label: str = "files") -> None:
    """Rename each finished ``src`` onto its ``dst`` (``moves``: ``[(src, dst), ...]``), all or nothing.

    Every ``src`` must be on the same file system as its ``dst`` (a temporary folder beside the
    output). A previous ``dst`` is first renamed into ``backup_dir`` (created here, same file
    system), so an ``OSError`` part-way renames every previous file back and removes the new ones
    and the folders made for them. SIGINT / SIGTERM are held until the renames are done (they
    take milliseconds): an interrupt never leaves a mix of old and new files. ``backup_dir``
    is left for the caller to delete with its temporary folder. Every ``dst`` is checked
    (:func:`check_output_target`) before anything is renamed.
    """
    moves = [(Path(s), check_output_target(d, "file")) for s, d in moves]
    with deferred_interrupts():
        backup_dir = Path(backup_dir)
        backup_dir.mkdir(parents=True, exist_ok=True)
        existed = [d.exists() for _, d in moves]
        made_dirs = []
        try:
            for i, (src, dst) in enumerate(moves):
                for parent in reversed(dst.parents):
                    if not parent.exists():
                        parent.mkdir()
                        made_dirs.append(parent)
                if existed[i]:
                    os.replace(dst, backup_dir / str(i))
                os.replace(src, dst)
                if i == 0:
                    fault_point(f"commit:{label}")
        except BaseException:
            # undo from what is on disk, not from bookkeeping that the error may have cut short
            for i, (src, dst) in enumerate(moves):
                bak = backup_dir / str(i)
                if bak.exists():
                    os.replace(bak, dst)
                elif not existed[i] and not src.exists() and dst.exists():
                    os.unlink(dst)
            for d in reversed(made_dirs):
                with contextlib.suppress(OSError):
                    d.rmdir()
            raise
