"""`make bench`: quanyi's figures in one run, printed as they come, ending with one JSON object.

    .venv/bin/python -m bench [--quick] [options]      (see bench/README.md)

1. The machine's limits, now: Postgres single-row commits/s (pgbench) and the broker's produce and
   consume msgs/s (a broker of its own).
2. Through the gateway, all six services running as processes on a fresh database and broker:
   the idle stack's CPU; flat out (64 clients, closed loop); open-loop steps (30, 60, 120,
   180 orders/s, 20 s each); then 100 orders/s open loop for the Postgres statements per order.
3. The event backbone alone, on another fresh database and broker: orders placed through orders' gRPC
   API and notices signed before each timed phase; the gateway stopped; the timed phase hands orders the
   notices (HandlePaymentNotice) and risk, inventory, fulfillment (reveal and e-mail to an SMTP sink) and
   ledger do the rest. Flat out, then open loop at 200 and 400 orders/s.
4. Optionally the bare pipeline yardstick (../shared/limit/bare_rate.sh), back to back.

Every phase reports paid→delivered p50/p95/p99 (orders' PaymentCaptured → fulfillment's KeyDelivered,
from the services' own event stores), CPU ms per order per process (psutil, over the phase until the
stack is quiet again) and Postgres statements per order per service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop
from psycopg import AsyncConnection

from bench import limits
from bench.load import BackboneLoad, GatewayLoad, Outcome, chain, pct, r1, setup_shop, wait_delivered
from bench.profile import Profiler
from bench.system import BenchPostgres, Part, cpu_delta, log, statements_per_order

REPO = Path(__file__).resolve().parent.parent
BARE_SCRIPT = REPO.parent / "shared" / "limit" / "bare_rate.sh"
PYTHON_SERVICES = ("orders", "inventory", "fulfillment", "ledger", "risk", "gateway")


@dataclass
class Options:
    quick: bool
    postgres: str
    database_url: str
    limits_s: float
    broker_messages: int
    idle_s: float
    flat_s: float
    concurrency: int
    buyers: int
    pay: str
    steps: list[float]
    step_s: float
    statements_rate: float
    statements_s: float
    backbone_orders: int
    backbone_steps: list[float]
    backbone_step_s: float
    backbone_concurrency: int
    give_up_s: float
    stall_s: float
    skip: set[str]
    profile: bool
    bare_script: Path | None
    bare_rate: float
    keep: bool
    json_out: Path | None
    rev: str | None


def parse(argv: list[str] | None = None) -> Options:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="short phases (5 s steps, 8 s flat out, 2,000 backbone orders): proves it works end to end")
    ap.add_argument("--postgres", choices=("dedicated", "url"), default="dedicated",
                    help="dedicated: an embedded server with pg_stat_statements (default); url: --database-url")
    ap.add_argument("--database-url", default=os.environ.get("QUANYI_DATABASE_URL")
                    or "postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--limits-seconds", type=float, help="pgbench seconds per client count (default 5, quick 3)")
    ap.add_argument("--broker-messages", type=int, help="messages for the broker limits (default 100000, quick 30000)")
    ap.add_argument("--idle-seconds", type=float, help="idle stack CPU window (default 10, quick 5)")
    ap.add_argument("--flat-seconds", type=float, help="gateway flat-out duration (default 20, quick 8)")
    ap.add_argument("--concurrency", type=int, default=64, help="gateway flat-out clients (default 64)")
    ap.add_argument("--buyers", type=int, default=100, help="registered buyers the gateway load cycles through")
    ap.add_argument("--pay", choices=("webhook", "psp-sim"), default="webhook",
                    help="webhook: the client signs the notice and posts it to the gateway's webhook (default); "
                         "psp-sim: the gateway's PSP simulator signs and posts it")
    ap.add_argument("--steps", default="30,60,120,180", help="gateway open-loop rates, orders/s")
    ap.add_argument("--step-seconds", type=float, help="seconds per open-loop step (default 20, quick 5)")
    ap.add_argument("--statements-rate", type=float, default=100.0, help="rate of the statements step (default 100)")
    ap.add_argument("--statements-seconds", type=float, help="duration of the statements step (default 10, quick 5)")
    ap.add_argument("--backbone-orders", type=int, help="orders for the backbone flat out (default 8000, quick 2000)")
    ap.add_argument("--backbone-steps", default="200,400", help="backbone open-loop rates, orders/s")
    ap.add_argument("--backbone-step-seconds", type=float, help="seconds per backbone step (default 20, quick 5)")
    ap.add_argument("--backbone-concurrency", type=int, default=128,
                    help="backbone flat-out gRPC calls in flight (default 128)")
    ap.add_argument("--give-up-seconds", type=float, default=120.0,
                    help="open loop: abandon orders not answered this long after the step's offer ended")
    ap.add_argument("--stall-seconds", type=float, default=30.0,
                    help="stop waiting for deliveries when none came for this long")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: limits, idle, gateway, backbone, bare")
    ap.add_argument("--profile", action="store_true",
                    help="py-spy every service process during the flat-out phases (needs py-spy in the venv)")
    ap.add_argument("--bare-script", type=Path, default=BARE_SCRIPT if BARE_SCRIPT.exists() else None,
                    help="the bare pipeline yardstick, run back to back after the bench (default: "
                         "../shared/limit/bare_rate.sh when present)")
    ap.add_argument("--bare-rate", type=float, default=1250.0, help="offered rate for the bare pipeline")
    ap.add_argument("--keep", action="store_true", help="keep the databases and the work directory (logs)")
    ap.add_argument("--json-out", type=Path, help="also write the final JSON object to this file")
    ap.add_argument("--rev", help="run the services from this git revision (exported with git archive) instead of "
                                  "the working tree, e.g. HEAD while the tree holds half-done edits")
    a = ap.parse_args(argv)
    q = a.quick

    def dflt(value: Any, full: Any, quick: Any) -> Any:
        return value if value is not None else (quick if q else full)

    return Options(
        quick=q, postgres=a.postgres, database_url=a.database_url,
        limits_s=dflt(a.limits_seconds, 5.0, 3.0), broker_messages=dflt(a.broker_messages, 100_000, 30_000),
        idle_s=dflt(a.idle_seconds, 10.0, 5.0), flat_s=dflt(a.flat_seconds, 20.0, 8.0),
        concurrency=a.concurrency, buyers=a.buyers, pay=a.pay,
        steps=[float(x) for x in a.steps.split(",") if x], step_s=dflt(a.step_seconds, 20.0, 5.0),
        statements_rate=a.statements_rate, statements_s=dflt(a.statements_seconds, 10.0, 5.0),
        backbone_orders=dflt(a.backbone_orders, 8000, 2000),
        backbone_steps=[float(x) for x in a.backbone_steps.split(",") if x],
        backbone_step_s=dflt(a.backbone_step_seconds, 20.0, 5.0), backbone_concurrency=a.backbone_concurrency,
        give_up_s=a.give_up_seconds, stall_s=a.stall_seconds,
        skip={s.strip() for s in a.skip.split(",") if s.strip()}, profile=a.profile,
        bare_script=a.bare_script, bare_rate=a.bare_rate, keep=a.keep, json_out=a.json_out, rev=a.rev,
    )


# --------------------------------------------------------------------------------------------------
# One measured phase
# --------------------------------------------------------------------------------------------------


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}{unit}" if abs(value) >= 100 else f"{value:,.1f}{unit}"


async def measure(part: Part, label: str, offered: float | None, drive: Callable[[], Awaitable[Outcome]],
                  opts: Options, profile_dir: Path | None = None, emails: bool = True) -> dict[str, Any]:
    """Run ``drive`` and follow its orders until delivered; the phase's figures.

    The CPU and statement window opens just before the first order and closes once every order is
    delivered, its e-mail sent (when its buyer has an address: ``emails``) and the stack quiet again, so
    each order's whole cost is inside it.
    """
    part.settle()
    assert part.conn is not None
    marks = part.event_marks()
    stmt_a = part.counter.sample(part.conn)
    emails_a = part.smtp.accepted
    profiler = None
    if profile_dir is not None and part.stack is not None:
        profiler = Profiler(profile_dir, label.replace(" ", "_").replace("/", "per"),
                            {n: p.pid for n, p in part.stack.procs.items() if n in PYTHON_SERVICES})
        profiler.start()
    cpu_a = part.cpu.sample()
    outcome = await drive()
    async with await AsyncConnection.connect(part.database_url, autocommit=True) as conn:
        delivered = await wait_delivered(
            conn, marks["fulfillment"], outcome.order_ids, opts.stall_s,
            lambda done, total: log(f"  … {label}: {done:,}/{total:,} delivered"), part.check_alive)
        for _ in range(150 if emails else 0):  # the e-mails follow the deliveries: at most 30 s more
            if part.smtp.accepted >= emails_a + delivered:
                break
            await asyncio.sleep(0.2)
        part.settle(timeout=15)
        cpu_b = part.cpu.sample()
        profile = profiler.stop() if profiler is not None else None
        if part.counter.settle_s:
            await asyncio.sleep(part.counter.settle_s)
        stmt_b = part.counter.sample(part.conn)
        figures = await chain(conn, marks, outcome.order_ids)
    n = max(1, figures["delivered"])
    cpu = cpu_delta(cpu_a, cpu_b)
    cpu_ms = {k: round(v * 1000 / n, 2) for k, v in sorted(cpu["per"].items(), key=lambda kv: -kv[1])}
    cpu_ms["total"] = round(cpu["total"] * 1000 / n, 2)
    # Achieved: the rate at which deliveries came, first to last. An open-loop step that keeps up spreads
    # them over its offered duration; one that does not, over as long as the stack needed.
    n_span = figures["delivered"] - 1
    span = (figures["last_delivered_at"] - figures["first_delivered_at"]) if n_span > 0 else None
    result: dict[str, Any] = {
        "phase": label,
        "offered": offered if offered else "flat out",
        "achieved": round(n_span / span, 1) if span else 0.0,
        "p50": figures["p50"], "p95": figures["p95"], "p99": figures["p99"], "max": figures["max"],
        "kept_up": (n_span / span >= 0.95 * offered) if offered and span else None,
        "orders": len(outcome.order_ids),
        "delivered": figures["delivered"],
        "entry_orders_per_s": round(len(outcome.order_ids) / outcome.entry_s, 1) if outcome.entry_s else None,
        "errors": outcome.errors,
        "ended_otherwise": figures["ended_otherwise"],
        "emails": part.smtp.accepted - emails_a,
        "hops_p50_ms": figures["hops_p50_ms"],
        "place_ms_p50": r1(pct(outcome.place_ms, 50)), "place_ms_p99": r1(pct(outcome.place_ms, 99)),
        "pay_ms_p50": r1(pct(outcome.pay_ms, 50)), "pay_ms_p99": r1(pct(outcome.pay_ms, 99)),
        "client_late_ms_p99": r1(pct(outcome.late_ms, 99)),
        "window_s": round(cpu["wall_s"], 1),
        "cpu_ms_per_order": cpu_ms,
        "cpu_cores_used": round(cpu["total"] / cpu["wall_s"], 2),
        "other_processes_cores": round(cpu["others"] / cpu["wall_s"], 2),
        # The machine is shared: a throughput or CPU figure means little without how busy it was.
        "load_average": round(os.getloadavg()[0], 1),
        "pg_statements_per_order": statements_per_order(stmt_a, stmt_b, figures["delivered"], part.counter.exact),
    }
    if profile is not None:
        result["profile"] = profile
    report(result)
    return result


def report(r: dict[str, Any]) -> None:
    offered = r["offered"] if isinstance(r["offered"], str) else f"{r['offered']:g}/s offered"
    if r["kept_up"] is False:
        offered += ", SATURATED"
    log(f"{r['phase']} ({offered}): {fmt(r['achieved'])} orders/s achieved, "
        f"{r['delivered']:,}/{r['orders']:,} delivered; paid→delivered p50 {fmt(r['p50'])} / p95 {fmt(r['p95'])}"
        f" / p99 {fmt(r['p99'])} ms")
    cpu = r["cpu_ms_per_order"]
    log(f"  CPU {fmt(cpu['total'])} ms/order (" + ", ".join(f"{k} {v:.1f}" for k, v in cpu.items() if k != "total")
        + f"); stack used {r['cpu_cores_used']} cores, other processes {r['other_processes_cores']}"
        + (f", load average {r['load_average']}" if "load_average" in r else ""))
    st = r["pg_statements_per_order"]
    log(f"  Postgres {fmt(st['total'])} {st['unit']}/order (" + ", ".join(
        f"{k} {v:g}" for k, v in st["by_service"].items()) + ")")
    if st.get("ms_by_service"):
        slowest = st["slowest"][0] if st["slowest"] else None
        log("  statement time ms/order, lock waits included (" + ", ".join(
            f"{k} {v:.2f}" for k, v in st["ms_by_service"].items()) + ")"
            + (f"; slowest {slowest['ms_per_order']:.2f} {slowest['service']}: {slowest['query'][:70]}" if slowest else ""))
    extras = []
    if r["place_ms_p50"] is not None:
        extras.append(f"place p50 {fmt(r['place_ms_p50'])} / p99 {fmt(r['place_ms_p99'])} ms")
    if r["pay_ms_p50"] is not None:
        extras.append(f"pay p50 {fmt(r['pay_ms_p50'])} / p99 {fmt(r['pay_ms_p99'])} ms")
    hops = ", ".join(f"{k} {fmt(v)}" for k, v in r["hops_p50_ms"].items())
    extras.append(f"hops p50 ms: {hops}")
    log("  " + "; ".join(extras))
    if r["errors"] or r["ended_otherwise"]:
        log(f"  errors {r['errors']}, ended otherwise {r['ended_otherwise']}")
    for name, prof in (r.get("profile") or {}).items():
        top = ", ".join(f"{f['frame']} {f['pct']}%" for f in prof.get("self", [])[:5])
        own = ", ".join(f"{f['frame']} {f['pct']}%" for f in prof.get("inclusive_own_code", [])[:5])
        log(f"  profile {name} ({prof.get('samples', 0)} samples at 97 Hz): self: {top}")
        log(f"  {'':>8}{'':>{len(name)}} inclusive, quanyi code: {own}")


# --------------------------------------------------------------------------------------------------
# The parts of a run
# --------------------------------------------------------------------------------------------------


def idle(part: Part, seconds: float) -> dict[str, Any]:
    part.settle(timeout=30)
    cores, per = part.stack_cpu_rate(seconds)
    part.idle_cores = cores
    by_process = {k: round(v * 100, 1) for k, v in sorted(per.items(), key=lambda kv: -kv[1])}
    log(f"idle stack: {cores * 100:.1f}% of one core over {seconds:g} s ("
        + ", ".join(f"{k} {v}%" for k, v in by_process.items()) + ")")
    return {"idle_stack_cpu_pct": round(cores * 100, 1), "by_process_pct": by_process}


def code_env(work: Path, opts: Options) -> dict[str, str]:
    """With --rev, the services run from that revision: its source dirs go first on PYTHONPATH (ahead of
    the venv's paths to the working tree)."""
    if not opts.rev:
        return {}
    src = work / "src"
    if not src.exists():
        src.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", opts.rev], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive.stdout, check=True)
        log(f"services run from {opts.rev} ({src})")
    dirs = sorted(str(d) for d in [*src.glob("libs/*/src"), *src.glob("services/*/src")])
    return {"PYTHONPATH": os.pathsep.join(dirs)}


def gateway_part(pg: BenchPostgres, work: Path, opts: Options, out: dict[str, Any]) -> None:
    part = Part(pg, work, "gateway", code_env(work, opts))
    profile_dir = work / "profiles" if opts.profile else None
    try:
        log("gateway part: starting broker, SMTP sink and six services on a fresh database")
        part.start()
        if "idle" not in opts.skip:
            out["idle"] = idle(part, opts.idle_s)
            out["idle_stack_cpu_pct"] = out["idle"]["idle_stack_cpu_pct"]
        assert part.stack is not None and part.private_key is not None
        flat_max = round(400 * opts.flat_s)
        keys = round((flat_max + sum(opts.steps) * opts.step_s + opts.statements_rate * opts.statements_s) * 1.05) + 100
        t = time.perf_counter()
        shop = asyncio.run(setup_shop(part.stack.config.gateway_url, keys, opts.buyers))
        log(f"catalogue: one SKU with {keys:,} keys and {opts.buyers} buyers in {time.perf_counter() - t:.1f} s")
        load = GatewayLoad(part.stack.config.gateway_url, shop, part.private_key, pay=opts.pay,
                           dev_credential=part.stack.config.dev_credential)

        flat = uvloop.run(measure(part, "gateway flat out", None, lambda: load.run(
            seconds=opts.flat_s, concurrency=opts.concurrency, max_orders=flat_max), opts, profile_dir))
        out["flat_out"] = flat
        out["flat_out_orders_per_s"] = flat["achieved"]
        out["cpu_ms_per_order"] = flat["cpu_ms_per_order"]
        out["steps"] = []
        for rate in opts.steps:

            async def step(rate: float = rate) -> Outcome:
                return await load.run(rate=rate, seconds=opts.step_s, give_up_s=opts.give_up_s)

            out["steps"].append(uvloop.run(measure(part, f"gateway step {rate:g}/s", rate, step, opts)))
        if opts.statements_rate > 0:
            st = uvloop.run(measure(part, f"gateway statements at {opts.statements_rate:g}/s", opts.statements_rate,
                                    lambda: load.run(rate=opts.statements_rate, seconds=opts.statements_s,
                                                     give_up_s=opts.give_up_s), opts))
            out["statements_step"] = st
            out["pg_statements_per_order"] = st["pg_statements_per_order"]["total"]
            out["pg_statements_by_service"] = st["pg_statements_per_order"]["by_service"]
            log("  busiest statements per order at "
                f"{opts.statements_rate:g}/s:")
            for item in st["pg_statements_per_order"]["top"][:10]:
                log(f"    {item['per_order']:6.2f}  {item['service']:<11} {item['query'][:110]}")
    finally:
        part.stop(opts.keep)


def backbone_part(pg: BenchPostgres, work: Path, opts: Options, out: dict[str, Any]) -> None:
    part = Part(pg, work, "backbone", code_env(work, opts))
    profile_dir = work / "profiles" if opts.profile else None
    try:
        log("backbone part: starting broker, SMTP sink and six services on a fresh database")
        part.start()
        plan = [(None, opts.backbone_orders)] + [(r, round(r * opts.backbone_step_s)) for r in opts.backbone_steps]
        keys = round(sum(n for _, n in plan) * 1.05) + 100
        assert part.stack is not None and part.private_key is not None
        t = time.perf_counter()
        shop = asyncio.run(setup_shop(part.stack.config.gateway_url, keys, 1))
        # The gateway stays up, idle: fulfillment asks it for each buyer's address (BuyerContactsService).
        # These buyers have no account, so their delivery e-mails are cancelled, not sent.
        log(f"catalogue: one SKU with {keys:,} keys in {time.perf_counter() - t:.1f} s")
        load = BackboneLoad(f"127.0.0.1:{part.stack.config.port_of('orders')}", shop.sku_id, part.private_key)
        out["backbone_steps"] = []
        for rate, n in plan:
            t = time.perf_counter()
            placed = uvloop.run(load.place(n))
            took = time.perf_counter() - t
            t = time.perf_counter()
            notices = load.sign(placed)
            log(f"backbone: {n:,} orders placed over gRPC in {took:.1f} s ({n / took:,.0f}/s, untimed), "
                f"notices signed in {time.perf_counter() - t:.1f} s")
            label = "backbone flat out" if rate is None else f"backbone step {rate:g}/s"

            async def inject(rate: float | None = rate, notices: list[Any] = notices) -> Outcome:
                return await load.run(notices, rate=rate or 0.0, concurrency=opts.backbone_concurrency,
                                      give_up_s=opts.give_up_s)

            result = uvloop.run(
                measure(part, label, rate, inject, opts, profile_dir if rate is None else None, emails=False)
            )
            if rate is None:
                out["backbone_flat_out"] = result
                out["backbone_orders_per_s"] = result["achieved"]
                out["backbone_cpu_ms_per_order"] = result["cpu_ms_per_order"]
            else:
                out["backbone_steps"].append(result)
    finally:
        part.stop(opts.keep)


def bare(opts: Options, out: dict[str, Any]) -> None:
    assert opts.bare_script is not None
    log(f"bare pipeline yardstick: {opts.bare_script} {REPO} {opts.bare_rate:g} (about a minute)")
    try:
        text = subprocess.run([str(opts.bare_script), str(REPO), f"{opts.bare_rate:g}"], capture_output=True,
                              text=True, timeout=400, check=False).stdout.strip()
        rate = float(text.splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        log(f"  bare pipeline failed: {exc!r}")
        return
    out["bare_pipeline_orders_per_s"] = rate
    if out.get("backbone_orders_per_s"):
        out["backbone_to_bare_ratio"] = round(out["backbone_orders_per_s"] / rate, 3)
    if out.get("flat_out_orders_per_s"):
        out["gateway_to_bare_ratio"] = round(out["flat_out_orders_per_s"] / rate, 3)
    log(f"  bare pipeline: {rate:,.0f} orders/s at {opts.bare_rate:g} offered; backbone/bare "
        f"{out.get('backbone_to_bare_ratio', '-')}, gateway/bare {out.get('gateway_to_bare_ratio', '-')}")


def targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets against this run's figures."""
    def step(steps: list[dict[str, Any]], rate: float) -> dict[str, Any] | None:
        return next((s for s in steps if s["offered"] == rate), None)

    g120 = step(out.get("steps", []), 120.0)
    b400 = step(out.get("backbone_steps", []), 400.0)
    bare_rate = out.get("bare_pipeline_orders_per_s")
    rows: list[tuple[str, Any, Callable[[Any], bool]]] = [
        ("gateway flat out ≥ 180 orders/s", out.get("flat_out_orders_per_s"), lambda v: v >= 180),
        ("gateway 120/s open loop: paid→delivered p99 < 500 ms", g120["p99"] if g120 else None,
         lambda v: v < 500 and g120 is not None and g120["achieved"] >= 0.95 * 120),
        ("≤ 10 ms CPU per order, all processes (gateway flat out)",
         out.get("cpu_ms_per_order", {}).get("total"), lambda v: v <= 10),
        ("backbone flat out ≥ 0.5 × bare pipeline" if bare_rate else "backbone flat out ≥ 600 orders/s",
         out.get("backbone_orders_per_s"), lambda v: v >= (0.5 * bare_rate if bare_rate else 600)),
        ("backbone 400/s open loop: paid→delivered p99 < 500 ms", b400["p99"] if b400 else None,
         lambda v: v < 500 and b400 is not None and b400["achieved"] >= 0.95 * 400),
        ("≤ 30 Postgres statements per order at 100/s",
         out.get("pg_statements_per_order") if out.get("pg_statements_source") == "pg_stat_statements" else None,
         lambda v: v <= 30),
        ("idle stack < 10% of one core", out.get("idle_stack_cpu_pct"), lambda v: v < 10),
    ]
    return [{"target": name, "measured": value, "met": (bool(ok(value)) if value is not None else None)}
            for name, value, ok in rows]


def main(argv: list[str] | None = None) -> None:
    opts = parse(argv)
    started = time.time()
    work = Path(tempfile.mkdtemp(prefix="quanyi-bench-"))
    os.chmod(work, 0o711)
    out: dict[str, Any] = {"bench": "quanyi make bench", "quick": opts.quick,
                           "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                           "machine": {"cpus": os.cpu_count(), "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}}
    pg = BenchPostgres(work, opts.postgres, opts.database_url)
    failed: BaseException | None = None
    try:
        pg.start()
        log(pg.describe())
        out["postgres"] = pg.describe()
        if "limits" not in opts.skip:
            log("machine limits: Postgres single-row commits/s (pgbench), broker produce/consume msgs/s")
            out["limits"] = {**limits.postgres_commits(pg.admin_url, work, opts.limits_s),
                             **limits.broker_rates(work, opts.broker_messages)}
            lim = out["limits"]
            for key in ("pg_single_row_commits_per_s", "pg_single_row_commits_per_s_1_client",
                        "broker_produce_msgs_per_s", "broker_consume_msgs_per_s"):
                out[key] = lim[key]
            log(f"  Postgres {lim['pg_single_row_commits_per_s']:,} single-row commits/s with 8 clients, "
                f"{lim['pg_single_row_commits_per_s_1_client']:,} with one ({lim['how']}); broker "
                f"{lim['broker_produce_msgs_per_s']:,} msgs/s produced, {lim['broker_consume_msgs_per_s']:,} "
                f"consumed ({lim['broker_message_bytes']} B)")
        if "gateway" not in opts.skip:
            gateway_part(pg, work, opts, out)
        if "backbone" not in opts.skip:
            backbone_part(pg, work, opts, out)
    except BaseException as exc:  # report what was measured, then fail
        failed = exc
        log(f"bench failed: {exc!r} (service logs under {work})")
    finally:
        pg.stop()
    if failed is None and opts.bare_script is not None and "bare" not in opts.skip:
        bare(opts, out)
    out["pg_statements_source"] = ("pg_stat_statements" if pg.statements else
                                   "fallback: transactions and row writes, not statements")
    out["targets"] = targets(out)
    out["duration_s"] = round(time.time() - started)
    log("targets (issue 6):")
    for t in out["targets"]:
        mark = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        log(f"  {mark:<12} {t['target']}: {t['measured']}")
    if opts.keep or failed is not None or opts.profile:
        log(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(out, ensure_ascii=False, separators=(",", ":"))
    if opts.json_out is not None:
        opts.json_out.write_text(text + "\n")
    print(text, flush=True)
    if failed is not None:
        sys.exit(1)
