"""quanyi's shared platform: event store and outbox relay, inbox consumers, Kafka bus, Postgres pool,
settings, telemetry and gRPC plumbing. Every service uses these; none copies them."""
