"""The ledger's domain: journal entries, posting rules, the hash chain and the chain aggregate (decide,
evolve, the balances fold). Standard library only."""
