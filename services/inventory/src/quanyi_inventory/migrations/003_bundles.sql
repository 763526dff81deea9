-- Issue 7: bundles. A bundle SKU is made of other SKUs' keys (BundleDefined); a paid unit claims every
-- component's keys at once or none. Projection `bundles`: each bundle's components, in the order given.
-- (Independent of 003_key_states: on a fresh database it runs first, on an existing one after 004.)
CREATE TABLE bundle_components (
    bundle_sku_id    text NOT NULL,
    position         int  NOT NULL,
    component_sku_id text NOT NULL,
    quantity         int  NOT NULL CHECK (quantity >= 1),
    PRIMARY KEY (bundle_sku_id, position)
);
CREATE INDEX bundle_components_component ON bundle_components (component_sku_id);
