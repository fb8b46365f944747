"""Typed access to the scenario's parameters (the host checked them against their declared kinds).

Used qualified, like `kscen_sdk.spec`: ``param.int("cycles")``. Durations are in seconds.
"""

import builtins
from typing import List, NoReturn

from wit_world.imports import params
from wit_world.imports.params import ParamValue

from .errors import ScenarioError


def _mismatch(name: str, wanted: str) -> NoReturn:
    raise ScenarioError(f"parameter {name!r} is not declared as {wanted}")


def _get(name: str, kind: type, wanted: str) -> ParamValue:
    value = params.get(name)
    if not isinstance(value, kind):
        _mismatch(name, wanted)
    return value


def int(name: str) -> builtins.int:
    return _get(name, params.ParamValue_Int, "int").value


def float(name: str) -> builtins.float:
    value = params.get(name)
    # An int written where a float is declared is accepted, as in the Rust SDK.
    if isinstance(value, (params.ParamValue_Float, params.ParamValue_Int)):
        return builtins.float(value.value)
    _mismatch(name, "float")


def text(name: str) -> str:
    return _get(name, params.ParamValue_Text, "text").value


def flag(name: str) -> bool:
    return _get(name, params.ParamValue_Flag, "flag").value


def duration(name: str) -> builtins.float:
    """A duration in seconds, with the run's time scale already applied."""
    return _get(name, params.ParamValue_DurationMs, "duration").value / 1000.0


def size(name: str) -> builtins.int:
    """A size in bytes."""
    return _get(name, params.ParamValue_SizeBytes, "size").value


def float_list(name: str) -> List[builtins.float]:
    return list(_get(name, params.ParamValue_FloatList, "float-list").value)


def size_list(name: str) -> List[builtins.int]:
    return list(_get(name, params.ParamValue_SizeList, "size-list").value)


def time_scale() -> builtins.float:
    """The run's time scale, for scenarios that compute durations of their own."""
    return params.time_scale()
