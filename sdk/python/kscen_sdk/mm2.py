"""MirrorMaker 2 for scenarios: the mirror the run measures (its connectors whatever the
deployment named them, as the host found them), what "healthy" means for its connectors, and
polling for it on the host's clock. Times are seconds, on `kscen_sdk.monotonic_now`'s clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

from wit_world.imports import clock, connect, kafka
from wit_world.imports import kscen_scenario_types_0_1_0 as types
from wit_world.imports import mm2 as host
from wit_world.imports.connect import ConnectorStatus, State
from wit_world.imports.mm2 import ConnectorRole, Mirror

from . import grants, param, spec
from .core import end_phase, event, figure, monotonic_now, phase, sleep, warn
from .describe import Describe
from .errors import HostError, ScenarioError
from .load import Load, LoadBuilder

__all__ = [
    "ConnectorRole",
    "Expect",
    "Mirror",
    "Reaction",
    "TrackedLoadDefaults",
    "connector_name",
    "connector_names",
    "failed_tasks",
    "finish_tracked_load",
    "follow_when_mirrored",
    "followed",
    "healthy",
    "mirror",
    "mirror_to_follow",
    "parse_role",
    "record_reaction",
    "record_verdict",
    "role_name",
    "start_tracked_load",
    "statuses",
    "task_failures",
    "tracked_load_params",
    "wait_first_replicated",
    "wait_healthy",
    "wait_until",
    "watch_reaction",
]


def mirror() -> Mirror:
    """The mirror this run measures: the one the operator chose (``mirror`` in the scenario file,
    ``kscen run --mirror``), else the deployment's only one."""
    return host.run_mirror()


def role_name(role: ConnectorRole) -> str:
    """A role as parameters, figures and messages name it: ``source``, ``checkpoint``,
    ``heartbeat``."""
    return role.name.lower()


def parse_role(name: str) -> ConnectorRole:
    """The role a parameter names; a `ScenarioError` listing the roles otherwise."""
    for role in ConnectorRole:
        if role_name(role) == name:
            return role
    raise ScenarioError(
        f"{name!r} is not a MirrorMaker 2 connector role (source, checkpoint, heartbeat)"
    )


def connector_names(mirror: Mirror) -> List[str]:
    """The names of the mirror's connectors, source first."""
    return [c.name for c in mirror.connectors]


def connector_name(mirror: Mirror, role: ConnectorRole) -> str:
    """The name of the mirror's connector of ``role``; a `ScenarioError` when it runs none."""
    for connector in mirror.connectors:
        if connector.role == role:
            return connector.name
    raise ScenarioError(
        f"mirror {mirror.label} runs no {role_name(role)} connector (see kscen describe-deployment)"
    )


def follow_when_mirrored(describe: Describe) -> Describe:
    """Declares, as optional capabilities, what following records across the run's mirror takes
    (the ``target`` cluster, Connect to name a failed task's reason), and the parameters
    ``grace_s`` and ``discovery_timeout_s`` in real seconds. With `mirror_to_follow`, a producer
    scenario follows its records where there is a mirror and runs producer-only elsewhere."""
    return (
        describe.optional_cluster("target")
        .optional_connect()
        .param(
            spec.int(
                "grace_s",
                60,
                "through a mirror: a record not on the target this many seconds after its ack "
                "is lost",
            )
        )
        .param(
            spec.int(
                "discovery_timeout_s",
                660,
                "through a mirror: seconds to wait for it to carry a new topic",
            )
        )
    )


def mirror_to_follow(topic: str) -> Optional[Mirror]:
    """The run's mirror once it carries ``topic``, when the environment has a ``target`` cluster
    and a mirror; None otherwise (an event and a warning say so: the scenario runs
    producer-only). A mirror whose tasks fail already is a `ScenarioError`."""
    found = _find_run_mirror()
    if found is None:
        return None
    _refuse_failing(found)
    _await_discovery(topic, max(param.int("discovery_timeout_s"), 1))
    return found


def followed(load: LoadBuilder, mirror: Optional[Mirror]) -> LoadBuilder:
    """``load`` following its records to the target with the ``grace_s`` parameter when
    ``mirror`` is some; as it is otherwise."""
    if mirror is None:
        return load
    return load.replicate_to("target").grace(max(param.int("grace_s"), 0))


def _find_run_mirror() -> Optional[Mirror]:
    def without(why: str) -> None:
        message = f"producer-only: {why}; no record is followed across a mirror"
        event("mirror", message)
        warn(message)

    if not grants.cluster("target"):
        without("this environment has no cluster `target`")
        return None
    try:
        found = host.run_mirror()
    except HostError as error:
        if isinstance(error.value, types.Error_NotFound):
            without(error.value.value)
            return None
        raise
    event("mirror", f"following every record across {found.label}")
    return found


def _refuse_failing(mirror: Mirror) -> None:
    if not grants.connect():
        return
    failures = task_failures(connector_names(mirror))
    if failures:
        raise ScenarioError(
            f"the mirror {mirror.label} is failing before the run starts: "
            f"{_summary(failures)}; fix it (or restart its tasks) first"
        )


def _await_discovery(topic: str, timeout: float) -> None:
    """Waits until the mirror carries ``topic``, which it finds only at its next topic refresh:
    unless the remote topic is on the target already, a trickle of followed records in phase
    ``mirror-discovery``, so the scenario's own phases measure replication, not discovery."""
    remote = host.remote_topic(topic)
    try:
        kafka.end_offsets("target", remote)
        event("mirror", f"{topic} is mirrored as {remote} already")
        return
    except HostError:
        pass
    phase("mirror-discovery")
    trickle = Load.to("source", topic).rate(10.0).record_size(64).replicate_to("target").start()
    try:
        took = wait_first_replicated(trickle, timeout)
    finally:
        trickle.stop()
        end_phase()
    event("mirror", f"the mirror carries {topic} as {remote} after {took:.1f}s")


def healthy(status: ConnectorStatus) -> bool:
    """Every task RUNNING on a worker that answers (a task shown RUNNING on a dead worker is
    not); a connector without tasks counts when it runs on a live worker itself."""
    return (
        status.state == State.RUNNING
        and status.worker_alive
        and all(t.state == State.RUNNING and t.worker_alive for t in status.tasks)
    )


def statuses(connectors: Sequence[str]) -> List[ConnectorStatus]:
    """The statuses of ``connectors``, in that order."""
    return [connect.status(name) for name in connectors]


def failed_tasks(statuses: Sequence[ConnectorStatus]) -> List[str]:
    """Tasks (``connector/id``) that are FAILED in ``statuses``."""
    return [f"{s.name}/{t.id}" for s in statuses for t in s.tasks if t.state == State.FAILED]


def task_failures(connectors: Sequence[str]) -> List[Tuple[str, str]]:
    """The tasks of ``connectors`` FAILED right now (``connector/id``) and why: the innermost
    ``Caused by:`` of the trace, else its first line."""
    return [
        (f"{s.name}/{t.id}", _root_cause(t.trace or "no trace"))
        for s in statuses(connectors)
        for t in s.tasks
        if t.state == State.FAILED
    ]


def _root_cause(trace: str) -> str:
    prefix = "Caused by: "
    causes = [line.strip() for line in trace.splitlines() if line.strip().startswith(prefix)]
    if causes:
        return causes[-1][len(prefix) :].strip()
    return (trace.splitlines() or [trace])[0].strip()


def _summary(failures: Sequence[Tuple[str, str]]) -> str:
    """One clause per distinct reason, with the tasks that failed for it."""
    by_reason: dict[str, List[str]] = {}
    for task, reason in failures:
        by_reason.setdefault(reason, []).append(task)
    return "; ".join(f"{', '.join(tasks)}: {reason}" for reason, tasks in by_reason.items())


def wait_until(timeout: float, every: float, check: Callable[[], bool]) -> Optional[float]:
    """Polls ``check`` every ``every`` seconds until it returns true: the seconds it took, or None
    after ``timeout``."""
    start = monotonic_now()
    while True:
        if check():
            return monotonic_now() - start
        if monotonic_now() - start >= timeout:
            return None
        sleep(every)


def wait_healthy(connectors: Sequence[str], timeout: float, every: float) -> Optional[float]:
    """Waits until every connector named is `healthy`: the seconds it took, or None."""
    return wait_until(timeout, every, lambda: all(healthy(s) for s in statuses(connectors)))


def wait_first_replicated(load: Load, timeout: float) -> float:
    """Waits until the load's records reach the target (the mirror carries the topic): the
    seconds it took; a `ScenarioError` after ``timeout``."""

    def replicated() -> bool:
        replication = load.status().replication
        return replication is not None and replication.replicated > 0

    took = wait_until(timeout, 0.2, replicated)
    if took is None:
        raise ScenarioError(
            f"no record reached the target within {timeout:g}s: "
            "is MirrorMaker 2 replicating this topic?"
        )
    return took


@dataclass
class Reaction:
    """What a scenario saw while Connect reacted to a fault or a change (seconds since it)."""

    #: first time Connect's reported status differed from the baseline
    detected: Optional[float] = None
    #: first time the ``recovered`` condition held after the change
    recovered: Optional[float] = None
    #: largest replication lag seen meanwhile
    lag_peak_records: int = 0
    lag_peak_ms: int = 0
    #: tasks seen FAILED at any poll
    failed_tasks: List[str] = field(default_factory=list)


@dataclass(frozen=True)
class Expect:
    """How long to wait for Connect to show a change before accepting that none will show:
    ``Expect()`` the change must show (a killed worker's tasks move); ``Expect(within=5.0)`` it may
    not (a restart that keeps the placement): after that long, ``recovered`` alone decides."""

    within: Optional[float] = None


def _shape(statuses: Sequence[ConnectorStatus]) -> List[Tuple[str, int, str, State]]:
    # The connector itself counts as a task placed before every other: a restart shows in its
    # state.
    shape = []
    for s in statuses:
        shape.append((s.name, -1, s.worker_id, s.state))
        shape.extend((s.name, t.id, t.worker_id, t.state) for t in s.tasks)
    return sorted(shape, key=lambda entry: (entry[0], entry[1]))


def watch_reaction(
    connectors: Sequence[str],
    baseline: Sequence[ConnectorStatus],
    since: float,
    load: Optional[Load],
    expect: Expect,
    timeout: float,
    every: float,
    recovered: Callable[[List[ConnectorStatus]], bool],
) -> Reaction:
    """Polls Connect (and ``load``'s replication lag) every ``every`` seconds from a change made
    at ``since`` until ``recovered(statuses)`` holds or ``timeout`` passes. Detection is the first
    poll whose task placement or states differ from ``baseline``."""
    before = _shape(baseline)
    reaction = Reaction()
    while True:
        elapsed = max(monotonic_now() - since, 0.0)
        # The lag first: a slow status call could otherwise let the lag at the action drain
        # before it is read.
        replication = load.status().replication if load is not None else None
        if replication is not None:
            reaction.lag_peak_records = max(reaction.lag_peak_records, replication.lag_records)
            reaction.lag_peak_ms = max(reaction.lag_peak_ms, replication.lag_ms)
        current = statuses(connectors)
        if reaction.detected is None and _shape(current) != before:
            reaction.detected = elapsed
        for failed in failed_tasks(current):
            if failed not in reaction.failed_tasks:
                reaction.failed_tasks.append(failed)
        if reaction.detected is not None and recovered(current):
            reaction.recovered = elapsed
            return reaction
        # Nothing showed: the time to apply cannot be told from the status (not recorded).
        quiet = expect.within is not None and elapsed >= expect.within
        if quiet and reaction.detected is None and recovered(current):
            return reaction
        if elapsed >= timeout:
            return reaction
        sleep(every)


def record_reaction(prefix: str, reaction: Reaction) -> None:
    """Records a reaction's figures under ``prefix``: ``<prefix>_detected_ms``, ``<prefix>_ms``,
    lag peaks and FAILED tasks; a time that was not observed is not recorded."""
    if reaction.detected is not None:
        figure(f"{prefix}_detected_ms", reaction.detected * 1000.0, "ms")
    if reaction.recovered is not None:
        figure(f"{prefix}_ms", reaction.recovered * 1000.0, "ms")
    figure(f"{prefix}_lag_peak_records", float(reaction.lag_peak_records), "records")
    figure(f"{prefix}_lag_peak_ms", float(reaction.lag_peak_ms), "ms")
    figure(f"{prefix}_failed_tasks", float(len(reaction.failed_tasks)), "tasks")
    for failed in reaction.failed_tasks:
        event("task-failed", failed)


@dataclass(frozen=True)
class TrackedLoadDefaults:
    """Defaults of the parameters `tracked_load_params` declares."""

    topic: str = "test-mm2-perf"
    rate: float = 1000.0
    partitions: int = 8
    grace: str = "60s"


def tracked_load_params(
    describe: Describe, defaults: TrackedLoadDefaults = TrackedLoadDefaults()
) -> Describe:
    """Declares ``topic``, ``rate``, ``record_size``, ``partitions`` and ``grace``, the parameters
    `start_tracked_load` reads."""
    return (
        describe.param(
            spec.text("topic", defaults.topic, "source topic (a fresh suffix is added per run)")
        )
        .param(spec.float("rate", defaults.rate, "records per second"))
        .param(spec.size("record_size", "1024", "record value size (at least 32 bytes)"))
        .param(spec.int("partitions", defaults.partitions, "partitions of the source topic"))
        .param(
            spec.duration(
                "grace", defaults.grace, "a record not on target this long after its ack is lost"
            )
        )
    )


def start_tracked_load(topic_config: Sequence[Tuple[str, str]] = ()) -> Tuple[Load, str]:
    """Creates a fresh topic on ``source`` (named after the ``topic`` parameter and the wall
    clock, so runs never read each other's records; with ``topic_config``), starts a steady load
    to it that is followed to ``target``, and waits until the mirror delivers its first record.
    Returns the load and the topic."""
    topic = f"{param.text('topic')}-{clock.wall_now_ms()}"
    kafka.create_topic("source", topic, param.int("partitions"), 0, list(topic_config))
    load = (
        Load.to("source", topic)
        .rate(param.float("rate"))
        .record_size(param.size("record_size"))
        .replicate_to("target")
        .grace(param.duration("grace"))
        .start()
    )
    took = wait_first_replicated(load, 120.0)
    event("mirror", f"first record of {topic} replicated after {took:.1f}s")
    return load, topic


def finish_tracked_load(load: Load) -> None:
    """Stops the load (waiting for its last records on the target, up to the grace period), ends
    the phase and records the per-record verdict (`record_verdict`)."""
    status = load.stop()
    end_phase()
    record_verdict(status)


def record_verdict(status: kafka.LoadStatus) -> None:
    """A followed load's per-record verdict as figures ``lost`` and ``duplicates``; nothing for a
    load that was not followed."""
    if status.replication is not None:
        figure("lost", float(status.replication.lost), "records")
        figure("duplicates", float(status.replication.duplicates), "records")
