"""The host's basic services: clock, phases, figures and events, logs, topics."""

from wit_world.imports import clock, kafka, log, metrics


def sleep(seconds: float) -> None:
    """Sleeps on the host: unlike ``time.sleep`` in the sandbox, it uses no CPU budget."""
    clock.sleep_ms(round(seconds * 1000))


def monotonic_now() -> float:
    """Seconds since the run started, on the host's monotonic clock."""
    return clock.monotonic_now_ns() / 1e9


def phase(name: str) -> None:
    """Opens a phase (closing the previous one); load is attributed to phases by intended send
    time."""
    metrics.phase_begin(name)


def end_phase() -> None:
    metrics.phase_end()


def event(kind: str, message: str) -> None:
    """Records an entry in the run's event log."""
    metrics.event(kind, message)


def figure(name: str, value: float, unit: str) -> None:
    """A named result of the scenario, with its unit (``ms``, ``s``, ``records``, ...); the last
    value set is kept."""
    metrics.figure(name, value, unit)


def gauge(name: str, value: float) -> None:
    metrics.gauge(name, value)


def record_value(histogram: str, value: int) -> None:
    """Records one value into the named custom histogram (microseconds, or the unit its name
    says)."""
    metrics.record_value(histogram, value)


def info(message: str) -> None:
    log.log(log.Level.INFO, message)


def warn(message: str) -> None:
    log.log(log.Level.WARN, message)


def create_topic(cluster: str, topic: str, partitions: int) -> None:
    """Creates a topic (an existing one is accepted as it is) as the operator set it up: the
    replication factor and configs of the profile or scenario file, else the cluster's
    defaults."""
    kafka.create_topic(cluster, topic, partitions, 0, [])
