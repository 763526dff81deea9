-- order_velocity and decisions are projections of RiskDecided now (quanyi_risk.projections), written only
-- by their projectors: every value comes from the events, never from the clock, so a replay equals live.
ALTER TABLE decisions ALTER COLUMN decided_at DROP DEFAULT;
