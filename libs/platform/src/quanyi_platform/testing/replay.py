"""Test helper: a service's projections rebuilt from its events equal the live tables (invariant I6)."""

from __future__ import annotations

from quanyi_platform.replay import Comparison, ServiceProjections, drop_shadow, rebuild, verify


async def assert_replay_matches_live(
    database_url: str, service: str, kafka_bootstrap: str | None = None, *, timeout_s: float = 60.0
) -> list[Comparison]:
    """Rebuild every projection of `service` into its shadow schema from the event store, and again from
    its topic when `kafka_bootstrap` is given (once the relay has published everything), and assert that
    each rebuilt table equals live, row for row. Returns the comparisons (store first)."""
    spec = ServiceProjections.of(service)
    sources = ["store", "topic"] if kafka_bootstrap else ["store"]
    results = []
    for source in sources:
        rebuilt = await rebuild(
            database_url, spec, source=source, kafka_bootstrap=kafka_bootstrap, topic_timeout_s=timeout_s
        )
        try:
            comparison = await verify(database_url, rebuilt)
        finally:
            await drop_shadow(database_url, spec)
        assert rebuilt.events > 0, f"{service} has no events to replay: the test ran no flow"
        assert comparison.equal, (
            f"{service}'s projections replayed from the {source} differ from live:\n{comparison.describe()}"
        )
        results.append(comparison)
    return results
