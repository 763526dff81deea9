-- Issue 7: a bundle's points and membership components (BundleDefined), besides its key components in
-- bundle_components. Projection `bundles`; positions are the component's place in BundleDefined, shared
-- with bundle_components. Unlimited: they never make a bundle short.
CREATE TABLE bundle_entitlements (
    bundle_sku_id text   NOT NULL,
    position      int    NOT NULL,
    kind          text   NOT NULL CHECK (kind IN ('points', 'membership')),
    points        bigint NOT NULL DEFAULT 0,
    plan          text   NOT NULL DEFAULT '',
    days          int    NOT NULL DEFAULT 0,
    value_minor   bigint NOT NULL DEFAULT 0,
    currency      text   NOT NULL DEFAULT '',
    PRIMARY KEY (bundle_sku_id, position)
);
