"""Payment providers' wire formats, shared by orders (which verifies) and the gateway's simulators (which
sign exactly as the providers do): `wechatpay` (API v3) and `alipay` (open API, RSA2)."""
