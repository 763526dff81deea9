"""Gateway settings from QUANYI_* environment variables; the only gateway module reading the environment."""

from __future__ import annotations

import logging
import re

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from quanyi_platform.config import PlatformSettings

log = logging.getLogger(__name__)

DEV_ADMIN_PASSWORD = "dev-admin-password"
DEV_TOKEN_SECRET = "dev-token-secret-for-development-only-0123456789"
DEV_PARTNER_SECRETS = {"demo-partner": "dev-partner-secret"}
# Environments where the development secrets above are acceptable; every other one refuses them.
DEV_ENVIRONMENTS = frozenset({"development", "test"})


class RateRule(BaseModel):
    """At most `limit` requests per `per_s` seconds (a fixed window of at most a day)."""

    limit: int = Field(ge=1)
    per_s: int = Field(ge=1, le=86_400)


# "<action>:<account|ip>" -> rule. QUANYI_RATE_LIMITS (JSON) overrides some or all of them.
DEFAULT_RATE_LIMITS = {
    "login:account": RateRule(limit=10, per_s=60),
    "login:ip": RateRule(limit=100, per_s=60),
    "register:account": RateRule(limit=5, per_s=60),
    "register:ip": RateRule(limit=20, per_s=60),
    "checkout:account": RateRule(limit=30, per_s=60),
    "checkout:ip": RateRule(limit=300, per_s=60),
    "reveal:account": RateRule(limit=60, per_s=60),
    "reveal:ip": RateRule(limit=300, per_s=60),
}


def _host_port(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


class Settings(PlatformSettings):
    """The platform's settings plus the gateway's address, secrets, limits and PSP simulator."""

    gateway_listen: str = "127.0.0.1:8000"
    # The internal gRPC (BuyerContactsService) that services writing to a buyer call; peers use gateway_grpc.
    gateway_grpc_listen: str = "127.0.0.1:50056"
    # How the outside world (and the PSP simulator) reaches this gateway; webhook URLs are built from it.
    public_base_url: str = "http://127.0.0.1:8000"

    admin_email: str = "admin@quanyi.local"
    admin_password: SecretStr = SecretStr(DEV_ADMIN_PASSWORD)
    # scrypt cost (N); r=8, p=1. 2**14 is about 16 MiB and tens of milliseconds per hash.
    password_hash_n: int = 2**14
    token_ttl_s: int = Field(default=3600, ge=60)
    # HMAC-SHA256 key of the signed access tokens (JWT, HS256); at least 32 characters. Every replica
    # must share it. Rotating it signs everyone out.
    token_secret: SecretStr = SecretStr(DEV_TOKEN_SECRET)
    # How often a replica reloads the revoked tokens (logouts made at other replicas): a revoked token
    # is refused at once by the replica that revoked it and within this many seconds by every other one.
    token_revocation_refresh_s: float = Field(default=2.0, gt=0)

    # The in-process catalogue cache (prices, stock), invalidated by inventory's events. Entries are
    # served only while the invalidation feed is connected; these TTLs bound staleness if an event is late.
    catalogue_cache_enabled: bool = True
    catalogue_price_ttl_s: float = Field(default=60.0, ge=0)
    catalogue_stock_ttl_s: float = Field(default=5.0, ge=0)
    # The feed's fetch wait: how late, at most, an invalidation is applied after the event reaches the
    # broker. Longer than the consumers' wait, since this broker costs a fetch per wait when idle.
    catalogue_feed_wait_ms: int = Field(default=500, ge=1)

    # {partner: secret} for HMAC-signed redemption callbacks; JSON in QUANYI_PARTNER_SECRETS.
    partner_secrets: dict[str, SecretStr] = Field(
        default_factory=lambda: {k: SecretStr(v) for k, v in DEV_PARTNER_SECRETS.items()}
    )
    partner_signature_skew_s: int = Field(default=300, ge=1)
    # {channel: account e-mail}: a channel integration (a marketplace) signs in with its account, and its
    # orders arrive on its channel (JSON in QUANYI_CHANNEL_ACCOUNTS); every other account's on "web".
    channel_accounts: dict[str, str] = Field(default_factory=dict)
    # {partner: [sku_id, ...]}: the SKUs each partner may report redemptions of (JSON in
    # QUANYI_PARTNER_SKUS), granted at start-up; an admin grants more (PUT /v1/admin/partners/{p}/skus).
    partner_skus: dict[str, list[str]] = Field(default_factory=dict)

    # Idempotency keys live this long (Stripe: 24 h); a request that dies holding one holds it this long.
    idempotency_ttl_s: int = Field(default=24 * 3600, ge=1)
    idempotency_lease_s: int = Field(default=30, ge=1)

    # Abuse limits, answered 429 + Retry-After: requests per account and per IP address (DEFAULT_RATE_LIMITS).
    rate_limits: dict[str, RateRule] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    # After this many failed sign-ins in a row, each further one locks the account for base·2^k seconds
    # (k counting from 0), at most max; an operator can unlock it (POST /v1/admin/accounts/unlock).
    login_free_failures: int = Field(default=5, ge=1)
    login_backoff_base_s: float = Field(default=1.0, gt=0)
    login_backoff_max_s: float = Field(default=900.0, gt=0)
    # A buyer the risk service holds an order of for review gets their account limits divided by this
    # factor for this long.
    risk_tighten_factor: int = Field(default=4, ge=1)
    risk_tighten_for_s: int = Field(default=3600, ge=1)
    # Follow risk's decisions (a consumer of quanyi.risk.v1) to tighten flagged buyers' limits.
    risk_flags_enabled: bool = True

    # Admission control: requests in flight past this get 503 + Retry-After (DESIGN.md, Speed).
    max_in_flight: int = Field(default=256, ge=1)
    # Placements (POST /v1/orders) in flight past this get 503 + Retry-After even under max_in_flight: a
    # placement queued behind the knee only grows everyone's wait (open loop at 120/s saw place p50 48 s);
    # the payments of placed orders are never refused for it. Not below the flat-out bench's 64 clients.
    max_in_flight_placements: int = Field(default=64, ge=1)
    # A placement past that cap waits up to this long for a slot, in arrival order, before its 503: a burst
    # (a flash sale's buyers at once) is worked off at the knee; a lasting overload is still refused.
    placement_wait_s: float = Field(default=3.0, ge=0.0, le=30.0)
    retry_after_s: int = Field(default=1, ge=1)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # A CSV import travels to inventory in one gRPC message, whose default limit is 4 MiB.
    max_import_bytes: int = Field(default=3 * 1024 * 1024, ge=1)
    # A key file upload (POST /v1/admin/pools/{id}/key-files) streams to local disk, then to inventory
    # in chunks: it may be this large. Empty key_file_dir means the system's temporary directory.
    max_key_file_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=1024)
    key_file_dir: str = ""
    # How long a key file import may run in inventory, and how many finished jobs are remembered.
    key_file_import_timeout_s: float = Field(default=3600.0, gt=0)
    key_file_jobs_kept: int = Field(default=200, ge=1)
    readyz_timeout_s: float = Field(default=1.0, gt=0)

    # The simulators (payment providers, SMS, partners) are off unless this development setting turns them
    # on, which only a development or test environment may do (`quanyi dev` does); each simulator route
    # then needs the development credential in X-Dev-Credential. Off, they are absent from the OpenAPI.
    simulators_enabled: bool = False
    dev_credential: SecretStr = SecretStr("")
    # PEM file of the simulator's RSA private key; empty means a throw-away key made at start-up
    # (then orders, which holds the public key, cannot verify the simulator's notices).
    psp_sim_private_key_path: str = ""
    psp_sim_key_serial: str = "psp-sim-dev"
    psp_sim_webhook_timeout_s: float = Field(default=10.0, gt=0)

    @property
    def is_development(self) -> bool:
        return self.environment in DEV_ENVIRONMENTS

    @property
    def simulators_active(self) -> bool:
        return self.simulators_enabled and self.is_development

    @property
    def psp_sim_active(self) -> bool:
        return self.simulators_active

    @property
    def listen_host_port(self) -> tuple[str, int]:
        return _host_port(self.gateway_listen)

    def partner_secret(self, partner: str) -> str | None:
        secret = self.partner_secrets.get(partner)
        return secret.get_secret_value() if secret is not None else None

    @field_validator("password_hash_n")
    @classmethod
    def _power_of_two(cls, n: int) -> int:
        if n < 2 or n & (n - 1):
            raise ValueError("password_hash_n must be a power of two, at least 2")
        return n

    @field_validator("token_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value().encode()) < 32:
            raise ValueError("token_secret must be at least 32 bytes (HS256 key)")
        return secret

    @field_validator("rate_limits")
    @classmethod
    def _known_limits(cls, rules: dict[str, RateRule]) -> dict[str, RateRule]:
        unknown = sorted(set(rules) - set(DEFAULT_RATE_LIMITS))
        if unknown:
            raise ValueError(f"unknown rate limits {unknown}; known: {sorted(DEFAULT_RATE_LIMITS)}")
        return {**DEFAULT_RATE_LIMITS, **rules}

    @field_validator("channel_accounts")
    @classmethod
    def _channel_names(cls, accounts: dict[str, str]) -> dict[str, str]:
        for channel in accounts:
            if not re.fullmatch(r"[a-z0-9_-]{1,32}", channel) or channel == "web":
                raise ValueError(f"channel names are 1-32 of a-z 0-9 _ - and not 'web'; got {channel!r}")
        return accounts

    @field_validator("gateway_listen")
    @classmethod
    def _valid_listen(cls, value: str) -> str:
        _host_port(value)
        return value

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _simulators_only_in_development(self) -> Settings:
        if self.simulators_enabled and not self.is_development:
            raise ValueError(
                "QUANYI_SIMULATORS_ENABLED is a development setting;"
                f" environment={self.environment} refuses it"
            )
        if self.simulators_enabled and len(self.dev_credential.get_secret_value()) < 16:
            raise ValueError(
                "QUANYI_SIMULATORS_ENABLED needs QUANYI_DEV_CREDENTIAL of at least 16 characters"
            )
        return self

    @model_validator(mode="after")
    def _no_default_secrets_outside_development(self) -> Settings:
        found = []
        if self.admin_password.get_secret_value() == DEV_ADMIN_PASSWORD:
            found.append("QUANYI_ADMIN_PASSWORD")
        if any(self.partner_secret(p) == s for p, s in DEV_PARTNER_SECRETS.items()):
            found.append("QUANYI_PARTNER_SECRETS")
        if self.token_secret.get_secret_value() == DEV_TOKEN_SECRET:
            found.append("QUANYI_TOKEN_SECRET")
        if self.psp_sim_active and not self.psp_sim_private_key_path:
            found.append("QUANYI_PSP_SIM_PRIVATE_KEY_PATH")
        if not found:
            return self
        if self.is_development:
            log.debug("development secrets in use: %s", ", ".join(found))
            return self
        raise ValueError(f"{', '.join(found)} must be set to real values when environment={self.environment}")


def load() -> Settings:
    """Settings from the environment; invalid ones stop the process with a message that quotes no value."""
    try:
        return Settings()
    except ValidationError as exc:
        errors = exc.errors(include_input=False)
        reasons = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in errors)
        raise SystemExit(f"invalid gateway settings: {reasons}") from None
