"""PERF-03 in Python: bursts at the burst rate alternating with pauses at the nominal rate, N
cycles. The same parameters, phases and figures as the Rust plugin ``burst``."""

from kscen_sdk import (
    Describe,
    Load,
    Scenario,
    ScenarioError,
    ScenarioInfo,
    create_topic,
    end_phase,
    export,
    figure,
    mm2,
    param,
    phase,
    sleep,
    spec,
)


class Burst(Scenario):
    def describe(self) -> ScenarioInfo:
        return (
            Describe(
                "burst-py",
                "Bursts at burst_rate alternating with nominal pauses, N cycles (PERF-03, Python)",
            )
            .description(
                "One load job alternates `burst_duration` at `burst_rate` with `pause_duration` at "
                "`nominal_rate`, `cycles` times. Phases: burst-1, pause-1, burst-2, ... Where the "
                "environment has a `target` cluster and a mirror, every record is followed across "
                "it, and the replication lag is recorded before, at the end of, and after each "
                "burst (figures `burst-N.lag_before`, `burst-N.lag_at_end`, `burst-N.lag_after`, "
                "in records, and the same with `_ms` for the oldest record's wait). Elsewhere it "
                "runs producer-only and says so."
            )
            .param(spec.text("topic", "test-mm2-perf", "topic to produce to"))
            .param(spec.float("nominal_rate", 1000.0, "records per second between bursts"))
            .param(spec.float("burst_rate", 3000.0, "records per second during a burst"))
            .param(spec.duration("burst_duration", "5m", "length of each burst"))
            .param(spec.duration("pause_duration", "5m", "length of each nominal pause"))
            .param(spec.int("cycles", 3, "number of burst + pause cycles"))
            .param(spec.size("record_size", "1024", "record value size"))
            .param(spec.int("partitions", 6, "partitions when the topic is created"))
            .cluster("source")
            .apply(mm2.follow_when_mirrored)
            .build()
        )

    def run(self) -> None:
        topic = param.text("topic")
        nominal = param.float("nominal_rate")
        burst = param.float("burst_rate")
        burst_duration = param.duration("burst_duration")
        pause_duration = param.duration("pause_duration")
        cycles = param.int("cycles")
        if cycles < 1:
            raise ScenarioError("cycles must be at least 1")
        create_topic("source", topic, param.int("partitions"))
        mirror = mm2.mirror_to_follow(topic)

        phase("burst-1")
        builder = Load.to("source", topic).rate(burst).record_size(param.size("record_size"))
        load = mm2.followed(builder, mirror).start()
        # The load has only just started: about 0, the baseline the later figures compare with.
        record_lag(load, "burst-1.lag_before")
        for cycle in range(1, cycles + 1):
            if cycle > 1:
                phase(f"burst-{cycle}")
                record_lag(load, f"burst-{cycle}.lag_before")
                load.set_rate(burst)
            sleep(burst_duration)
            phase(f"pause-{cycle}")
            load.set_rate(nominal)
            record_lag(load, f"burst-{cycle}.lag_at_end")
            sleep(pause_duration)
            record_lag(load, f"burst-{cycle}.lag_after")
        status = load.stop()
        end_phase()
        mm2.record_verdict(status)


def record_lag(load: Load, name: str) -> None:
    """The replication lag now as figures ``name`` (records) and ``name_ms`` (the oldest record's
    wait); nothing when the load is not followed across a mirror."""
    replication = load.status().replication
    if replication is not None:
        figure(name, float(replication.lag_records), "records")
        figure(f"{name}_ms", float(replication.lag_ms), "ms")


WitWorld = export(Burst)
