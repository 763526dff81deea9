"""The README's first run, extracted from the README itself and run by bash against a development stack
(all six services as processes, development credentials), so the README and the system cannot drift:
every command must succeed and print what its "# →" line says."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from quanyi_cli.stack import Stack, StackConfig
from quanyi_gateway.psp_sim import generate_keypair
from quanyi_platform.infra.postgres import create_database, database_url_for, drop_database
from quanyi_platform.infra.smtp import CapturingSmtpServer
from quanyi_platform.infra.tansu import TansuBroker

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- first-run:"


def first_run_block(readme: str) -> str:
    """The sh block that follows the first-run marker."""
    after = readme[readme.index(MARKER) :]
    match = re.search(r"```sh\n(.*?)```", after, re.S)
    assert match, "no sh block after the first-run marker"
    return match.group(1)


def expected_lines(block: str) -> list[re.Pattern[str]]:
    """The "# → ..." lines as patterns, "…" matching anything."""
    lines = [line.split("# → ", 1)[1] for line in block.splitlines() if line.startswith("# → ")]
    return [re.compile(".*".join(re.escape(part) for part in line.split("…")) + "$") for line in lines]


def test_the_block_is_found_and_shows_what_each_step_prints() -> None:
    block = first_run_block(README.read_text())
    assert "jq" in block and "/psp-sim/v1/pay" in block and "/redemptions" in block
    assert len(expected_lines(block)) >= 8


@pytest.fixture(scope="module")
def dev_stack(pg_admin_url: str) -> Iterator[Stack]:
    """A development stack with the default development secrets, as `make run` has them."""
    work = Path(tempfile.mkdtemp(prefix="quanyi-readme-"))
    os.chmod(work, 0o711)
    name = f"quanyi_readme_{uuid.uuid4().hex[:12]}"
    create_database(pg_admin_url, name)
    smtp, broker = CapturingSmtpServer(), TansuBroker(log_path=work / "tansu.log")
    smtp.start()
    broker.start()
    private_key, public_key = generate_keypair(work / "psp")
    config = StackConfig.with_free_ports(
        database_url=database_url_for(pg_admin_url, name),
        kafka_bootstrap=broker.bootstrap,
        smtp_port=smtp.port,
        data_dir=work,
        psp_private_key=private_key,
        psp_public_key=public_key,
        environment="development",
        extra_env={"QUANYI_KAFKA_SESSION_TIMEOUT_MS": "6000"},
    )
    stack = Stack(config)
    stack.start()
    try:
        stack.wait_ready(timeout=90)
        yield stack
    finally:
        stack.stop()
        broker.stop()
        smtp.stop()
        drop_database(pg_admin_url, name)
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.skipif(not all(shutil.which(t) for t in ("bash", "curl", "jq", "openssl")), reason="needs curl, jq, openssl")
def test_the_readmes_first_run_works_pasted_as_one_block(dev_stack: Stack, tmp_path: Path) -> None:
    block = first_run_block(README.read_text())
    # What `make run` writes for the block to read: the gateway's URL and the development credential.
    (tmp_path / ".data").mkdir()
    (tmp_path / ".data" / "quanyi.env").write_text(
        f"QUANYI_GATEWAY_URL={dev_stack.config.gateway_url}\n"
        f"QUANYI_DEV_CREDENTIAL={dev_stack.config.dev_credential}\n"
    )
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        env={k: v for k, v in os.environ.items() if not k.startswith("QUANYI_")},
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    printed = [line for line in done.stdout.splitlines() if line.strip()]
    expected = expected_lines(block)
    assert len(printed) == len(expected), printed
    for line, pattern in zip(printed, expected, strict=True):
        assert pattern.match(line), (line, pattern.pattern)
