"""The HTTP API: routes, dependencies and problem responses."""
