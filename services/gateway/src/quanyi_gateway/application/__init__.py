"""The gateway's use cases: checkout, key reveal, partner redemptions, accounts. They talk to ports only."""
