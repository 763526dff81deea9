"""`quanyi ledger ...` and `quanyi report sales` as processes against the ledger's gRPC API."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from quanyi_platform.eventstore import EventStore

from .conftest import deliver
from .facts import delivered, sale


async def quanyi(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", "from quanyi_cli.main import app; app()", *args, "--ledger", address],
        capture_output=True, text=True, timeout=120, check=False,
    )


async def test_verify_sign_head_and_verify_against_it_name_the_first_broken_link(
    pool: AsyncConnectionPool, store: EventStore, ledger_address: str, database_url: str, tmp_path: Path
) -> None:
    await deliver(pool, store, *sale("o1", "web", 1000), delivered("o1", "web", 300))
    ok = await quanyi(ledger_address, "ledger", "verify", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"ok": True, "entries": 3, "problems": []}

    head = tmp_path / "head.json"
    signed = await quanyi(ledger_address, "ledger", "sign-head", "-o", str(head), "--json")
    assert signed.returncode == 0, signed.stderr
    exported = json.loads(head.read_text())
    assert exported["seq"] == 3
    pinned = await quanyi(ledger_address, "ledger", "verify", "--head", str(head),
                          "--public-key", exported["public_key"], "--json")
    assert pinned.returncode == 0 and json.loads(pinned.stdout)["ok"], pinned.stdout

    async with await AsyncConnection.connect(database_url) as conn:
        await conn.execute("SET search_path TO ledger")
        await conn.execute("ALTER TABLE journal_lines DISABLE TRIGGER USER")
        await conn.execute("UPDATE journal_lines SET sku_id = 'other' WHERE entry_seq = 2")
        await conn.execute("ALTER TABLE journal_lines ENABLE TRIGGER USER")
        await conn.commit()
    broken = await quanyi(ledger_address, "ledger", "verify")
    assert broken.returncode == 1, broken.stderr
    assert "first broken link: entry 2 was changed after it was posted" in " ".join(broken.stdout.split())

    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**exported, "hash": "0" * 64}))
    refused = await quanyi(ledger_address, "ledger", "verify", "--head", str(forged), "--json")
    assert refused.returncode == 1
    assert any("signature does not verify" in p for p in json.loads(refused.stdout)["problems"])


async def test_report_sales_prints_a_table_and_writes_csv(
    pool: AsyncConnectionPool, store: EventStore, ledger_address: str, tmp_path: Path
) -> None:
    await deliver(pool, store, *sale("o1", "web", 1000), delivered("o1", "web", 300), *sale("o2", "app", 500))
    table = await quanyi(ledger_address, "report", "sales", "--by", "channel", "--period", "none")
    assert table.returncode == 0, table.stderr
    assert "10.00 CNY" in table.stdout and "7.00 CNY" in table.stdout  # web: sales 10.00, margin 7.00
    out = tmp_path / "r.csv"
    written = await quanyi(ledger_address, "report", "sales", "--by", "channel", "--period", "day",
                           "--csv", str(out), "--json")
    assert written.returncode == 0, written.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert {(r["channel"], r["sales_minor"], r["cost_minor"], r["margin_minor"]) for r in rows} == {
        ("web", "1000", "300", "700"), ("app", "500", "0", "500")
    }
    bad = await quanyi(ledger_address, "report", "sales", "--by", "colour")
    assert bad.returncode == 1 and "cannot group by colour" in bad.stderr
