"""Write kscen scenarios in Python.

A scenario orchestrates; the host runs the load natively and measures it. Subclass `Scenario`,
export it as ``WitWorld``, and build with ``cargo xtask build-plugins`` (a folder
``plugins/<name>-py/`` holding ``scenario.py``; see ``xtask/src/python.rs``)::

    from kscen_sdk import Describe, Load, Scenario, ScenarioInfo, export, param, phase, spec

    class Hello(Scenario):
        def describe(self) -> ScenarioInfo:
            return (
                Describe("hello", "one phase of steady load")
                .param(spec.float("rate", 100.0, "records per second"))
                .cluster("source")
                .build()
            )

        def run(self) -> None:
            phase("steady")
            Load.to("source", "hello").rate(param.float("rate")).duration(5).start().wait()

    WitWorld = export(Hello)

The contract's host interfaces `connect` (Kafka Connect's REST API) and `kafka` (topics, single
records, consumers) are re-exported as generated, for what the wrappers do not cover. Durations are
seconds (``float``), as in ``time.sleep``. Raise `ScenarioError` to fail the run
with a message; a host call that fails raises `HostError`, which fails the run with the host's
message unless the scenario catches it. Any other exception is a bug in the scenario: it traps,
as a panic does in a Rust plugin.
"""

from __future__ import annotations

from typing import List, Type

import wit_world
from componentize_py_types import Err
from wit_world.imports import connect, kafka
from wit_world.imports import kscen_scenario_types_0_2_0 as types

from . import errors, grants, mm2, param, spec
from .core import (
    create_topic,
    end_phase,
    event,
    figure,
    gauge,
    info,
    monotonic_now,
    phase,
    record_value,
    sleep,
    warn,
)
from .describe import Describe, ScenarioInfo
from .errors import HostError, ScenarioError
from .load import Load, LoadBuilder

__all__ = [
    "Describe",
    "HostError",
    "Load",
    "LoadBuilder",
    "Scenario",
    "ScenarioError",
    "ScenarioInfo",
    "connect",
    "create_topic",
    "end_phase",
    "event",
    "export",
    "figure",
    "gauge",
    "grants",
    "kafka",
    "info",
    "mm2",
    "monotonic_now",
    "param",
    "phase",
    "record_value",
    "sleep",
    "spec",
    "warn",
]


class Scenario:
    """What a plugin implements; export it with `export`."""

    def describe(self) -> ScenarioInfo:
        """Name, summary, parameters, and the capabilities needed or used when offered. Runs
        without host access: it must not call the host."""
        raise NotImplementedError

    def run(self) -> None:
        """The scenario itself. Raise `ScenarioError` to fail the run with its message."""
        raise NotImplementedError


def export(scenario: Type[Scenario]) -> type:
    """The component's exports for ``scenario``: assign the result to ``WitWorld`` in the plugin's
    ``scenario.py``, the name componentize-py looks for."""

    class Exports(wit_world.WitWorld):
        def describe(self) -> types.ScenarioInfo:
            return scenario().describe().required

        def optional_capabilities(self) -> List[types.Capability]:
            return scenario().describe().optional

        def run(self) -> None:
            try:
                scenario().run()
            except ScenarioError as error:
                raise Err(str(error))
            except HostError as error:
                raise Err(errors.message(error))

    return Exports
