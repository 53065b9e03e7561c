"""Atomic file writes: write to a temporary file beside the target, then rename.

A failure (exception, SIGINT, SIGTERM via :mod:`snn2hw.util.faults`) inside the
``with`` block removes the temporary file and leaves any previous file at the
target untouched. An ``OSError`` while writing (disk full, file size limit, no
permission) becomes :class:`~snn2hw.errors.OutputError` naming the target.

:func:`commit_files` moves a set of finished files into place as one unit: all
renamed, or (on an error) every target as it was before.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from snn2hw.errors import OutputError
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


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with deferred_interrupts():  # no signal between creating the temporary file and knowing its name
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.close(fd)
        yield Path(tmp)
        fault_point(f"atomic:{path.name}")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        _fsync(tmp)
        os.replace(tmp, path)
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
    is left for the caller to delete with its temporary folder.
    """
    moves = [(Path(s), Path(d)) for s, d in moves]
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
