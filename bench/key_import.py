"""Key import benchmark: `quanyi keys import` of a 1,000,000-key file, end to end.

Starts inventory and the gateway as processes (the same commands `quanyi dev` runs) on a fresh database
and a broker of their own, creates a SKU and a pool through the admin API, writes a CSV of N distinct keys
with passwords, and runs the CLI as a process: upload to the gateway, the gateway's job streams the file to
inventory, which reads, validates, fingerprints, seals and COPYs it, checks duplicates and stores the
batch in one transaction. It then checks that the SKU has N keys available and that a second import of
the same file (all-or-nothing) stores nothing, and prints the figures and one JSON object:

    keys, seconds (the CLI's wall time), keys_per_s, peak_rss_mb (the largest peak RSS of the three
    processes: CLI, gateway, inventory) and each process's peak.

Targets (issue 7): < 30 s and < 300 MB for 1,000,000 keys on the 2-core machine.

    .venv/bin/python -m bench.key_import --keys 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from quanyi_cli.stack import Stack, StackConfig
from quanyi_gateway.psp_sim import generate_keypair
from quanyi_platform.infra.postgres import create_database, database_url_for, drop_database, ensure_postgres
from quanyi_platform.infra.tansu import TansuBroker

ADMIN_EMAIL = "bench-admin@quanyi.local"
ADMIN_PASSWORD = "bench-admin-password"
TARGET_SECONDS = 30.0
TARGET_RSS_MB = 300.0


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def write_keys(path: Path, n: int) -> int:
    """A CSV of `n` distinct codes with passwords; returns its size in bytes."""
    prefix = uuid.uuid4().hex[:8].upper()
    with path.open("w", newline="") as fh:
        fh.write("code,password\n")
        step = 100_000
        for start in range(0, n, step):
            fh.write("".join(
                f"QY{prefix}-{i:09d}-{(i * 7919) % 1000003:07d},PW{i:09d}\n" for i in range(start, min(n, start + step))
            ))
    return path.stat().st_size


def wait_ready(stack: Stack, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in stack.procs.items():
            if proc.poll() is not None:
                tail = (stack.log_dir / f"{name}.log").read_text(errors="replace")[-8000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")
        try:
            if stack._grpc_ready("inventory") and httpx.get(
                f"{stack.config.gateway_url}/healthz", timeout=2
            ).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError("inventory and the gateway did not become ready")


def setup_pool(gateway: str) -> tuple[str, str]:
    with httpx.Client(base_url=gateway, timeout=30) as http:
        token = http.post("/v1/auth/token", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}).json()
        http.headers["Authorization"] = f"Bearer {token['access_token']}"
        product = http.post("/v1/admin/products", json={"name": "Bench keys", "kind": "card_key"}).json()
        sku = http.post(
            f"/v1/admin/products/{product['product_id']}/skus",
            json={"name": "Bench keys month", "price": {"amount_minor": 990, "currency": "CNY"}},
        ).json()
        pool = http.post(f"/v1/admin/skus/{sku['sku_id']}/pools", json={"name": "bench"}).json()
    return sku["sku_id"], pool["pool_id"]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def backends_cpu_s(admin_url: str, database: str) -> float:
    """CPU seconds of the database's client backends now alive (the services' pooled connections)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        pids = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'",
            (database,),
        )]
    total = 0.0
    for pid in pids:
        try:
            total += cpu_s(pid)
        except psutil.Error:
            pass  # gone, or on another machine
    return total


def run_cli(gateway: str, file: Path, pool_id: str) -> tuple[dict[str, Any], float, float, int]:
    """Run `quanyi keys import`; its JSON, wall seconds, peak RSS (MB) and exit code."""
    env = {**os.environ, "QUANYI_GATEWAY_URL": gateway, "QUANYI_ADMIN_EMAIL": ADMIN_EMAIL,
           "QUANYI_ADMIN_PASSWORD": ADMIN_PASSWORD}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from quanyi_cli.main import app; app()", "keys", "import", str(file),
         "--pool", pool_id, "--unit-cost-minor", "500", "--json"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    peak = 0.0
    while proc.poll() is None:
        try:
            peak = max(peak, peak_rss_mb(proc.pid))
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(0.1)
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    if not out.strip():
        raise RuntimeError(f"the CLI printed no result (exit {proc.returncode}): {err[-2000:]}")
    return json.loads(out), seconds, peak, proc.returncode


def main(keys: int) -> dict[str, Any]:
    admin_url, embedded = ensure_postgres(
        os.environ.get("QUANYI_BENCH_ADMIN_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
        Path(".data") / "bench-postgres",
    )
    name = f"quanyi_bench_keys_{uuid.uuid4().hex[:8]}"
    create_database(admin_url, name)
    work = Path(tempfile.mkdtemp(prefix="quanyi-bench-keys-"))
    broker = TansuBroker(log_path=work / "tansu.log")
    broker.start()
    stack: Stack | None = None
    try:
        private_key, public_key = generate_keypair(work / "psp")
        config = StackConfig.with_free_ports(
            database_url=database_url_for(admin_url, name), kafka_bootstrap=broker.bootstrap, smtp_port=1,
            data_dir=work, psp_private_key=private_key, psp_public_key=public_key, environment="test",
            extra_env={"QUANYI_ADMIN_EMAIL": ADMIN_EMAIL, "QUANYI_ADMIN_PASSWORD": ADMIN_PASSWORD,
                       "QUANYI_PASSWORD_HASH_N": "1024", "QUANYI_CATALOGUE_CACHE_ENABLED": "false",
                       "QUANYI_KEY_FILE_DIR": str(work)},
        )
        stack = Stack(config)
        stack.start(("inventory", "gateway"))
        wait_ready(stack)
        sku_id, pool_id = setup_pool(config.gateway_url)
        file = work / "keys.csv"
        t = time.perf_counter()
        size = write_keys(file, keys)
        print(f"wrote {keys:,} keys ({size / 1e6:,.1f} MB) in {time.perf_counter() - t:.1f} s", flush=True)

        procs = {n: stack.procs[n].pid for n in ("inventory", "gateway")}
        before = {n: cpu_s(pid) for n, pid in procs.items()}
        pg_before = backends_cpu_s(admin_url, name)
        cli_before = os.times().children_user + os.times().children_system
        load_before = os.getloadavg()[0]
        result, seconds, cli_rss, code = run_cli(config.gateway_url, file, pool_id)
        cpu = {n: cpu_s(pid) - before[n] for n, pid in procs.items()}
        cpu["postgres"] = backends_cpu_s(admin_url, name) - pg_before
        cpu["cli"] = os.times().children_user + os.times().children_system - cli_before
        load_after = os.getloadavg()[0]
        if code != 0 or result.get("imported") != keys:
            raise RuntimeError(f"the import did not store every key: {result}")
        inventory_rss = peak_rss_mb(stack.procs["inventory"].pid)
        gateway_rss = peak_rss_mb(stack.procs["gateway"].pid)
        with httpx.Client(base_url=config.gateway_url, timeout=30) as http:
            available = http.get(f"/v1/skus/{sku_id}").json()["available"]
        again, again_s, _, again_code = run_cli(config.gateway_url, file, pool_id)
        out = {
            "benchmark": "key_import",
            "keys": keys,
            "file_mb": round(size / 1e6, 1),
            "seconds": round(seconds, 2),
            "keys_per_s": round(keys / seconds, 1),
            "peak_rss_mb": round(max(cli_rss, inventory_rss, gateway_rss), 1),
            "peak_rss_mb_by_process": {"cli": round(cli_rss, 1), "gateway": round(gateway_rss, 1),
                                       "inventory": round(inventory_rss, 1)},
            # Load-independent: CPU µs per key of each process (Postgres: the services' backends).
            "cpu_us_per_key": {n: round(1e6 * c / keys, 1) for n, c in cpu.items()},
            "load_average": [round(load_before, 1), round(load_after, 1)],
            "cpu_cores": os.cpu_count(),
            "available_after": available,
            "reimport_seconds": round(again_s, 2),
            "reimport_stored": again.get("imported"),
            "reimport_duplicates_in_pool": again.get("duplicates_in_pool"),
            "targets": {"seconds": TARGET_SECONDS, "peak_rss_mb": TARGET_RSS_MB},
        }
        print(f"imported {keys:,} keys through the CLI in {seconds:.1f} s ({out['keys_per_s']:,.0f} keys/s);"
              f" peak RSS: CLI {cli_rss:.0f} MB, gateway {gateway_rss:.0f} MB, inventory {inventory_rss:.0f} MB"
              f" (targets: < {TARGET_SECONDS:.0f} s, < {TARGET_RSS_MB:.0f} MB)")
        print("CPU per key: " + ", ".join(f"{n} {v} µs" for n, v in out["cpu_us_per_key"].items())
              + f"; load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} cores")
        print(f"re-import of the same file (all-or-nothing): {again_s:.1f} s, stored {again.get('imported')},"
              f" exit {again_code}; available keys: {available:,}")
        return out
    finally:
        if stack is not None:
            for proc_name in list(stack.procs):
                stack.stop_one(proc_name)
        broker.stop()
        drop_database(admin_url, name)
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(work, ignore_errors=True)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=1_000_000, help="keys in the file (default 1,000,000)")
    args = parser.parse_args()
    print(json.dumps(main(args.keys)))


if __name__ == "__main__":
    cli()
