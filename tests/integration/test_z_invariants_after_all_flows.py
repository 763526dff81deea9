"""Runs after the other end-to-end modules (pytest orders files by name): I1, I3 and I5 over everything."""

from __future__ import annotations

import httpx
import pytest
from psycopg import AsyncConnection, errors
from quanyi_cli.stack import Stack

from tests.integration import checks
from tests.integration.harness import SEEN_SECRETS, admin, eventually, quiet

pytestmark = pytest.mark.integration


async def test_no_key_was_delivered_twice(stack: Stack) -> None:
    url = stack.config.database_url
    await eventually(lambda: quiet(url))
    assert (
        await checks.scalar(url, "SELECT count(*) - count(DISTINCT key_id) FROM fulfillment.deliveries") == 0
    )
    assert (
        await checks.scalar(
            url,
            "SELECT count(*) FROM (SELECT key_id FROM fulfillment.deliveries GROUP BY key_id"
            " HAVING count(DISTINCT order_id) > 1) twice",
        )
        == 0
    )
    assert await checks.scalar(url, "SELECT count(*) FROM fulfillment.deliveries") > 0


async def test_the_journal_balances_verifies_and_refuses_changes(
    http: httpx.AsyncClient, stack: Stack
) -> None:
    url = stack.config.database_url
    adm = await admin(http)
    r = await adm.get("/v1/admin/ledger/verify")
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["entries"] > 0, r.text
    assert (
        await checks.scalar(
            url,
            "SELECT count(*) FROM (SELECT entry_seq FROM ledger.journal_lines GROUP BY entry_seq, currency"
            " HAVING sum(debit_minor) <> sum(credit_minor)) unbalanced",
        )
        == 0
    )
    async with await AsyncConnection.connect(url) as conn:
        for statement in (
            "UPDATE ledger.journal_lines SET debit_minor = debit_minor + 1",
            "DELETE FROM ledger.journal_entries",
            "TRUNCATE ledger.journal_lines CASCADE",
        ):
            with pytest.raises(errors.Error):
                await conn.execute(statement)
            await conn.rollback()


async def test_no_key_plaintext_in_any_table_log_or_topic_message(stack: Stack) -> None:
    assert SEEN_SECRETS, "the flows imported no keys to look for"
    url = stack.config.database_url
    await eventually(lambda: quiet(url))
    assert await checks.plaintext_in_tables(url, SEEN_SECRETS) == []
    assert checks.plaintext_in_logs(stack.log_dir, SEEN_SECRETS) == []
    read, hits = await checks.plaintext_in_topics(stack.config.kafka_bootstrap, SEEN_SECRETS)
    assert read > 0 and hits == []
