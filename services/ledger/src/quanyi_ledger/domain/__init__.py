"""The ledger's domain: journal entries, posting rules and the hash chain. Standard library only."""
