"""Local infrastructure for development and tests: the Tansu broker, PostgreSQL, SMTP, free ports."""

from quanyi_platform.infra.ports import free_port
from quanyi_platform.infra.postgres import (
    EmbeddedPostgres,
    create_database,
    database_url_for,
    drop_database,
    ensure_postgres,
    pg_reachable,
)
from quanyi_platform.infra.smtp import CapturingSmtpServer, MaildirSmtpServer
from quanyi_platform.infra.tansu import TansuBroker, tansu_binary

__all__ = [
    "CapturingSmtpServer",
    "EmbeddedPostgres",
    "MaildirSmtpServer",
    "TansuBroker",
    "create_database",
    "database_url_for",
    "drop_database",
    "ensure_postgres",
    "free_port",
    "pg_reachable",
    "tansu_binary",
]
