import grpc
import pytest
from quanyi_gateway.api.problems import rpc_problem, validation_problem


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 422),
        (grpc.StatusCode.NOT_FOUND, 404),
        (grpc.StatusCode.ALREADY_EXISTS, 409),
        (grpc.StatusCode.FAILED_PRECONDITION, 409),
        (grpc.StatusCode.UNAUTHENTICATED, 401),
        (grpc.StatusCode.PERMISSION_DENIED, 403),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
        (grpc.StatusCode.UNAVAILABLE, 503),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 503),
        (grpc.StatusCode.INTERNAL, 500),
        (grpc.StatusCode.UNKNOWN, 500),
    ],
)
def test_peer_status_codes_map_to_http_statuses(code: grpc.StatusCode, status: int) -> None:
    assert rpc_problem(code, "message", retry_after_s=1).status == status


def test_a_route_may_answer_invalid_argument_with_400() -> None:
    assert rpc_problem(grpc.StatusCode.INVALID_ARGUMENT, "bad", 1, invalid_argument_status=400).status == 400


def test_client_errors_keep_the_peers_message() -> None:
    assert rpc_problem(grpc.StatusCode.FAILED_PRECONDITION, "order is paid", 1).detail == "order is paid"


@pytest.mark.parametrize("code", [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED])
def test_transient_failures_say_when_to_retry_and_hide_the_peers_details(code: grpc.StatusCode) -> None:
    problem = rpc_problem(code, "failed to connect to ipv4:10.0.0.7:50051", retry_after_s=3)
    assert problem.headers == {"Retry-After": "3"}
    assert "10.0.0.7" not in problem.detail


def test_internal_errors_hide_the_peers_details() -> None:
    assert "stack" not in rpc_problem(grpc.StatusCode.INTERNAL, "stack trace here", 1).detail


def test_rate_limits_say_when_to_retry() -> None:
    assert rpc_problem(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", 5).headers == {"Retry-After": "5"}


def test_a_json_decode_error_is_400() -> None:
    problem = validation_problem([{"type": "json_invalid", "loc": ("body", 3), "msg": "JSON decode error"}])
    assert problem.status == 400


def test_validation_errors_list_locations_and_messages_but_never_the_input() -> None:
    problem = validation_problem(
        [{"type": "string_too_short", "loc": ("body", "password"), "msg": "too short", "input": "hunter2"}]
    )
    assert problem.status == 422
    assert problem.extensions["errors"] == [
        {"loc": ["body", "password"], "msg": "too short", "type": "string_too_short"}
    ]
