"""``cargo xtask bench``, plugin overhead in Python: what one single-record ``produce`` host call
costs a Python scenario on top of the produce itself. The twin of the Rust plugin
``bench-produce``: the same parameters and figures, measured the same way, so the bench can put
the languages side by side."""

from kscen_sdk import (
    Describe,
    Scenario,
    ScenarioInfo,
    create_topic,
    export,
    figure,
    kafka,
    monotonic_now,
    param,
    spec,
)


class BenchProduce(Scenario):
    def describe(self) -> ScenarioInfo:
        return (
            Describe(
                "bench-produce-py",
                "Cost of the single-record produce host call from Python (cargo xtask bench)",
            )
            .description(
                "Calls produce `count` times after `warmup` calls and reports, as figures, the "
                "mean wall time of a call, the acknowledgement wait the host measured inside it, "
                "the cost of one clock host call, and the difference: the host call's own "
                "overhead per record."
            )
            .param(spec.text("topic", "kscen-bench-produce", "topic to produce to"))
            .param(spec.size("record_size", "100", "record value size"))
            .param(spec.int("count", 20_000, "measured produce calls"))
            .param(spec.int("warmup", 1_000, "produce calls before measuring"))
            .cluster("source")
            .build()
        )

    def run(self) -> None:
        topic = param.text("topic")
        count = max(param.int("count"), 1)
        value = b"A" * param.size("record_size")
        create_topic("source", topic, 1)
        for _ in range(param.int("warmup")):
            kafka.produce("source", topic, None, value)
        clock_call_s = clock_call_seconds(count)
        overheads_s = []
        call_total_s = ack_total_s = 0.0
        for _ in range(count):
            before = monotonic_now()
            delivery = kafka.produce("source", topic, None, value)
            call_s = monotonic_now() - before
            # latency_us is rounded down to whole microseconds: add back the half it loses on
            # average, as the Rust twin does.
            ack_s = (delivery.latency_us + 0.5) / 1e6
            call_total_s += call_s
            ack_total_s += ack_s
            overheads_s.append(max(call_s - ack_s - clock_call_s, 0.0))
        overheads_s.sort()
        figure("produce_calls", count, "records")
        figure("produce_call_us", call_total_s / count * 1e6, "us")
        figure("produce_ack_wait_us", ack_total_s / count * 1e6, "us")
        figure("clock_call_us", clock_call_s * 1e6, "us")
        figure("produce_overhead_us", sum(overheads_s) / count * 1e6, "us")
        figure("produce_overhead_p50_us", overheads_s[len(overheads_s) // 2] * 1e6, "us")


def clock_call_seconds(calls: int) -> float:
    """Mean cost of one clock read as the scenario makes it: each produce call's timing holds
    one."""
    started = monotonic_now()
    for _ in range(calls):
        monotonic_now()
    return (monotonic_now() - started) / calls


WitWorld = export(BenchProduce)
