"""Resilience test 5.3 in Python: restart each MirrorMaker 2 connector (alone, then with its tasks)
and pause/resume it, under tracked load: time to be RUNNING again, induced lag, time to catch up.
The same parameters and figures as the Rust plugin ``connector-restart``."""

from typing import Callable, List

from kscen_sdk import (
    Describe,
    Load,
    Scenario,
    ScenarioError,
    ScenarioInfo,
    connect,
    export,
    figure,
    mm2,
    monotonic_now,
    param,
    phase,
    sleep,
    spec,
)

#: How often Connect's status is read while it reacts, in seconds.
POLL = 0.1

#: A reaction that has not shown in Connect's status this long after the call will not show.
QUIET = mm2.Expect(within=5.0)

#: Defaults of the tracked load every MM2 scenario shares.
TRACKED = mm2.TrackedLoadDefaults(topic="test-mm2-perf", rate=1000.0, partitions=8, grace="60s")


class ConnectorRestart(Scenario):
    def describe(self) -> ScenarioInfo:
        return (
            Describe(
                "connector-restart-py",
                "Restart and pause/resume each MM2 connector under load (5.3, Python)",
            )
            .description(
                "For each of the run's mirror's connectors in `roles` (found by class, whatever "
                "their names): a restart of the connector alone, a restart with its tasks "
                "(includeTasks=true), and a pause held for `pause` then a resume. Each action's "
                "reaction is measured: Connect's status change, the time until every task is "
                "RUNNING on a live worker again (`<role>_<action>_ms`, e.g. `source_resume_ms`), "
                "the lag it induced, and (after a resume) the time until the lag is back under "
                "`caught_up_lag` (`<role>_catch_up_ms`)."
            )
            .param(
                spec.text(
                    "roles",
                    "source,checkpoint,heartbeat",
                    "the mirror's connectors to act on, by role (comma-separated)",
                )
            )
            .param(spec.duration("pause", "30s", "how long each connector stays paused"))
            .param(spec.duration("settle", "10s", "steady load between actions"))
            .param(spec.duration("timeout", "2m", "longest wait for each reaction"))
            .param(
                spec.int(
                    "caught_up_lag", 1000, "lag (records) under which the target has caught up"
                )
            )
            .apply(lambda d: mm2.tracked_load_params(d, TRACKED))
            .cluster("source")
            .cluster("target")
            .connect()
            .build()
        )

    def run(self) -> None:
        mirror = mm2.mirror()
        connectors = mm2.connector_names(mirror)
        acted_on = []
        for name in param.text("roles").split(","):
            try:
                role = mm2.parse_role(name.strip())
            except ScenarioError as error:
                raise ScenarioError(f"roles: {error}") from None
            acted_on.append((mm2.role_name(role), mm2.connector_name(mirror, role)))
        timeout = param.duration("timeout")
        settle = param.duration("settle")

        phase("before")
        load, _topic = mm2.start_tracked_load()
        if mm2.wait_healthy(connectors, 120.0, POLL) is None:
            raise ScenarioError("MM2 is not healthy")
        sleep(settle)

        for role, connector in acted_on:
            for action, include_tasks in (("restart", False), ("restart_with_tasks", True)):
                phase(f"{role} {action}")
                react(
                    f"{role}_{action}",
                    connectors,
                    load,
                    timeout,
                    lambda: connect.restart(connector, include_tasks, False),
                )
                sleep(settle)

            phase(f"{role} pause")
            connect.pause(connector)
            sleep(param.duration("pause"))
            phase(f"{role} resume")
            at = monotonic_now()
            react(f"{role}_resume", connectors, load, timeout, lambda: connect.resume(connector))
            caught_up_lag = param.int("caught_up_lag")

            def caught_up() -> bool:
                replication = load.status().replication
                return replication is not None and replication.lag_records <= caught_up_lag

            if mm2.wait_until(timeout, POLL, caught_up) is not None:
                figure(f"{role}_catch_up_ms", (monotonic_now() - at) * 1000.0, "ms")
            sleep(settle)

        mm2.finish_tracked_load(load)


def react(
    name: str, connectors: List[str], load: Load, timeout: float, act: Callable[[], None]
) -> None:
    """Acts on Connect and records how it reacted, under ``name``: until every task of
    ``connectors`` runs on a live worker again (a connector-only restart may leave every task as
    it was: nothing to detect)."""
    baseline = mm2.statuses(connectors)
    at = monotonic_now()
    act()
    reaction = mm2.watch_reaction(
        connectors,
        baseline,
        at,
        load,
        QUIET,
        timeout,
        POLL,
        lambda statuses: all(mm2.healthy(s) for s in statuses),
    )
    mm2.record_reaction(name, reaction)


WitWorld = export(ConnectorRestart)
