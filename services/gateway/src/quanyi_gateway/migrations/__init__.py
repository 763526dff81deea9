"""SQL migrations of the gateway schema, applied in name order by quanyi_platform.db.migrate."""
