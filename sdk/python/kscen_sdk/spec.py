"""Parameter declarations; defaults are written as they would be in a scenario file.

``spec.int("cycles", 3, "number of cycles")``: the functions are named after the parameter kinds,
so this module is meant to be used qualified, not star-imported.
"""

import builtins
import json
from typing import Optional, Sequence

from wit_world.imports.kscen_scenario_types_0_1_0 import ParamKind, ParamSpec


def _declare(name: str, kind: ParamKind, default: Optional[str], help: str) -> ParamSpec:
    return ParamSpec(name, kind, default, help)


def _quoted(text: str) -> str:
    # A TOML basic string: JSON's escaping is a subset of TOML's.
    return json.dumps(text)


def int(name: str, default: builtins.int, help: str) -> ParamSpec:
    return _declare(name, ParamKind.INT, str(default), help)


def float(name: str, default: builtins.float, help: str) -> ParamSpec:
    return _declare(name, ParamKind.FLOAT, repr(builtins.float(default)), help)


def text(name: str, default: str, help: str) -> ParamSpec:
    return _declare(name, ParamKind.TEXT, _quoted(default), help)


def flag(name: str, default: bool, help: str) -> ParamSpec:
    return _declare(name, ParamKind.FLAG, "true" if default else "false", help)


def duration(name: str, default: str, help: str) -> ParamSpec:
    """A duration such as ``"10m"``; the host applies ``time_scale`` to it."""
    return _declare(name, ParamKind.DURATION, _quoted(default), help)


def size(name: str, default: str, help: str) -> ParamSpec:
    """A byte size such as ``"1KiB"`` or ``"1024"``."""
    return _declare(name, ParamKind.SIZE, _quoted(default), help)


def float_list(name: str, default: Sequence[builtins.float], help: str) -> ParamSpec:
    items = ", ".join(repr(builtins.float(v)) for v in default)
    return _declare(name, ParamKind.FLOAT_LIST, f"[{items}]", help)


def size_list(name: str, default: Sequence[builtins.int], help: str) -> ParamSpec:
    items = ", ".join(str(v) for v in default)
    return _declare(name, ParamKind.SIZE_LIST, f"[{items}]", help)


def required(name: str, kind: ParamKind, help: str) -> ParamSpec:
    """A parameter the scenario file must set."""
    return _declare(name, kind, None, help)
