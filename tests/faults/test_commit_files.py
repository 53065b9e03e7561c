"""``commit_files`` (all-or-nothing renames) and ``deferred_interrupts``, with failures at every step.

``os.replace`` is made to fail at its k-th call for every k: the targets must then be
exactly as before (old files back, new files and new folders gone); without a
failure they must all be new. A signal inside ``deferred_interrupts`` must arrive
only after the block, through the handler that was in place.
"""
from __future__ import annotations

import errno
import os
import signal

import pytest

from faultkit import snapshot
from snn2hw.util import atomic
from snn2hw.util.faults import Terminated, deferred_interrupts, install_sigterm_handler

# (target, has a previous version): a mix of replaced files, new files and a new nested folder
TARGETS = [("a.bin", True), ("sub/b.bin", True), ("sub/c.bin", False), ("new/deep/d.bin", False), ("e.bin", True)]
N_REPLACE = sum(2 if old else 1 for _, old in TARGETS)  # a previous file is first moved to the backup


def _setup(tmp_path):
    out, staging = tmp_path / "out", tmp_path / "staging"
    for name, old in TARGETS:
        if old:
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            (out / name).write_bytes(b"old " + name.encode())
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        (staging / name).write_bytes(b"new " + name.encode())
    moves = [(staging / n, out / n) for n, _ in TARGETS]
    return out, staging, moves


@pytest.mark.parametrize("fail_at", range(N_REPLACE))
def test_failure_at_any_rename_restores_everything(tmp_path, monkeypatch, fail_at):
    out, staging, moves = _setup(tmp_path)
    before = snapshot(out)
    calls, real = [], os.replace

    def flaky(src, dst):
        calls.append((src, dst))
        if len(calls) == fail_at + 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", flaky)
    with pytest.raises(OSError):
        atomic.commit_files(moves, staging / ".backup")
    monkeypatch.undo()
    assert snapshot(out) == before


def test_success_replaces_all(tmp_path):
    out, staging, moves = _setup(tmp_path)
    atomic.commit_files(moves, staging / ".backup")
    assert {n: (out / n).read_bytes() for n, _ in TARGETS} == {n: b"new " + n.encode() for n, _ in TARGETS}
    assert sorted(p.name for p in (staging / ".backup").iterdir()) == ["0", "1", "4"]  # the old versions


def test_signal_is_held_until_the_block_ends():
    seen = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_interrupts():
            signal.raise_signal(signal.SIGINT)
            seen.append("block finished")  # not reached if the signal were acted on at once
    assert seen == ["block finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_becomes_terminated_and_is_held_too():
    old = signal.getsignal(signal.SIGTERM)
    install_sigterm_handler()
    try:
        with pytest.raises(Terminated):
            signal.raise_signal(signal.SIGTERM)
        seen = []
        with pytest.raises(Terminated):
            with deferred_interrupts():
                signal.raise_signal(signal.SIGTERM)
                seen.append("block finished")
        assert seen == ["block finished"]
    finally:
        signal.signal(signal.SIGTERM, old)
