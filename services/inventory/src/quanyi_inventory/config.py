"""Inventory settings, from QUANYI_* environment variables."""

from __future__ import annotations

import base64
import json

from pydantic import SecretStr
from quanyi_platform.config import DEV_MASTER_KEY, PlatformSettings

DEV_MASTER_KEY_ID = "dev-1"
# The development master key; refused in production.
DEV_MASTER_KEYS = (base64.b64decode(DEV_MASTER_KEY),)


class Settings(PlatformSettings):
    """Inventory's settings: the platform's plus the master keys that protect card keys."""

    inventory_grpc_listen: str = "127.0.0.1:50052"
    # JSON object {key_id: base64 of 32 bytes}. The development default is refused in production.
    master_keys: SecretStr = SecretStr(
        json.dumps({DEV_MASTER_KEY_ID: DEV_MASTER_KEY})
    )
    # The master key that wraps the data keys of new import batches.
    active_master_key_id: str = DEV_MASTER_KEY_ID
    # The master key the fingerprint key is derived from; empty means the active one. After a rotation,
    # keep this at the old id (and the old key in master_keys): fingerprints of stored keys depend on it.
    fingerprint_master_key_id: str = ""
    inventory_import_max_rows: int = 1_000_000
    # The expiry sweeper looks for keys past their expires_at this often (0: never), at most this many
    # per transaction. Allocation checks validity itself; the sweep moves the counts and states.
    inventory_expiry_sweep_s: float = 60.0
    # Who may reveal keys (RevealKeys, RevealOrdersKeys): JSON {service identity: [purposes]}, "*" for any
    # purpose. The caller's identity is the common name of its mTLS client certificate, or in development
    # the identity whose token (inventory_service_tokens, {identity: token}, made by `quanyi dev`) it sends.
    # Only fulfillment delivers; the gateway shows a buyer the keys of their own order (user-center).
    inventory_reveal_policy: str = '{"fulfillment": ["*"], "gateway": ["user-center"]}'
    inventory_service_tokens: SecretStr = SecretStr("")
    # Production: mutual TLS on inventory's gRPC port (PEM paths). The caller's identity is the common name
    # of its client certificate, which inventory_grpc_tls_client_ca must have signed.
    inventory_grpc_tls_cert: str = ""
    inventory_grpc_tls_key: str = ""
    inventory_grpc_tls_client_ca: str = ""
    # The operator hears of each StockLow (once per crossing of a SKU's threshold) by e-mail to this
    # address and by a webhook to this URL, signed with this secret (quanyi_inventory.adapters.alerts);
    # each is off while empty.
    inventory_alert_email_to: str = ""
    inventory_alert_email_from: str = "quanyi-alerts@localhost"
    inventory_alert_webhook_url: str = ""
    inventory_alert_webhook_secret: SecretStr = SecretStr("")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    inventory_expiry_sweep_batch: int = 5_000
    # An import of 1,000,000 rows is tens of MB; gRPC's default limit is 4 MB.
    inventory_grpc_max_message_bytes: int = 256 * 1024 * 1024


def load() -> Settings:
    return Settings()
