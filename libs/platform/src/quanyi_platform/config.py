"""Settings shared by every service. Only config modules read the environment."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_MASTER_KEY = "cXVhbnlpLWRldi1vbmx5LW1hc3Rlci1rZXktMzJieSE="  # base64 of 32 bytes, development only


class PlatformSettings(BaseSettings):
    """What every service process needs: where Postgres and the broker are, and how to talk to peers."""

    model_config = SettingsConfigDict(env_prefix="QUANYI_", extra="ignore")

    environment: str = Field(default="development", description="development, test or production")
    database_url: str = "postgresql://postgres@127.0.0.1:5432/quanyi"
    # The password of database_url's user, when it comes from a secret of its own (deploy/k8s: each
    # service's role has one); it replaces any password in the URL.
    database_password: str = Field(default="", repr=False)
    # This service's identity token (quanyi_platform.identity), sent on its gRPC calls; `quanyi dev`
    # creates one per service. In production identities come from mTLS certificates instead.
    service_token: SecretStr = SecretStr("")
    db_pool_min: int = 2
    db_pool_max: int = 10
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Real Kafka and Redpanda support idempotent producers; the local broker refuses them.
    kafka_enable_idempotence: bool = False
    kafka_partitions: int = 4
    kafka_replication_factor: int = 1
    kafka_session_timeout_ms: int = 10_000
    # Relay poll and consumer fetch wait: batching by time halves idle CPU and raises the knee.
    relay_poll_ms: int = 15
    # After a run of empty polls the relay waits this long instead (idle CPU); any event resets it.
    relay_idle_poll_ms: int = 40
    # A relay told of its own process's appends (Relay(wakeup=store.appended)) polls fast only for this
    # long after an append, then sleeps until the next append or relay_woken_idle_poll_ms (appends by
    # other processes, e.g. a second replica). Such a wake, once everything is published, reads only the
    # sequence (one statement, no checkpoint) and polls only when it moved: an idle relay costs next to
    # nothing.
    relay_wake_burst_ms: int = 300
    relay_woken_idle_poll_ms: int = 1000
    relay_batch_size: int = 500
    # How long a fetch waits for data. This broker answers a waiting fetch only at the end of the wait, so
    # idle consumers cost a fetch per wait each: at 15 ms the idle stack took 66% of a core (the broker
    # 31%), at 30 ms half that. Measured with bench.pipeline on the 2-core machine, 15 -> 30 ms: at
    # 5 orders/s paid->delivered p50 86 -> 90 ms; at 20 orders/s 216 -> 167 ms (less CPU contention).
    consumer_fetch_wait_ms: int = 30
    # A busy consumer's fetch is answered before its wait ends only once this much is waiting: with 1
    # (aiokafka's default) the broker answered as soon as anything arrived, so a busy consumer's batches
    # stayed small (a few events) and every one paid its transaction, inbox write and broker round trip.
    # Batching by time: a fetch gathers for up to consumer_fetch_wait_ms (the per-hop latency floor). An
    # idle consumer's long fetches (consumer_idle_fetch_wait_ms) ask for 1 byte: the first record wakes them.
    consumer_fetch_min_bytes: int = 65_536
    # After this long without a record, a consumer's fetches wait consumer_idle_fetch_wait_ms instead: an
    # idle stack then costs the broker a few fetches a second, not dozens; the first record after a quiet
    # spell waits at most that long, and the next fetch is back at consumer_fetch_wait_ms.
    consumer_idle_after_ms: int = 2_000
    consumer_idle_fetch_wait_ms: int = 500
    # The same for consumers off an order's way to delivery (InboxConsumer(background=True): the ledger's
    # postings, inventory's stock alerts, the gateway's risk flags; never one whose events a decision
    # elsewhere waits for, docs/ENGINEERING.md). Each fetch costs Tansu about a
    # millisecond of CPU however little it returns, and it answers a waiting fetch only when it next looks
    # (after half the wait, then half the rest, ...): the first record after a quiet spell reaches them
    # within ~1 s, and an idle one costs a fetch every 2 s instead of two a second.
    consumer_background_idle_fetch_wait_ms: int = 2_000
    # A busy background consumer's fetch wait: what it gathers per batch. Busy fetches cost the broker as
    # much as idle ones, and at 30 ms the ledger fetched 33 times a second whatever the load (about two
    # orders a batch at 70 orders/s, each batch a transaction). Postings come up to this much later.
    consumer_background_fetch_wait_ms: int = 250
    consumer_max_records: int = 200
    # A consumer commits its Kafka offsets at most this often (the last ones within this time after records
    # stop; at once before a rebalance and on the way out). Each commit is a broker round trip (~0.3 ms of
    # broker and client CPU here), and committing after every batch cost more than one per order. A crash
    # re-reads at most this much; the inbox drops what was applied.
    consumer_commit_interval_ms: int = 1_000
    # How often relays and consumers ask whether the broker lost its data (one small fetch each). A loss
    # is noticed this late at most; nothing is lost meanwhile (the store republishes), only delayed.
    broker_epoch_check_s: float = 5.0
    grpc_deadline_s: float = 5.0
    orders_grpc: str = "127.0.0.1:50051"
    inventory_grpc: str = "127.0.0.1:50052"
    # Production: calls to inventory over mutual TLS (PEM paths): the CA that signed inventory's server
    # certificate, and this service's client certificate (its identity is the subject common name, e.g.
    # CN=fulfillment) and key. Empty CA: plaintext, identity by service_token (development).
    inventory_grpc_tls_ca: str = ""
    grpc_tls_cert: str = ""
    grpc_tls_key: str = Field(default="", repr=False)
    fulfillment_grpc: str = "127.0.0.1:50053"
    ledger_grpc: str = "127.0.0.1:50054"
    risk_grpc: str = "127.0.0.1:50055"
    # The gateway's internal gRPC (BuyerContactsService: buyers' addresses, which only the gateway keeps).
    gateway_grpc: str = "127.0.0.1:50056"
    log_level: str = "INFO"
    log_json: bool = True

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @model_validator(mode="after")
    def _password_into_url(self) -> PlatformSettings:
        if self.database_password:
            from psycopg.conninfo import make_conninfo

            self.database_url = make_conninfo(self.database_url, password=self.database_password)
        return self

    @model_validator(mode="after")
    def _production_needs_idempotence(self) -> PlatformSettings:
        if self.is_production and not self.kafka_enable_idempotence:
            raise ValueError("QUANYI_KAFKA_ENABLE_IDEMPOTENCE must be true in production")
        return self
