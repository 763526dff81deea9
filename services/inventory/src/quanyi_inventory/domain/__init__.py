"""Inventory's domain: catalogue rules, key-file checks, the allocation policy. Standard library only."""
