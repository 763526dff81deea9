"""Inventory's domain, standard library only: its events, the aggregates SkuStock (`stock`) and Allocation
(`allocation`) with their pure `evolve`, the deciders that record events, catalogue and key-file rules, and
the custody of secrets (reveals and re-wraps are audit events)."""
