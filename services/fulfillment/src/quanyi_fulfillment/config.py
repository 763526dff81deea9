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
    # How often the e-mail sender looks for due e-mails (retries; new ones wake it at once), and how many
    # it sends at once.
    smtp_retry_poll_s: float = 0.5
    # Each sender holds a pooled connection while it sends, so keep this well under db_pool_max.
    smtp_concurrency: int = 4


def load() -> Settings:
    return Settings()
