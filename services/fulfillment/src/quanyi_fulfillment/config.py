"""Fulfillment settings, from QUANYI_* environment variables."""

from __future__ import annotations

from quanyi_platform.config import PlatformSettings


class Settings(PlatformSettings):
    """Fulfillment's settings: the platform's plus where and how to send delivery e-mail."""

    fulfillment_grpc_listen: str = "127.0.0.1:50053"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_from: str = "quanyi <no-reply@quanyi.local>"
    smtp_timeout_s: float = 10.0
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
    # An idle sender sleeps until woken by a delivery in this process or until the next e-mail falls due;
    # at most this long, to notice e-mails that another process queued and could not send.
    email_idle_recheck_s: float = 60.0


def load() -> Settings:
    return Settings()
