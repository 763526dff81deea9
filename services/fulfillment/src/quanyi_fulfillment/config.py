"""Fulfillment settings, from QUANYI_* environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from quanyi_platform.config import PlatformSettings


class Settings(PlatformSettings):
    """Fulfillment's settings: the platform's plus where and how to send delivery e-mail."""

    fulfillment_grpc_listen: str = "127.0.0.1:50053"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_from: str = "quanyi <no-reply@quanyi.local>"
    smtp_timeout_s: float = 10.0
    # STARTTLS on every connection (required: no fallback to plain text) and, with a user name, AUTH after
    # it. Certificates are validated (against smtp_ca_file when set, else the system's CAs).
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_validate_certs: bool = True
    smtp_ca_file: str = ""
    # Attempts per e-mail, all made by the e-mail sender. After the last failed attempt the e-mail is in
    # the exception queue (email_outbox.state = 'failed'); the keys stay in the user centre.
    smtp_max_attempts: int = 5
    # Attempt n failed -> the next one after min(smtp_retry_base_s * 2**n, smtp_retry_cap_s) seconds.
    smtp_retry_base_s: float = 1.0
    smtp_retry_cap_s: float = 300.0
    # How many e-mails the sender sends at once, each on an SMTP connection of its own kept open between
    # messages (and how many claimed batches it has in flight). It holds no database connection while it
    # sends.
    smtp_concurrency: int = 4
    # An SMTP connection unused this long is closed (QUIT); the next e-mail opens a new one.
    smtp_idle_close_s: float = 5.0
    # A claim (EmailAttemptStarted) holds an e-mail this long; if its outcome is not recorded by then (the
    # sender died), the e-mail is due again. Keep it well above a reveal plus an SMTP round trip.
    email_lease_s: float = 60.0
    # E-mails claimed per transaction.
    email_batch_size: int = 50
    # Woken by a delivery, the sender waits this long before it claims, so that one round (two
    # transactions, one address look-up at the gateway, one reveal at inventory) sends the e-mails of
    # several consumer batches. The keys are in the user centre already; only the e-mail waits.
    email_gather_ms: int = 100
    # An idle sender sleeps until woken by a delivery in this process or until the next e-mail falls due;
    # at most this long, to notice e-mails that another process queued and could not send.
    email_idle_recheck_s: float = 60.0
    # On-demand channels (DeliverOnChannel): a resend on another channel, or a re-drive. Each retries
    # passing failures (timeouts, 5xx, 429) up to channel_max_attempts times, waiting a random time up to
    # min(channel_retry_base_s * 2**n, channel_retry_cap_s) between attempts (exponential, full jitter).
    channel_max_attempts: int = 5
    channel_retry_base_s: float = 0.5
    channel_retry_cap_s: float = 30.0
    channel_timeout_s: float = 10.0
    # No new attempt after this long: DeliverOnChannel answers within about this (plus one timeout) per post.
    channel_total_s: float = 45.0
    # Delivery on the channels a buyer keeps a target for (webhook, sms, activation, app), scheduled with
    # the delivery e-mail's first attempt. A claim holds a delivery this long (keep it above
    # channel_total_s plus a timeout: the channel's own retries run inside it); if its outcome is not
    # recorded by then (the sender died, or the gateway or inventory could not be asked), it is due again.
    kept_channel_lease_s: float = 120.0
    kept_channel_batch_size: int = 50
    # An idle kept-channel sender sleeps until the e-mail sender of its process schedules deliveries or the
    # next claim lapses; at most this long, to notice deliveries another process scheduled.
    kept_channel_idle_recheck_s: float = 60.0
    # The signed webhook: HMAC-SHA256 key shared with the receivers (empty: the channel is off).
    webhook_signing_secret: SecretStr = SecretStr("")
    # The partner platform's top-up API (one-click activation) and the SMS provider (empty: off).
    partner_api_url: str = ""
    partner_api_key: SecretStr = SecretStr("")
    sms_api_url: str = ""
    sms_api_key: SecretStr = SecretStr("")
    # The app's push service (the app channel: a push to the buyer's device; empty: off).
    push_api_url: str = ""
    push_api_key: SecretStr = SecretStr("")
    # Redemption sync: poll the partner's feed of used keys (partner_api_url) every redemption_poll_s
    # seconds (0: off), as partner `partner_name`, which may only report keys of `partner_skus`.
    redemption_poll_s: float = 0.0
    partner_name: str = "partner"
    partner_skus: list[str] = Field(default_factory=list)
    # Usage instructions per SKU, in every channel's content: a JSON object {"sku id": "instructions"}.
    sku_instructions: dict[str, str] = Field(default_factory=dict)
    # Development only: with QUANYI_SIMULATORS_ENABLED, serve the partner top-up and SMS simulators on this
    # loopback host:port inside fulfillment (and point partner_api_url / sms_api_url at it).
    simulators_enabled: bool = False
    # The development credential the simulators' control routes ask for (X-Dev-Credential).
    dev_credential: SecretStr = SecretStr("")
    fulfillment_simulators_listen: str = ""
    fulfillment_simulator_accounts: list[str] = Field(default_factory=lambda: ["demo-account"])

    @property
    def simulators_active(self) -> bool:
        return self.simulators_enabled and bool(self.fulfillment_simulators_listen)

    @model_validator(mode="after")
    def _simulators_only_in_development_on_loopback(self) -> Settings:
        if self.simulators_enabled and self.environment not in ("development", "test"):
            raise ValueError(
                "QUANYI_SIMULATORS_ENABLED is a development setting;"
                f" environment={self.environment} refuses it"
            )
        host = self.fulfillment_simulators_listen.rpartition(":")[0]
        if self.fulfillment_simulators_listen and host not in ("127.0.0.1", "localhost", "[::1]"):
            raise ValueError("QUANYI_FULFILLMENT_SIMULATORS_LISTEN must be a loopback host:port")
        return self


def load() -> Settings:
    return Settings()
