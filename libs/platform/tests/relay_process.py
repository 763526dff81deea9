"""Runs one relay as its own process, so tests can SIGKILL it: python relay_process.py URL SCHEMA TOPIC BOOTSTRAP."""

from __future__ import annotations

import asyncio
import logging
import sys

from quanyi_platform import db
from quanyi_platform.config import PlatformSettings
from quanyi_platform.relay import Relay


async def main(url: str, schema: str, topic: str, bootstrap: str) -> None:
    settings = PlatformSettings(
        database_url=url, kafka_bootstrap=bootstrap, relay_batch_size=50, broker_epoch_check_s=0.5
    )
    pool = await db.create_pool(url, schema)
    await Relay(pool, settings, topic).run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    asyncio.run(main(*sys.argv[1:5]))
