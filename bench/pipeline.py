"""One phase through the gateway, for quick experiments: six service processes on a fresh database and
broker, N orders placed and paid over HTTP, closed loop (``--concurrency`` clients) or open loop
(``--rate``). Prints the same figures as a phase of `make bench` (bench/run.py): achieved orders/s,
paid→delivered p50/p95/p99 and per hop from the services' own event timestamps, HTTP latencies, CPU ms per
order per process and Postgres statements per order per service, then the phase as one JSON object.

    .venv/bin/python -m bench.pipeline --orders 2000 --concurrency 32 [--rate N] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import uvloop

from bench.load import GatewayLoad, Outcome, setup_shop
from bench.run import code_env, measure, parse
from bench.system import BenchPostgres, Part, log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--buyers", type=int, default=100)
    ap.add_argument("--rate", type=float, default=0, help="orders per second to offer (0: as fast as possible)")
    ap.add_argument("--pay", choices=("webhook", "psp-sim"), default="webhook")
    ap.add_argument("--postgres", choices=("dedicated", "url"), default="dedicated")
    ap.add_argument("--profile", action="store_true", help="py-spy the service processes during the phase")
    ap.add_argument("--rev", help="run the services from this git revision")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    opts = parse(["--postgres", args.postgres, "--pay", args.pay] + (["--rev", args.rev] if args.rev else []))
    work = Path(tempfile.mkdtemp(prefix="quanyi-bench-"))
    os.chmod(work, 0o711)
    pg = BenchPostgres(work, opts.postgres, opts.database_url)
    part: Part | None = None
    try:
        pg.start()
        log(pg.describe())
        part = Part(pg, work, "pipeline", code_env(work, opts))
        part.start()
        assert part.stack is not None and part.private_key is not None
        t = time.perf_counter()
        shop = asyncio.run(setup_shop(part.stack.config.gateway_url, args.orders + 10, args.buyers))
        log(f"catalogue: {args.orders + 10:,} keys, {args.buyers} buyers in {time.perf_counter() - t:.1f} s")
        load = GatewayLoad(part.stack.config.gateway_url, shop, part.private_key, pay=args.pay,
                           dev_credential=part.stack.config.dev_credential)

        async def drive() -> Outcome:
            if args.rate > 0:
                return await load.run(rate=args.rate, seconds=args.orders / args.rate)
            return await load.run(seconds=1e9, concurrency=args.concurrency, max_orders=args.orders)

        label = f"pipeline {args.rate:g}/s" if args.rate > 0 else "pipeline flat out"
        result = uvloop.run(measure(part, label, args.rate or None, drive, opts,
                                    work / "profiles" if args.profile else None))
        print(json.dumps(result, ensure_ascii=False, indent=2))
    finally:
        if part is not None:
            part.stop(args.keep)
        pg.stop()
        if args.keep or args.profile:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
