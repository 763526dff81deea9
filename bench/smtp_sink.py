"""A counting SMTP sink in its own process, so that its CPU is not the benchmark client's.

Accepts every message, keeps none, and writes how many it has accepted to COUNT_FILE (at most every
0.1 s, only when the count moved). Message content is never logged or stored.

    python -m bench.smtp_sink PORT COUNT_FILE
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import uvloop
from aiosmtpd.smtp import SMTP


class _Counter:
    def __init__(self) -> None:
        self.accepted = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.accepted += 1
        return "250 Message accepted for delivery"


async def _serve(port: int, count_file: Path) -> None:
    counter = _Counter()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(counter, hostname="localhost", ident="quanyi-bench-sink"), "127.0.0.1", port
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    written = -1
    tmp = count_file.with_suffix(".tmp")
    while not stop.is_set():
        if counter.accepted != written:
            written = counter.accepted
            tmp.write_text(str(written))
            os.replace(tmp, count_file)
        try:
            await asyncio.wait_for(stop.wait(), 0.1)
        except TimeoutError:
            pass
    server.close()
    tmp.write_text(str(counter.accepted))
    os.replace(tmp, count_file)


def main() -> None:
    port, count_file = int(sys.argv[1]), Path(sys.argv[2])
    uvloop.run(_serve(port, count_file))


if __name__ == "__main__":
    main()
