"""How snn2hw behaves when it is interrupted: SIGTERM as an exception, short uninterruptible commits, a test hook.

* :class:`Terminated` is raised by the SIGTERM handler that :func:`install_sigterm_handler`
  installs (the CLI does); it subclasses ``KeyboardInterrupt`` so every ``finally`` and
  ``except BaseException`` cleanup that runs for Ctrl-C runs for ``kill`` too.
* :func:`deferred_interrupts` holds SIGINT / SIGTERM back while a set of renames commits
  (milliseconds), so a signal cannot leave a mix of old and new files; the held signal is
  delivered as soon as the block ends.
* :func:`fault_point` is the one test hook, a no-op unless ``SNN2HW_TEST_FAULT_AT=<stage>``
  is set. When the process reaches that stage it does what ``SNN2HW_TEST_FAULT`` says:
  ``pause`` (default: print ``SNN2HW_PAUSED <stage>`` on stderr and sleep
  ``SNN2HW_TEST_PAUSE_S`` seconds, default 30, or until :func:`deferred_interrupts` holds a
  signal, so a test can send a signal at a known point), ``SIGINT`` / ``SIGTERM`` (send it to
  itself) or ``ENOSPC`` (raise that ``OSError``, a full disk). ``SNN2HW_TEST_FAULT_AT=*``
  with ``SNN2HW_TEST_FAULT=trace`` prints ``SNN2HW_STAGE <stage>`` at every stage instead.
  Stages: ``export:<format>`` (before each format is written into the temporary folder),
  ``export:manifest`` (all formats written), ``report:written`` (report files in the
  temporary folder), ``atomic:<file name>`` (a file written beside its target, before the
  rename) and ``commit:<label>`` (after the first rename of :func:`~snn2hw.util.atomic.commit_files`).
"""
from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import threading
import time

FAULT_AT_ENV = "SNN2HW_TEST_FAULT_AT"
FAULT_ENV = "SNN2HW_TEST_FAULT"
PAUSE_SECONDS_ENV = "SNN2HW_TEST_PAUSE_S"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_held: list = []  # signals received inside deferred_interrupts, delivered when it ends


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM (``kill``); handled like Ctrl-C, reported with exit status 143."""


def _raise_terminated(signum, frame):
    raise Terminated()


def install_sigterm_handler() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread (no-op elsewhere)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)


@contextlib.contextmanager
def deferred_interrupts():
    """Hold SIGINT and SIGTERM during the block; deliver them (once each) right after it."""
    old = {s: signal.getsignal(s) for s in _SIGNALS}
    if threading.current_thread() is not threading.main_thread() or None in old.values():
        yield  # signals can only be handled in the main thread; a C-level handler cannot be restored
        return
    for s in _SIGNALS:
        signal.signal(s, lambda signum, frame: _held.append(signum))
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        held = list(dict.fromkeys(_held))
        _held.clear()
        for s in held:
            signal.raise_signal(s)  # the restored handler runs now (KeyboardInterrupt, Terminated, ...)


def fault_point(stage: str) -> None:
    """Test hook: act at ``stage`` when ``$SNN2HW_TEST_FAULT_AT`` names it (see the module docstring)."""
    at = os.environ.get(FAULT_AT_ENV)
    if at is None or at not in (stage, "*"):
        return
    action = os.environ.get(FAULT_ENV, "pause")
    if action == "trace":
        sys.stderr.write(f"SNN2HW_STAGE {stage}\n")
    elif at == "*":
        return
    elif action == "ENOSPC":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    elif action in ("SIGINT", "SIGTERM"):
        signal.raise_signal(getattr(signal, action))
    else:
        sys.stderr.write(f"SNN2HW_PAUSED {stage}\n")
        sys.stderr.flush()
        deadline = time.monotonic() + float(os.environ.get(PAUSE_SECONDS_ENV, "30"))
        while time.monotonic() < deadline and not _held:
            time.sleep(0.02)
