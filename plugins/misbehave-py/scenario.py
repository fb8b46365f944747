"""Test fixture: runs a load, then misbehaves, so the host's guard rails and the SDK's error path
can be tested on a Python plugin. Not a scenario to ship."""

from kscen_sdk import (
    Describe,
    Load,
    Scenario,
    ScenarioError,
    ScenarioInfo,
    create_topic,
    export,
    param,
    phase,
    sleep,
    spec,
)


class Misbehave(Scenario):
    def describe(self) -> ScenarioInfo:
        return (
            Describe("misbehave-py", "Test fixture: spins, hoards memory or fails, under load")
            .param(
                spec.text(
                    "mode", "spin", "spin | hoard | denied (a host call the run may not make)"
                )
            )
            .param(spec.duration("after", "500ms", "how long the load runs before misbehaving"))
            .cluster("source")
            .build()
        )

    def run(self) -> None:
        mode = param.text("mode")
        create_topic("source", "misbehave-py", 1)
        phase("before")
        # Held in a local so that the job runs while the scenario misbehaves.
        load = Load.to("source", "misbehave-py").rate(1000.0).record_size(100).start()
        sleep(param.duration("after"))
        if mode == "spin":
            counter = 0
            while load is not None:
                counter += 1
        elif mode == "hoard":
            # 1 MiB buffers, written to so each page is really used, until the cap stops it.
            kept = []
            while True:
                kept.append(bytearray([len(kept) & 0xFF]) * (1 << 20))
        elif mode == "denied":
            # A cluster the scenario did not ask for: the host refuses, the run fails with why.
            create_topic("target", "misbehave-py", 1)
        else:
            raise ScenarioError(f"unknown mode {mode!r}")


WitWorld = export(Misbehave)
