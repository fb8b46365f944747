"""Native load jobs: describe the load; the host paces, produces and measures it."""

from __future__ import annotations

from typing import Optional

from wit_world.imports import kafka
from wit_world.imports.kafka import LoadStatus


class LoadBuilder:
    """A load job to start; made by `Load.to`."""

    def __init__(self, cluster: str, topic: str) -> None:
        self._spec = kafka.LoadSpec(
            cluster=cluster,
            topic=topic,
            rate=kafka.Rate_Unthrottled(),
            count=None,
            duration_ms=None,
            record_sizes=[1024],
            key_mode=kafka.KeyMode_None_(),
            producer_config=[],
            replication=None,
        )

    def rate(self, per_second: float) -> LoadBuilder:
        self._spec.rate = kafka.Rate_PerSecond(per_second)
        return self

    def count(self, records: int) -> LoadBuilder:
        """Stops after this many records (see `Load.wait`)."""
        self._spec.count = records
        return self

    def duration(self, seconds: float) -> LoadBuilder:
        """Stops after this long (see `Load.wait`)."""
        self._spec.duration_ms = round(seconds * 1000)
        return self

    def record_size(self, size: int) -> LoadBuilder:
        self._spec.record_sizes = [size]
        return self

    def producer(self, key: str, value: str) -> LoadBuilder:
        """A producer property (Java or librdkafka name) for this job only."""
        self._spec.producer_config.append((key, value))
        return self

    def replicate_to(self, cluster: str) -> LoadBuilder:
        """Follows every record to ``cluster`` (remote topic ``<source alias>.<topic>`` unless
        `remote_topic` says otherwise) and verifies it there: replicated latency, lag, lost /
        duplicated / out-of-order records. Records must be at least 32 bytes; one not seen within
        the grace period (60 s after its acknowledgement unless `grace` says otherwise) is lost."""
        self._spec.replication = kafka.Replication(cluster=cluster, topic=None, grace_ms=60_000)
        return self

    def remote_topic(self, topic: str) -> LoadBuilder:
        """The remote topic, when the mirror does not use ``<source alias>.<topic>``."""
        if self._spec.replication is not None:
            self._spec.replication.topic = topic
        return self

    def grace(self, seconds: float) -> LoadBuilder:
        if self._spec.replication is not None:
            self._spec.replication.grace_ms = round(seconds * 1000)
        return self

    def start(self) -> Load:
        return Load(kafka.start_load(self._spec))


class Load:
    """A load job running in the host: ``Load.to("source", topic).rate(1000).start()``. Defaults:
    unthrottled, 1 KiB records, no key, runs until stopped. The job stops when this object is
    garbage-collected or the run ends."""

    def __init__(self, handle: kafka.Load) -> None:
        self._handle = handle

    @staticmethod
    def to(cluster: str, topic: str) -> LoadBuilder:
        """A load to ``topic`` on the cluster with this logical name in the profile."""
        return LoadBuilder(cluster, topic)

    def status(self) -> LoadStatus:
        """Counts so far; ``replication`` is set for a followed load."""
        return self._handle.status()

    def set_rate(self, per_second: float) -> None:
        self._handle.set_rate(kafka.Rate_PerSecond(per_second))

    def stop(self) -> LoadStatus:
        """Stops scheduling, flushes what is in flight (and, for a followed load, waits for it on
        the target up to the grace period) and returns the final status."""
        return self._handle.stop()

    def wait(self, timeout: Optional[float] = None) -> LoadStatus:
        """Waits for the job's count or duration to be reached, at most ``timeout`` seconds."""
        return self._handle.wait(None if timeout is None else round(timeout * 1000))
