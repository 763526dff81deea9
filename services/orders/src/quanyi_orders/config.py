"""Orders settings, from QUANYI_* environment variables."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from quanyi_platform.config import PlatformSettings
from quanyi_platform.psp import DEV_API_V3_KEY

#: The development key of client tags; production refuses it (QUANYI_CLIENT_TAG_KEY).
DEV_CLIENT_TAG_KEY = "quanyi-dev-client-tag-key-not-secret"


class Settings(PlatformSettings):
    """Orders' settings: the platform's plus where it listens and how payment notices are verified."""

    orders_grpc_listen: str = "127.0.0.1:50051"
    # The payment provider's RSA public key (or certificate), as PEM text or a PEM file. Without one,
    # every payment notice is refused.
    psp_public_key_pem: str = ""
    psp_public_key_path: str = ""
    psp_provider_name: str = "psp-sim"
    # A notice whose timestamp is further than this from now is refused, so old captures cannot replay.
    psp_max_skew_s: int = 300
    # Group commit of PlaceOrder and payment notices (application.entry): at most this many calls of one
    # kind share a unit of work, and at most this many such groups (of each kind) run at once. A call
    # that finds a group free starts at once; the rest join the next group while those commit.
    # One group at a time (placements always, with stock holds): two capture groups split what queued
    # into halves that each pay the group's statements, and contend for the same rows. Back to back at
    # 64 clients flat out, 1 against 2: 7.3 against 8.7 statements an order in orders, 65 against 70 ms of
    # CPU an order in all, 15.5 against 13.5 orders/s (bench/README.md).
    group_commit_max_calls: int = 64
    group_commit_in_flight: int = 1

    # Stock holds (application.holds): an unpaid order holds its units of each SKU until it is paid,
    # cancelled, expired or refunded. At most this many open holds per buyer and per client address (0: no
    # cap); a placement past what inventory has available minus what is held is refused. Inventory's
    # levels are asked over gRPC, at most once a SKU per stock_level_cache_s, within stock_level_deadline_s.
    hold_max_per_buyer: int = Field(default=10, ge=0)
    hold_max_per_client: int = Field(default=50, ge=0)
    hold_check_stock: bool = True
    stock_level_cache_s: float = Field(default=1.0, ge=0)
    stock_level_deadline_s: float = Field(default=1.0, gt=0)
    # The key of the digest orders keeps of a client's address (HMAC-SHA256), never the address itself.
    client_tag_key: SecretStr = SecretStr(DEV_CLIENT_TAG_KEY)

    # The order saga. An unpaid order expires this long after it is placed.
    payment_ttl_s: int = Field(default=900, ge=1)
    # The pollers (entrypoints.saga) look at due timeouts and open refunds this often.
    saga_poll_interval_s: float = Field(default=1.0, gt=0)
    # Active query: orders placed between payment_query_window_s and payment_query_after_s ago that still
    # await payment are asked for at the providers every payment_query_interval_s (and once more at expiry).
    payment_query_after_s: float = Field(default=10.0, ge=0)
    payment_query_window_s: float = Field(default=120.0, gt=0)
    payment_query_interval_s: float = Field(default=10.0, gt=0)
    # An unconfirmed refund is sent (or asked about) again this long after the last call.
    refund_retry_s: float = Field(default=30.0, gt=0)
    # The providers' APIs: QUANYI_PSP_API_BASE_URL, else QUANYI_PUBLIC_BASE_URL (the gateway, which serves
    # the simulators in development). Empty: no active query and no refunds are sent.
    psp_api_base_url: str = ""
    public_base_url: str = ""
    # Each provider's API root, when not the simulator's under psp_base_url (e.g. a real provider's).
    wechatpay_api_url: str = ""
    alipay_gateway_url: str = ""
    psp_api_timeout_s: float = Field(default=5.0, gt=0)
    # The WeChat-style provider's API v3 key (AES-256-GCM of notices' resources), 32 bytes.
    psp_api_v3_key: SecretStr = SecretStr(DEV_API_V3_KEY)
    # The development credential the gateway's simulators ask for (QUANYI_DEV_CREDENTIAL), sent with every
    # call of a provider's API when set.
    dev_credential: SecretStr = SecretStr("")

    @property
    def psp_base_url(self) -> str:
        return (self.psp_api_base_url or self.public_base_url).rstrip("/")

    @property
    def wechatpay_api(self) -> str:
        base = self.psp_base_url
        return self.wechatpay_api_url.rstrip("/") or (f"{base}/psp-sim/v1/wechatpay" if base else "")

    @property
    def alipay_gateway(self) -> str:
        base = self.psp_base_url
        return self.alipay_gateway_url or (f"{base}/psp-sim/v1/alipay/gateway.do" if base else "")

    @model_validator(mode="after")
    def _production_needs_a_psp_key(self) -> Settings:
        if self.is_production and not (self.psp_public_key_pem or self.psp_public_key_path):
            raise ValueError(
                "QUANYI_PSP_PUBLIC_KEY_PEM or QUANYI_PSP_PUBLIC_KEY_PATH must be set in production"
            )
        if self.is_production and self.psp_api_v3_key.get_secret_value() == DEV_API_V3_KEY:
            raise ValueError("QUANYI_PSP_API_V3_KEY must be set in production")
        if self.is_production and self.client_tag_key.get_secret_value() == DEV_CLIENT_TAG_KEY:
            raise ValueError("QUANYI_CLIENT_TAG_KEY must be set in production")
        if len(self.psp_api_v3_key.get_secret_value().encode()) != 32:
            raise ValueError("QUANYI_PSP_API_V3_KEY must be 32 bytes")
        return self


def load() -> Settings:
    return Settings()
