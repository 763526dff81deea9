"""Postgres repositories of the gateway's schema and the gRPC clients of its peers."""
