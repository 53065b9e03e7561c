"""Hardware profiles: ``load_profile(name_or_path)`` and ``list_profiles()``.

A profile is named by a YAML file in this folder (``loihi`` -> ``loihi.yaml``)
or given as a path to the user's own YAML file; both are validated by
:mod:`snn2hw.hw_profiles.schema`. A file that does not validate raises
:class:`~snn2hw.errors.ProfileError` listing every problem with its field path,
e.g. ``costs.synop_energy_pj.value: Input should be a valid number (got 'lots')``
or ``costs.synop_latncy_ns: unknown key (did you mean 'synop_latency_ns'?)``.
"""
from __future__ import annotations

import difflib
import math
import types
import typing
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from snn2hw.errors import ProfileError
from snn2hw.hw_profiles.schema import CAPACITY_MAX, Figure, Profile

HERE = Path(__file__).resolve().parent

__all__ = ["list_profiles", "load_profile", "profile_path", "iter_figures", "HERE"]


def list_profiles() -> list:
    """Names of the shipped profiles (the YAML files in this folder), sorted."""
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def profile_path(name_or_path) -> Path:
    """The YAML file a profile name or path refers to (raises ProfileError if there is none)."""
    s = str(name_or_path)
    path = Path(s)
    if not (s.endswith((".yaml", ".yml")) or path.is_file()):
        path = HERE / f"{s}.yaml"
        if not path.is_file():
            raise ProfileError(f"unknown hardware profile '{s}'; available: {', '.join(list_profiles())}, "
                               f"or a path to your own .yaml file")
    if not path.is_file():
        raise ProfileError(f"profile file {path} does not exist")
    return path


def load_profile(name_or_path) -> Profile:
    """A validated :class:`Profile` from a shipped name, a YAML path or a Profile (returned as is)."""
    if isinstance(name_or_path, Profile):
        return name_or_path
    path = profile_path(name_or_path)
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ProfileError(f"profile file {path} is not valid YAML: {e}") from None
    except RecursionError:
        raise ProfileError(f"profile file {path} is not a profile (YAML nested too deeply)") from None
    except OSError as e:
        raise ProfileError(f"profile file {path} cannot be read: {e}") from None
    if data is None:
        raise ProfileError(f"profile file {path} is empty")
    if not isinstance(data, dict):
        raise ProfileError(f"profile file {path} must hold a mapping at the top level, got {type(data).__name__}")
    unencodable = _unencodable(data)
    if unencodable:  # e.g. "\udcff" in a name: every report, table and file written later would fail on it
        raise ProfileError(f"profile file {path}: {unencodable} holds a character that is not valid Unicode text "
                           f"(a lone surrogate such as \\udcff); use plain text")
    try:
        prof = Profile.model_validate(data)
    except ValidationError as e:
        errs = "; ".join(_describe(err) for err in e.errors())
        raise ProfileError(f"profile file {path} does not validate ({e.error_count()} problem(s)): {errs}") from None
    bad = [f"{p}.value: must be a finite number >= 0, got {f.value!r}"
           for p, f in iter_figures(prof) if not (math.isfinite(f.value) and f.value >= 0)]
    bad += [f"{p}.value: a capacity must be a whole number from 1 to {CAPACITY_MAX:.0e}, got {f.value!r}"
            for p, f in iter_figures(prof) if p.startswith("capacity.") and math.isfinite(f.value) and f.value >= 0
            and not (1 <= f.value <= CAPACITY_MAX and float(f.value).is_integer())]
    if bad:
        raise ProfileError(f"profile file {path} does not validate ({len(bad)} problem(s)): {'; '.join(bad)}")
    return prof


def _unencodable(data, where: str = "") -> str:
    """The path of the first string (key or value) in parsed YAML that UTF-8 cannot encode ('' if none).

    Each list or mapping is visited once: YAML aliases make one object appear many times (a 'billion laughs'
    file of a few hundred bytes holds 9^9 references), which a plain walk would follow for hours."""
    stack = [(data, where)]
    seen = set()
    while stack:
        v, at = stack.pop()
        if isinstance(v, (dict, list, tuple)):
            if id(v) in seen:
                continue
            seen.add(id(v))
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return at or "a value"
        elif isinstance(v, dict):
            for k, x in v.items():
                name = k.encode("utf-8", "backslashreplace").decode() if isinstance(k, str) else repr(k)
                stack.append((k, f"{at}.{name}".lstrip(".") + " (key)"))
                stack.append((x, f"{at}.{name}".lstrip(".")))
        elif isinstance(v, (list, tuple)):
            stack.extend((x, f"{at}[{i}]") for i, x in enumerate(v))
    return ""


def iter_figures(profile: Profile):
    """``(path, Figure)`` for every figure of a profile, in schema order (``capacity.cores``, ...)."""
    for section in ("capacity", "costs"):
        sec = getattr(profile, section)
        if sec is None:
            continue
        for key in type(sec).model_fields:
            v = getattr(sec, key)
            if isinstance(v, Figure):
                yield f"{section}.{key}", v
            elif key == "mesh" and v is not None and v.link_buffer_size is not None:
                yield f"{section}.mesh.link_buffer_size", v.link_buffer_size
            elif isinstance(v, dict):
                for k in sorted(v):
                    yield f"{section}.{key}.{k}", v[k]


# ----------------------------------------------------------------------------- error messages
_NO_INPUT = {"missing", "extra_forbidden", "model_type", "dict_type", "model_attributes_type"}


def _describe(err) -> str:
    loc = err["loc"]
    path = ".".join(str(x) for x in loc) or "(top level)"
    typ = err["type"]
    if typ == "extra_forbidden":
        known = _fields_at(loc[:-1])
        hint = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6) if known else []
        msg = "unknown key" + (f" (did you mean '{hint[0]}'?)" if hint else
                               (f" (expected one of: {', '.join(known)})" if known else ""))
        return f"{path}: {msg}"
    msg = err["msg"]
    if typ in ("model_type", "dict_type") and _model_at(loc) is Figure:
        msg += " (a figure is written {value: <number>, source: \"<where it comes from>\"})"
    elif typ not in _NO_INPUT and isinstance(err.get("input"), (str, int, float, bool)):
        r = repr(err["input"])
        msg += f" (got {r if len(r) <= 40 else r[:37] + '...'})"
    return f"{path}: {msg}"


def _unwrap(tp):
    """The model class or dict value type behind Optional[...] / dict[..., X]."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else tp
    return tp


def _model_at(loc):
    """The pydantic model class at a location path (None if it is not a model)."""
    cur = Profile
    for part in loc:
        cur = _unwrap(cur)
        if isinstance(cur, type) and issubclass(cur, BaseModel):
            f = cur.model_fields.get(str(part))
            if f is None:
                return None
            cur = f.annotation
        elif typing.get_origin(cur) is dict:
            cur = typing.get_args(cur)[1]
        else:
            return None
    cur = _unwrap(cur)
    return cur if isinstance(cur, type) and issubclass(cur, BaseModel) else None


def _fields_at(loc) -> list:
    m = _model_at(loc)
    return list(m.model_fields) if m is not None else []
