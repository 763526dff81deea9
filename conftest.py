pytest_plugins = ["quanyi_platform.testing.fixtures"]
