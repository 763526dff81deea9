"""Test support: the pytest plugin ``quanyi_platform.testing.fixtures`` (broker, PostgreSQL, SMTP)."""
