"""Which capabilities the run holds: those ``describe`` requires always, an optional one when the
environment has it."""

from wit_world.imports import grants
from wit_world.imports import kscen_scenario_types_0_2_0 as types


def cluster(name: str) -> bool:
    """Whether the run holds the profile's cluster named ``name``."""
    return grants.granted(types.Capability_Cluster(name))


def probe(name: str) -> bool:
    """Whether the run holds the profile's metrics endpoint named ``name``."""
    return grants.granted(types.Capability_Probe(name))


def connect() -> bool:
    """Whether the run holds the Kafka Connect REST API."""
    return grants.granted(types.Capability_Connect())
