import pytest
from pydantic import ValidationError
from quanyi_gateway.config import Settings, load

REAL = {
    "admin_password": "a-real-password",
    "partner_secrets": {"acme": "real-secret"},
    "token_secret": "a-real-token-secret-of-32-bytes-or-more",
    "kafka_enable_idempotence": True,
}


def test_development_runs_with_the_default_secrets_and_the_simulators_off() -> None:
    settings = Settings(environment="development")
    assert not settings.psp_sim_active
    assert settings.partner_secret("demo-partner") == "dev-partner-secret"


@pytest.mark.parametrize(
    "default",
    [
        {"admin_password": "dev-admin-password"},
        {"partner_secrets": {"demo-partner": "dev-partner-secret"}},
        {"simulators_enabled": True, "dev_credential": "a-development-credential"},
        {"token_secret": "dev-token-secret-for-development-only-0123456789"},
    ],
)
def test_production_refuses_a_default_secret(default: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(environment="production", **{**REAL, **default})


def test_production_starts_with_real_secrets_and_without_the_simulator() -> None:
    settings = Settings(environment="production", **REAL)
    assert not settings.psp_sim_active


def test_secrets_do_not_appear_in_the_settings_repr() -> None:
    settings = Settings(environment="production", **REAL)
    assert "a-real-password" not in repr(settings)
    assert "real-secret" not in repr(settings)
    assert "a-real-token-secret" not in repr(settings)


def test_a_token_secret_shorter_than_32_bytes_is_refused_everywhere() -> None:
    with pytest.raises(ValidationError):
        Settings(environment="development", token_secret="too-short")


def test_the_scrypt_cost_must_be_a_power_of_two() -> None:
    with pytest.raises(ValidationError):
        Settings(password_hash_n=1000)


def test_the_listen_address_is_host_and_port() -> None:
    assert Settings(gateway_listen="0.0.0.0:8080").listen_host_port == ("0.0.0.0", 8080)
    with pytest.raises(ValidationError):
        Settings(gateway_listen="8080")


def test_loading_invalid_settings_exits_without_quoting_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANYI_ENVIRONMENT", "production")
    monkeypatch.setenv("QUANYI_KAFKA_ENABLE_IDEMPOTENCE", "true")
    monkeypatch.setenv("QUANYI_PARTNER_SECRETS", '{"acme": "real-secret-value"}')
    with pytest.raises(SystemExit) as caught:
        load()
    assert "QUANYI_ADMIN_PASSWORD" in str(caught.value)
    assert "QUANYI_TOKEN_SECRET" in str(caught.value)
    assert "real-secret-value" not in str(caught.value)


@pytest.mark.parametrize("channel", ["web", "Tmall", "", "a" * 33])
def test_a_channel_account_needs_a_channel_name_other_than_the_storefronts(channel: str) -> None:
    with pytest.raises(ValidationError):
        Settings(channel_accounts={channel: "x@example.com"})
