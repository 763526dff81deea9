import base64
import json
import os

import pytest
from quanyi_inventory.adapters.crypto import KeyringError
from quanyi_inventory.bootstrap import keyring
from quanyi_inventory.config import Settings


def test_development_runs_with_the_development_master_key() -> None:
    assert keyring(Settings(environment="development")).active_id == "dev-1"


def test_production_refuses_to_start_with_the_development_master_key() -> None:
    settings = Settings(environment="production", kafka_enable_idempotence=True)
    with pytest.raises(KeyringError, match="development key"):
        keyring(settings)


def test_production_starts_with_its_own_master_key() -> None:
    settings = Settings(
        environment="production",
        kafka_enable_idempotence=True,
        master_keys=json.dumps({"prod-1": base64.b64encode(os.urandom(32)).decode()}),
        active_master_key_id="prod-1",
    )
    assert keyring(settings).active_id == "prod-1"


def test_the_master_keys_do_not_appear_in_the_settings_repr() -> None:
    secret = base64.b64encode(os.urandom(32)).decode()
    settings = Settings(master_keys=json.dumps({"k": secret}), active_master_key_id="k")
    assert secret not in repr(settings)
