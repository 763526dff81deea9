-- Issues 7/8 (a refunded bundle): a credit's PointsDebited and a grant's MembershipShortened, projected by
-- `entitlements` (the balance and the membership's end move back; the rows say when each was taken back).
ALTER TABLE points_credits ADD COLUMN debited_at timestamptz;
ALTER TABLE membership_grants ADD COLUMN shortened_at timestamptz;
