"""Payment providers' wire formats, shared by orders (which verifies) and the gateway's simulators (which
sign exactly as the providers do): `wechatpay` (API v3) and `alipay` (open API, RSA2)."""

#: The API v3 key (AES-256-GCM, 32 bytes) the WeChat-style simulator and orders share in development and
#: tests. Production refuses it: set QUANYI_PSP_API_V3_KEY to the merchant's key.
DEV_API_V3_KEY = "quanyi-dev-api-v3-key-0123456789"
