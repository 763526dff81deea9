"""A toy service for the platform's replay tests (`quanyi_platform.testing.toy`)."""
