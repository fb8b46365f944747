"""Building the description a scenario's ``describe`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List

from wit_world.imports import kscen_scenario_types_0_1_0 as types1
from wit_world.imports import kscen_scenario_types_0_2_0 as types2

Capability = types2.Capability


@dataclass
class ScenarioInfo:
    """What ``describe`` returns: the contract's description, whose capabilities the run cannot
    start without, and the capabilities used only when the environment has them (ask
    `kscen_sdk.grants` which the run got)."""

    required: types2.ScenarioInfo
    optional: List[Capability] = field(default_factory=list)


class Describe:
    """A fluent builder: ``Describe("name", "summary").param(...).cluster("source").build()``."""

    def __init__(self, name: str, summary: str) -> None:
        self._info = types2.ScenarioInfo(name, summary, "", [], [])
        self._optional: List[Capability] = []

    def description(self, text: str) -> Describe:
        self._info.description = text
        return self

    def param(self, spec: types1.ParamSpec) -> Describe:
        """Declares a parameter (see `kscen_sdk.spec`)."""
        self._info.params.append(spec)
        return self

    def cluster(self, name: str) -> Describe:
        """Asks for a cluster by its logical name in the operator's profile."""
        self._info.capabilities.append(types2.Capability_Cluster(name))
        return self

    def topic(self, cluster: str, pattern: str) -> Describe:
        """Narrows the topics the plugin may touch on ``cluster`` to those matching ``pattern``
        (``*`` matches any run of characters)."""
        request = types2.TopicRequest(cluster, pattern)
        self._info.capabilities.append(types2.Capability_Topic(request))
        return self

    def connect(self) -> Describe:
        """Asks for the Kafka Connect REST API of the profile."""
        self._info.capabilities.append(types2.Capability_Connect())
        return self

    def fault(self, target: str) -> Describe:
        """Asks for a fault target of the profile; the operator must also grant it."""
        self._info.capabilities.append(types2.Capability_Fault(target))
        return self

    def probe(self, name: str) -> Describe:
        """Asks for a metrics endpoint of the profile, by name."""
        self._info.capabilities.append(types2.Capability_Probe(name))
        return self

    def optional_cluster(self, name: str) -> Describe:
        """Uses the cluster when the profile has it; the run starts without it otherwise."""
        self._optional.append(types2.Capability_Cluster(name))
        return self

    def optional_probe(self, name: str) -> Describe:
        """Reads the metrics endpoint when the profile has one by this name."""
        self._optional.append(types2.Capability_Probe(name))
        return self

    def optional_connect(self) -> Describe:
        """Uses the Kafka Connect REST API when the profile has one."""
        self._optional.append(types2.Capability_Connect())
        return self

    def apply(self, declare: Callable[[Describe], Describe]) -> Describe:
        """Applies declarations shared between scenarios (e.g.
        `kscen_sdk.mm2.follow_when_mirrored`)."""
        return declare(self)

    def build(self) -> ScenarioInfo:
        return ScenarioInfo(self._info, self._optional)
