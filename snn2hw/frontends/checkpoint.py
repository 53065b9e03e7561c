"""Safe checkpoint files.

snn2hw's own bundle (written by :func:`save_checkpoint`) is a dict::

    {"format": "snn2hw-checkpoint", "version": 1, "arch": str, "arch_kwargs": dict,
     "state_dict": {name: tensor}, "input_shape": [..], "num_classes": int,
     "input_step": float | None, "timesteps": int, "encoding": str, "dataset": str,
     "metrics": dict, "snn2hw_version": str}

Files are only ever read with ``torch.load(weights_only=True)``: a pickle that
needs to import or run code is refused, never executed. A plain state_dict is
accepted together with ``model="package.module:factory"`` (the user's own
code, imported explicitly by them).

The same model and metadata always give the same bytes (no temporary file name,
time or path inside); wall-clock times are printed by the commands, not stored.
"""
from __future__ import annotations

import hashlib
import importlib
import io
import math
import pickle
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from snn2hw import __version__
from snn2hw.errors import CheckpointError
from snn2hw.util.limits import (MAX_CLASSES, MAX_TIMESTEPS, bytes_limit_text, limit_text, numel, too_many,
                                 too_many_bytes)
from snn2hw.util.atomic import write_bytes

FORMAT = "snn2hw-checkpoint"
VERSION = 1


@dataclass
class LoadedCheckpoint:
    model: nn.Module
    info: dict = field(default_factory=dict)


def save_checkpoint(path, model: nn.Module, **meta) -> Path:
    """Write a bundle for a model built by ``snn2hw.models.build_model`` (atomic)."""
    if not hasattr(model, "arch"):
        raise CheckpointError("save_checkpoint needs a model built by snn2hw.models.build_model (it has no 'arch')")
    bundle = {"format": FORMAT, "version": VERSION, "snn2hw_version": __version__,
              "arch": model.arch, "arch_kwargs": dict(model.arch_kwargs),
              "input_shape": list(model.input_shape), "num_classes": int(model.num_classes),
              "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    bundle["sha256"] = {k: tensor_sha256(v) for k, v in bundle["state_dict"].items()}
    for k, v in meta.items():
        bundle[k] = v
    path = Path(path)
    # into memory, not the temporary's name: torch names the zip records after a file's name (the
    # random temporary name would enter the bytes), and its C++ writer reports a full disk as a
    # cryptic RuntimeError; write_bytes gives OutputError naming the checkpoint instead
    image = io.BytesIO()
    torch.save(bundle, image)
    return write_bytes(path, image.getvalue())


def tensor_sha256(t: torch.Tensor) -> str:
    """sha256 of a tensor's dtype, shape and raw bytes (C order), as stored in a bundle's ``sha256`` field."""
    t = t.detach().cpu().contiguous()
    h = hashlib.sha256(f"{t.dtype}|{tuple(t.shape)}|".encode())
    if t.numel():
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _check_zip(path: Path) -> None:
    """A zip checkpoint (torch >= 1.6) has a CRC-32 per record; torch does not check it, so a bit flip in
    tensor data would load silently. Read every record first (zipfile verifies each CRC) and refuse a
    mismatch, and refuse records whose declared sizes exceed the byte limit before anything is read."""
    try:
        if not zipfile.is_zipfile(path):
            return  # legacy or corrupt: torch.load reports it
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
            total = sum(i.file_size for i in infos)
            if too_many_bytes(total):
                raise CheckpointError(f"{path}: the checkpoint declares {total / 1e9:.2f} GB of records, above "
                                      f"the {bytes_limit_text()}")
            for info in infos:
                with z.open(info) as fh:
                    while fh.read(1 << 20):
                        pass
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        msg = str(e).splitlines()[0][:160] if str(e) else type(e).__name__
        raise CheckpointError(f"{path} is corrupt (zip integrity check failed: {msg}); the file was damaged "
                              f"after it was written, re-copy or re-export it") from None


def _check_sha256(obj: dict, path: Path) -> None:
    """Compare each tensor with the sha256 a bundle written by this snn2hw carries (older bundles without
    the field load, protected by the zip CRCs only)."""
    sums = obj.get("sha256")
    if sums is None:
        return
    state = obj["state_dict"]
    if not isinstance(sums, dict) or set(sums) != set(state):
        raise CheckpointError(f"{path}: the checkpoint's sha256 table does not match its state_dict entries "
                              f"(corrupt or hand-edited file)")
    for k, v in state.items():
        if tensor_sha256(v) != sums[k]:
            raise CheckpointError(f"{path}: tensor '{k}' does not match its sha256 (corrupt file); re-copy or "
                                  f"re-export the checkpoint")


def _read(path: Path):
    if not path.is_file():
        raise CheckpointError(f"{path}: {'not a regular file' if path.exists() else 'no such checkpoint file'}")
    _check_zip(path)
    try:
        with warnings.catch_warnings():  # e.g. "pickle protocol 4": noise before the error a user should see
            warnings.simplefilter("ignore", UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [m.strip() for m in str(e).split("\n")]
        glob = next((m for m in lines if "GLOBAL" in m or "global" in m.split(":")[0].lower()), None)
        if glob is None:  # not a refused import: the bytes are no valid pickle
            raise CheckpointError(f"{path} is not a readable PyTorch checkpoint (corrupt pickle stream: "
                                  f"{next((m for m in lines[1:] if m and 'WeightsUnpickler' not in m and 'Please' not in m), 'unreadable')[:120]}); "
                                  f"expected a file written by snn2hw train / snn2hw.save_checkpoint or "
                                  f"torch.save(state_dict)") from None
        raise CheckpointError(
            f"{path} was refused: loading it would need code execution ({glob[:160]}). snn2hw reads checkpoints "
            f"with torch.load(weights_only=True) only; save tensors and plain containers (a state_dict) "
            f"instead.") from None
    except Exception as e:  # noqa: BLE001 - torch.load fails on corrupt bytes with many types (struct.error,
        # RuntimeError, EOFError, BadZipFile, ...); all mean the same: not a readable checkpoint
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200] if str(e) else 'corrupt'}); expected a file written "
                              f"by snn2hw train / snn2hw.save_checkpoint or torch.save(state_dict)") from None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_REAL_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool)


def _check_tensors(state: dict, path: Path) -> None:
    """Every entry a dense real tensor, the total within the size limit (names the first bad entry)."""
    total = nbytes = 0
    for k, v in state.items():
        if not isinstance(k, str) or not isinstance(v, torch.Tensor):
            raise CheckpointError(f"{path}: state_dict entry {k!r} is a {type(v).__name__}, expected a tensor "
                                  f"under a string name")
        if v.layout != torch.strided:
            raise CheckpointError(f"{path}: state_dict entry '{k}' is a {v.layout} tensor; only dense tensors "
                                  f"are supported")
        if v.is_complex() or not (v.is_floating_point() or v.dtype in _REAL_DTYPES):
            raise CheckpointError(f"{path}: state_dict entry '{k}' has dtype {v.dtype}, expected a real "
                                  f"floating-point or integer tensor")
        total += v.numel()
        nbytes += v.numel() * v.element_size()
    if too_many(total):
        raise CheckpointError(f"{path}: the state_dict holds {total} elements, above the {limit_text()}")
    if too_many_bytes(nbytes):
        raise CheckpointError(f"{path}: the state_dict holds {nbytes / 1e9:.2f} GB, above the {bytes_limit_text()}")


def _check_bundle(obj: dict, path: Path) -> None:
    """Types and ranges of a snn2hw bundle's fields, so that a corrupt or hand-edited file fails here,
    naming the field, instead of deep inside model building or tracing."""
    def bad(key, expected):
        r = repr(obj[key])
        raise CheckpointError(f"{path}: the checkpoint field '{key}' is {r if len(r) <= 60 else r[:57] + '...'}, "
                              f"expected {expected}")
    if not isinstance(obj["arch"], str):
        bad("arch", "an architecture name (string)")
    if not (isinstance(obj["arch_kwargs"], dict) and all(isinstance(k, str) for k in obj["arch_kwargs"])):
        bad("arch_kwargs", "a dict of keyword arguments")
    if not isinstance(obj["state_dict"], dict):
        bad("state_dict", "a dict of tensors")
    shape = obj.get("input_shape")
    if shape is not None:
        if not (isinstance(shape, (list, tuple)) and 1 <= len(shape) <= 4
                and all(_is_int(s) and s > 0 for s in shape)):
            bad("input_shape", "a list of 1 to 4 positive integers")
        if too_many(numel(shape)):
            bad("input_shape", f"at most {limit_text()}")
    for key, top in (("num_classes", MAX_CLASSES), ("timesteps", MAX_TIMESTEPS)):
        if obj.get(key) is not None and not (_is_int(obj[key]) and 0 < obj[key] <= top):
            bad(key, f"a positive integer up to {top}")
    step = obj.get("input_step")
    if step is not None and not (_is_real(step) and math.isfinite(step) and step > 0):
        bad("input_step", "a positive finite number or None")
    for key in ("encoding", "dataset"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            bad(key, "a string")
    for key in ("metrics", "training", "compression"):
        if obj.get(key) is not None and not isinstance(obj[key], dict):
            bad(key, "a dict")
    _check_tensors(obj["state_dict"], path)


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and obj and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                  for k, v in obj.items())


def _state_mismatch(model: nn.Module, state: dict, path: Path) -> None:
    """Raise CheckpointError when ``state`` does not fit ``model`` (names and shapes; ``model`` may live on
    torch's 'meta' device, so this costs no memory)."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shape = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or shape:
        parts = []
        if missing:
            parts.append(f"missing {missing[:6]}{'...' if len(missing) > 6 else ''}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:6]}{'...' if len(unexpected) > 6 else ''}")
        if shape:
            parts.append("shape mismatch " + ", ".join(f"{k}: file {tuple(state[k].shape)} vs model "
                                                       f"{tuple(own[k].shape)}" for k in shape[:4]))
        raise CheckpointError(f"{path}: the weights do not fit the model ({'; '.join(parts)})")


def _load_state(model: nn.Module, state: dict, path: Path) -> None:
    from snn2hw.compress.masks import add_masks_from_state_dict
    add_masks_from_state_dict(model, state)  # unstructured pruning masks saved with the weights
    _state_mismatch(model, state, path)
    model.load_state_dict(state)


def _build_checked(builder, arch: str, kwargs: dict, state: dict, path: Path) -> nn.Module:
    """Build the architecture on torch's 'meta' device first (no memory): refuse it when it is larger
    than the size limit or its parameter shapes differ from the file's tensors, so that arch_kwargs
    asking for a huge model are refused before anything is allocated; then build it for real."""
    from snn2hw.compress.masks import add_masks_from_state_dict
    try:
        with torch.device("meta"):
            ghost = builder(arch, **kwargs)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError, ZeroDivisionError) as e:
        raise CheckpointError(f"{path}: architecture '{arch}' rejects its saved arch_kwargs ({e})") from None
    except (RuntimeError, NotImplementedError):
        ghost = None  # a builder that cannot run on 'meta': the state_dict, already read, bounds the model
    if ghost is not None:
        size = sum(t.numel() for t in ghost.state_dict().values())
        if too_many(size):
            raise CheckpointError(f"{path}: architecture '{arch}' with the saved arch_kwargs has {size} "
                                  f"parameters, above the {limit_text()}; refusing to build it")
        add_masks_from_state_dict(ghost, state)
        _state_mismatch(ghost, state, path)
    try:
        return builder(arch, **kwargs)
    except (TypeError, ValueError, RuntimeError, KeyError, IndexError, AttributeError, OverflowError,
            ZeroDivisionError) as e:
        raise CheckpointError(f"{path}: architecture '{arch}' rejects its saved arch_kwargs ({e})") from None


def _import_spec(spec: str):
    """``'pkg.mod:name'`` (importable, or a module in the current folder) or ``'path/to/file.py:name'``."""
    import sys
    mod_name, fn_name = spec.rsplit(":", 1)
    if not mod_name or not fn_name:
        raise CheckpointError(f"--model must look like 'package.module:factory' or 'file.py:Class', got {spec!r}")
    if mod_name.endswith(".py") or "/" in mod_name or "\\" in mod_name:
        from importlib import util as import_util
        file = Path(mod_name).expanduser()
        if not file.is_file():
            raise CheckpointError(f"--model {spec!r}: no such file {str(file)!r}")
        name = f"_snn2hw_user_model_{hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:12]}"
        try:
            loader_spec = import_util.spec_from_file_location(name, file)
            module = import_util.module_from_spec(loader_spec)
            sys.modules[name] = module  # dataclasses and pickling look the module up by name
            loader_spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 - the user's file: its failure is a user error, named
            sys.modules.pop(name, None)
            raise CheckpointError(f"--model {spec!r}: importing {str(file)!r} raised {type(e).__name__}: "
                                  f"{str(e)[:300]}") from None
    else:
        cwd = str(Path.cwd())
        added = cwd not in sys.path
        if added:  # a module in the current folder, as 'python -m' would find it
            sys.path.insert(0, cwd)
        try:
            module = importlib.import_module(mod_name)
        except ImportError as e:
            raise CheckpointError(f"--model {spec!r}: cannot import the module {mod_name!r} ({e}); give an "
                                  f"importable package.module, a module in the current folder or a file path "
                                  f"such as ./net.py:Net") from None
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"--model {spec!r}: importing {mod_name!r} raised {type(e).__name__}: "
                                  f"{str(e)[:300]}") from None
        finally:
            if added:
                sys.path.remove(cwd)
    try:
        return getattr(module, fn_name)
    except AttributeError:
        raise CheckpointError(f"--model {spec!r}: {mod_name!r} has no {fn_name!r}") from None


def _factory(spec: str, path: Path) -> nn.Module:
    if ":" not in spec:
        raise CheckpointError(f"--model must look like 'package.module:factory' or 'file.py:Class', got {spec!r}")
    fn = _import_spec(spec)
    try:
        model = fn()
    except Exception as e:  # noqa: BLE001 - the user's code: its failure is a user error, named
        raise CheckpointError(f"--model {spec!r}: calling it raised {type(e).__name__}: {str(e)[:300]} (it must "
                              f"build the model without arguments)") from None
    if not isinstance(model, nn.Module):
        raise CheckpointError(f"--model {spec!r} returned {type(model).__name__}, expected an nn.Module")
    return model


def load_checkpoint(path, model: str | None = None) -> LoadedCheckpoint:
    """Load a bundle (or, with ``model='pkg.mod:factory'``, a plain state_dict) into a model in eval mode."""
    from snn2hw.models import build_model, list_models
    path = Path(path)
    obj = _read(path)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        v = obj.get("version")
        if not isinstance(v, int) or v > VERSION:
            raise CheckpointError(f"{path} is a snn2hw checkpoint of version {v!r}; this snn2hw {__version__} reads "
                                  f"versions up to {VERSION}. Upgrade snn2hw.")
        for key in ("arch", "arch_kwargs", "state_dict"):
            if key not in obj:
                raise CheckpointError(f"{path}: the snn2hw checkpoint lacks the field '{key}'")
        _check_bundle(obj, path)
        _check_sha256(obj, path)
        if model is not None:
            net = _factory(model, path)
        else:
            arch = obj["arch"]
            builder = build_model
            if arch == "compressed":  # a pruned/quantized/masked built-in model (snn2hw.compress.rebuild)
                from snn2hw.compress.rebuild import build_compressed as builder
            elif arch not in list_models():
                raise CheckpointError(f"{path}: unknown architecture '{arch}'; known: {', '.join(list_models())}. "
                                      f"Use --model package.module:factory for your own architecture.")
            net = _build_checked(builder, arch, dict(obj["arch_kwargs"]), obj["state_dict"], path)
        _load_state(net, obj["state_dict"], path)
        info = {k: v for k, v in obj.items() if k not in ("state_dict", "sha256")}
    elif _is_state_dict(obj) or (isinstance(obj, dict) and _is_state_dict(obj.get("state_dict"))):
        if model is None:
            raise CheckpointError(f"{path} holds a plain state_dict, which does not say which architecture it "
                                  f"belongs to; pass --model package.module:factory (a function returning the "
                                  f"nn.Module).")
        state = obj if _is_state_dict(obj) else obj["state_dict"]
        _check_tensors(state, path)
        net = _factory(model, path)
        _load_state(net, state, path)
        info = {"arch": model}
    else:
        raise CheckpointError(f"{path} is a PyTorch file but not a checkpoint snn2hw understands (top level is "
                              f"{type(obj).__name__}); expected a snn2hw bundle or a state_dict")
    net.eval()
    return LoadedCheckpoint(net, info)
