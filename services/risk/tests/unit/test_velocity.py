from quanyi_risk.domain.velocity import Decision, VelocityRule


def test_orders_up_to_the_limit_are_approved() -> None:
    assert VelocityRule(max_orders=5).assess(5).decision is Decision.APPROVE


def test_one_order_over_the_limit_goes_to_review_with_a_reason() -> None:
    a = VelocityRule(max_orders=5).assess(6)
    assert a.decision is Decision.REVIEW
    assert "6 orders in 60s" in a.reasons[0]
