"""Streams settings (``CITYIOT_STREAM_*``), a section of :class:`core.settings.Settings`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["StreamSettings"]


class StreamSettings(BaseModel):
    """How a streams worker consumes events and writes InfluxDB."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    app_id: str = Field(
        "cityiot-streams",
        description="Faust app id: the consumer group, and the prefix of the state table's "
        "changelog topic. Two workers with the same id share the partitions.",
    )
    allowed_lateness_s: int = Field(
        600,
        ge=0,
        description="How late (s after its window's end, by the collector's receive time) an "
        "event may arrive and still update its 1-minute window; a later one is counted as late "
        "and written raw only.",
    )
    # -- consuming ---------------------------------------------------------------------------
    batch_max_events: int = Field(
        5000,
        ge=1,
        description="Most records in one batch: one Kafka fetch (broker_max_poll_records), "
        "processed, written to InfluxDB and persisted together. A fetch returns what is there "
        "after at most fetch_max_wait_ms, so a quiet stream makes small, prompt batches.",
    )
    # 500 ms and 1 MiB: at 1,000 msg/s (~600 KB/s of envelopes) a batch every half second, at
    # 6,000 msg/s one every ~0.2 s; fewer, fuller batches cost less CPU per event (a batch has a
    # fixed cost: one InfluxDB write, one changelog flush), and half a second stays well inside
    # the 2 s end-to-end budget (streams/README.md, "Fetch limits").
    fetch_max_wait_ms: int = Field(
        500,
        ge=1,
        le=30_000,
        description="Longest a Kafka fetch waits for fetch_min_bytes of records; milliseconds "
        "(aiokafka fetch_max_wait_ms; Faust hard-codes 1500). Lower: lower latency, more and "
        "smaller batches (more CPU per event).",
    )
    fetch_min_bytes: int = Field(
        1024 * 1024,
        ge=1,
        description="Bytes a Kafka fetch waits for before it returns (or fetch_max_wait_ms "
        "passes); bytes (aiokafka fetch_min_bytes; Faust leaves 1). 1 answers at the first "
        "record: tiny batches whose fixed cost dominates at low rates.",
    )
    max_fetch_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="Bytes one Kafka fetch may return per partition (consumer_max_fetch_size).",
    )
    commit_interval_s: float = Field(
        2.0,
        gt=0,
        description="How often acked offsets are committed. Offsets are acked only after the "
        "batch's InfluxDB write and state changelog succeeded.",
    )
    rebalance_timeout_s: float = Field(
        60.0, gt=0, description="Kafka rebalance timeout (tests: 5 s, FACTS.md)."
    )
    session_timeout_s: float = Field(60.0, gt=0, description="Kafka session timeout (tests: 6 s).")
    heartbeat_interval_s: float = Field(
        3.0, gt=0, description="Kafka heartbeat interval (tests: 1 s)."
    )
    # 0 by default: against Tansu (the light local broker), Faust's standby recovery crashed
    # seeking a negative offset ("Offset must be a positive integer") after a worker's SIGKILL.
    # Without standbys a restarted partition recovers from its changelog: slower, equally exact.
    # On Apache Kafka a survivor of two workers took over from its standby after a SIGKILL,
    # exact, in five runs of a quiet machine; on a loaded one its new partitions once never
    # resumed (no record read for two minutes, totals short). Not yet the default anywhere.
    standby_replicas: int = Field(
        0,
        ge=0,
        description="Faust standby replicas of the state table on other workers. 0 with Tansu "
        "(Faust's standby recovery crashed against it); 1 with Apache Kafka for faster failover.",
    )
    # at_least_once: exactness comes from the order of effects of a batch (streams/README.md,
    # "How exactness is achieved"). exactly_once, measured against it on Apache Kafka
    # (bench/streams_guarantee.py), was no faster, recovered ~10 s slower after a SIGKILL and
    # sent alerts again (same README, "Why not Faust's exactly_once"): it stays an option to try.
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once",
        description="Faust's processing guarantee. exactly_once commits each partition's "
        "changelog records and offsets in a Kafka transaction (Apache Kafka only; Tansu has "
        "none) and reads read_committed; InfluxDB writes and alerts stay outside it. "
        "at_least_once is exact by itself (idempotent points, dedup state written before the "
        "ack).",
    )
    data_dir: str | None = Field(
        None,
        description="Faust's data directory (default: <run_dir>/streams/<app_id>). State lives in "
        "memory and is recovered from its changelog at start.",
    )
    # -- dedup -------------------------------------------------------------------------------
    dedup_missing_max: int = Field(
        1024,
        ge=0,
        description="Most missing seqs remembered per device: a message filling a remembered gap "
        "is accepted late; older gaps stay counted as lost.",
    )
    dedup_reset_distance: int = Field(
        100_000,
        ge=1,
        description="A seq this far below a device's highest is taken as a counter reset "
        "(reboot) and accepted, not as a duplicate.",
    )
    # -- InfluxDB sink -----------------------------------------------------------------------
    influx_api: Literal["v1", "v2"] = Field(
        "v1",
        description="v1: line protocol to /write (1.x, and 2.x/3.x through compatibility); the "
        "database is created at start on 1.x. v2: influxdb-client's write API (2.x/3.x; the "
        "bucket is influxdb.database, the org influx_org).",
    )
    influx_org: str = Field("cityiot", description="Organisation of the v2 write API.")
    influx_batch_lines: int = Field(
        5000, ge=1, description="Lines per InfluxDB write request (a batch is split into these)."
    )
    influx_timeout_s: float = Field(10.0, gt=0, description="Timeout of one write request.")
    influx_retry_initial_s: float = Field(
        0.5,
        gt=0,
        description="First retry delay after a 5xx, timeout or refused connection; the write is "
        "retried until InfluxDB takes it, the worker consuming nothing meanwhile.",
    )
    influx_retry_max_s: float = Field(
        10.0, gt=0, description="Longest retry delay (doubling from the initial one)."
    )
    # -- device health -----------------------------------------------------------------------
    health_interval_s: float = Field(
        30.0, gt=0, description="How often device_health and devices_online points are written."
    )
    default_expected_interval_s: int = Field(
        300,
        gt=0,
        description="Expected message interval of a device the registry does not list; a device "
        "is offline after three missed intervals or its last will.",
    )
    # -- platform stats ----------------------------------------------------------------------
    stats_interval_s: float = Field(
        10.0,
        gt=0,
        description="How often this worker writes its platform_stats point (counter deltas since "
        "the previous point, and the events topic's lag).",
    )
    # A minute, as the collector's: enough to see a trend in a log, few enough lines to keep.
    summary_interval_s: float = Field(
        60.0, ge=0, description="Period of the one-line summary in the log; seconds, 0 = off."
    )
    # Kubernetes and systemd wait 30 s and 90 s before SIGKILL; 8 s keeps `docker stop`'s 10.
    stop_timeout_s: float = Field(
        8.0,
        gt=0,
        description="After SIGTERM/SIGINT, longest the worker takes to stop; seconds. Beyond it "
        "(Kafka gone) it exits without committing: the next start replays from the last commit, "
        "exactly (offsets are committed only after their effects are durable).",
    )
    instance_id: str | None = Field(
        None,
        description="The instance tag of this worker's platform_stats points (default: "
        "hostname:app_id). Give two workers on one host different ids, or their points share "
        "one series.",
    )
    metrics_port: int = Field(
        0,
        ge=0,
        le=65_535,
        description="Port of the HTTP endpoints, on every address: Prometheus /metrics, /healthz "
        "(liveness) and /readyz (readiness: in the consumer group and recovered, InfluxDB "
        "answering); 0 turns them off.",
    )
    # The event loop turns many times a second (a batch is ~0.3 ms an event, 5,000 at most); a
    # start attempt while Kafka is away blocks up to 35 s (a 5 s topic listing, then up to 30 s
    # of back-off): 60 s flags only a loop that is really stuck.
    liveness_timeout_s: float = Field(
        60.0,
        gt=0,
        description="How long the worker's event loop may go without a turn before /healthz "
        "answers 503 (a liveness probe then restarts the process); seconds.",
    )
