"""Hardware profiles: ``load_profile(name_or_path)`` and ``list_profiles()``.

A profile is named by a YAML file in this folder (``loihi`` -> ``loihi.yaml``)
or given as a path to the user's own YAML file; both are validated by
:mod:`snn2hw.hw_profiles.schema`, with errors naming the field path.
"""
from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from snn2hw.errors import ProfileError
from snn2hw.hw_profiles.schema import Profile

HERE = Path(__file__).resolve().parent


def list_profiles() -> list:
    return sorted(p.stem for p in HERE.glob("*.yaml"))


def load_profile(name_or_path) -> Profile:
    if isinstance(name_or_path, Profile):
        return name_or_path
    s = str(name_or_path)
    path = Path(s)
    if not (s.endswith((".yaml", ".yml")) or path.is_file()):
        path = HERE / f"{s}.yaml"
        if not path.is_file():
            raise ProfileError(f"unknown hardware profile '{s}'; available: {', '.join(list_profiles())}, "
                               f"or a path to your own .yaml file")
    if not path.is_file():
        raise ProfileError(f"profile file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ProfileError(f"profile file {path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"profile file {path} must hold a mapping at the top level, got {type(data).__name__}")
    try:
        return Profile.model_validate(data)
    except ValidationError as e:
        errs = "; ".join(f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}" for err in e.errors())
        raise ProfileError(f"profile file {path} does not validate: {errs}") from None
