"""Checkpoints whose pickle would import or run code, through every command that reads a checkpoint.

Each payload, if executed or imported, creates a marker file; the property is exit 2
with an ``error:`` naming the file, and no marker. tests/cli/test_cli.py has the basic
``__reduce__`` -> os.system case in a zip archive; this file adds hand-written opcode
streams (GLOBAL/STACK_GLOBAL + REDUCE, INST, OBJ, BUILD), module-importing payloads,
payloads nested in an otherwise valid bundle, the legacy (non-zip) torch format and
an ``.npz`` with an object array.
"""
import os
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from harness import check_outcome, run_cli, snapshot

MARKER_MODULE = "snn2hw_robustness_marker"


class _Payload:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def _raw(opcodes: bytes) -> bytes:
    return b"\x80\x02" + opcodes + b"."


def payloads(marker: Path) -> dict:
    cmd = f"touch {marker}"
    q = repr(cmd).encode()
    return {
        "global_os_system": _raw(b"cos\nsystem\n(V" + cmd.encode() + b"\ntR"),
        "global_posix_system": _raw(b"cposix\nsystem\n(V" + cmd.encode() + b"\ntR"),
        "builtins_exec": _raw(b"cbuiltins\nexec\n(V__import__('os').system(" + q + b")\ntR"),
        "builtins_eval": _raw(b"cbuiltins\neval\n(V__import__('os').system(" + q + b")\ntR"),
        "subprocess_call": _raw(b"csubprocess\ncall\n((Vtouch\nV" + str(marker).encode() + b"\nltR"),
        "stack_global": b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c" + bytes([len(cmd)]) + cmd.encode()
                        + b"\x85R.",
        "inst_opcode": b"(V" + cmd.encode() + b"\nios\nsystem\n.",
        "obj_opcode": b"(cos\nsystem\nV" + cmd.encode() + b"\no.",
        "import_module": _raw(b"c" + MARKER_MODULE.encode() + b"\nvalue\n."),
        "importlib": _raw(b"cimportlib\nimport_module\n(V" + MARKER_MODULE.encode() + b"\ntR"),
        "build_setstate": _raw(b"ccollections\nOrderedDict\n)R}V__setstate__\ncos\nsystem\nsb"),
        "zip_reduce_in_state_dict": _torch({"format": "snn2hw-checkpoint", "version": 1, "arch": "digits_conv",
                                            "arch_kwargs": {}, "state_dict": {"w": _Payload(os.system, (cmd,))}}),
        "zip_reduce_in_metrics": _torch({"format": "snn2hw-checkpoint", "version": 1, "arch": "digits_conv",
                                         "arch_kwargs": {}, "state_dict": {},
                                         "metrics": {"acc": _Payload(eval, (f"__import__('os').system({cmd!r})",))}}),
        "zip_import": _torch({"x": _Payload(__import__, (MARKER_MODULE,))}),
        "legacy_reduce": _torch({"state_dict": _Payload(os.system, (cmd,))}, legacy=True),
    }


def _torch(obj, legacy=False) -> bytes:
    import io
    buf = io.BytesIO()
    torch.save(obj, buf, _use_new_zipfile_serialization=not legacy)
    return buf.getvalue()


@pytest.fixture
def marker_env(tmp_path, monkeypatch):
    """A marker path and an importable module that creates it on import."""
    marker = tmp_path / "pwned"
    mod_dir = tmp_path / "mods"
    mod_dir.mkdir()
    (mod_dir / f"{MARKER_MODULE}.py").write_text(f"open({str(marker)!r}, 'w').close()\nvalue = 1\n")
    monkeypatch.syspath_prepend(str(mod_dir))
    sys.modules.pop(MARKER_MODULE, None)
    return marker


NAMES = sorted(payloads(Path("/x")))
COMMANDS = {
    "inspect": lambda f, w, s: ["inspect", f],
    "convert": lambda f, w, s: ["convert", f, "--out", w / "o.s2h"],
    "export": lambda f, w, s: ["export", f, "--out", w / "exp"],
    "simulate": lambda f, w, s: ["simulate", f, "--samples", "2", "--out", w / "sim"],
    "compress": lambda f, w, s: ["compress", f, "--method", "magnitude", "--ratio", "0.5", "--data",
                                 s / "data.npz", "--out", w / "c.pt"],
    "finetune": lambda f, w, s: ["finetune", f, "--data", s / "data.npz", "--out", w / "f.pt"],
}


@pytest.mark.parametrize("name", NAMES)
def test_hostile_pickle_refused_by_every_reader(seeds, tmp_path, marker_env, name):
    work = tmp_path / "work"
    work.mkdir()
    f = work / f"{name}.pt"
    f.write_bytes(payloads(marker_env)[name])
    before = snapshot(work)
    for cmd, argv in COMMANDS.items():
        res = run_cli(argv(f, work, seeds))
        check_outcome(res, work, before, names=[f.name])
        assert not marker_env.exists(), f"{cmd}: the pickle ran code or imported a module"
    with pytest.raises(Exception) as e:
        import snn2hw
        snn2hw.load(f)
    assert type(e.value).__name__ == "CheckpointError" and not marker_env.exists()
    assert MARKER_MODULE not in sys.modules


def test_payload_would_really_run_without_weights_only(tmp_path, marker_env):
    """The payloads are real: plain pickle.loads runs them (so the refusals above mean something)."""
    pickle.loads(payloads(marker_env)["global_os_system"])
    assert marker_env.exists()


def test_npz_with_object_array_is_refused(seeds, tmp_path, marker_env):
    f = tmp_path / "obj.npz"
    np.savez(f, x=np.array([_Payload(os.system, (f"touch {marker_env}",))], dtype=object), y=np.zeros(1, int))
    before = snapshot(tmp_path)
    res = run_cli(["convert", seeds / "model.pt", "--data", f, "--out", tmp_path / "o.s2h"])
    check_outcome(res, tmp_path, before, names=["obj.npz"])
    assert not marker_env.exists()
