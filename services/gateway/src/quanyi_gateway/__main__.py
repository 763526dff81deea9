"""`python -m quanyi_gateway` serves the gateway with uvicorn on uvloop at `gateway_listen`."""

from __future__ import annotations

import uvicorn
from quanyi_platform import telemetry

from quanyi_gateway.config import load
from quanyi_gateway.main import HTTP_KEEP_ALIVE_S, NAME, create_app


def main() -> None:
    settings = load()
    telemetry.setup_logging(NAME, settings.log_level, settings.log_json)
    telemetry.setup_tracing(NAME)
    host, port = settings.listen_host_port
    uvicorn.run(
        create_app(settings, settle_heap_once_started=True),
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=int(HTTP_KEEP_ALIVE_S),
    )


if __name__ == "__main__":
    main()
