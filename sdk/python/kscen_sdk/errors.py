"""Why a scenario fails: its own verdict (`ScenarioError`) or a host call's error."""

from componentize_py_types import Err
from wit_world.imports import kscen_scenario_types_0_1_0 as types

#: What a failed host call raises: ``HostError(value)`` where ``value`` is one of the contract's
#: ``Error_*`` cases (``Error_NotFound``, ``Error_Connect``, ...). Catch it to handle a host
#: error; uncaught, it fails the run with `message` of it.
HostError = Err


class ScenarioError(Exception):
    """The scenario's own verdict: raised out of ``run``, it fails the run with its message."""


def message(error: HostError) -> str:
    """A host error as the run's error string, worded as the Rust SDK words it."""
    value = error.value
    if isinstance(value, types.Error_Connect):
        return f"connect: HTTP {value.value.status}: {value.value.message}"
    kinds = {
        types.Error_Denied: "denied",
        types.Error_NotFound: "not found",
        types.Error_Invalid: "invalid",
        types.Error_Kafka: "kafka",
        types.Error_Timeout: "timeout",
        types.Error_Unsupported: "unsupported",
        types.Error_Fault: "fault",
        types.Error_Probe: "probe",
    }
    kind = kinds.get(type(value))
    # A plain string is what `run` itself returns as an error.
    return f"{kind}: {value.value}" if kind else str(value)
