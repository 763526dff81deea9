"""`quanyi dev` puts the gRPC services on ports no outgoing connection can take first."""

from __future__ import annotations

import socket

from quanyi_cli.main import DEV_GRPC_PORTS, dev_grpc_ports
from quanyi_platform.infra.ports import ephemeral_range


def test_the_dev_grpc_ports_lie_below_the_ephemeral_range() -> None:
    low, _ = ephemeral_range()
    assert all(port < low for port in DEV_GRPC_PORTS.values())


def test_a_dev_port_something_else_listens_on_is_replaced_by_a_free_one() -> None:
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", DEV_GRPC_PORTS["inventory"]))
        holder.listen()
        ports = dev_grpc_ports()
    assert ports["inventory"] != DEV_GRPC_PORTS["inventory"]
    assert ports["inventory"] < ephemeral_range()[0]
    assert len(set(ports.values())) == len(ports)
