-- Issue 11: a SKU's low-stock threshold is set by LowStockThresholdSet (the Sku aggregate's versions 2 and
-- on); sku_stock keeps the version of the threshold it holds (SkuCreated's is 1).
ALTER TABLE sku_stock ADD COLUMN threshold_version bigint NOT NULL DEFAULT 1;

-- Projection `stock_daily`: what moved a SKU's available keys per UTC day (the day of the event). Each
-- column is a sum, so events of one day combine in any order and batch; the available count at the end
-- of a day is the running sum of `imported - reserved + released - expired - voided + moved` up to it.
-- History before this migration appears after `quanyi replay inventory --projection stock_daily --swap`.
CREATE TABLE stock_daily (
    sku_id   text   NOT NULL,
    day      date   NOT NULL,
    imported bigint NOT NULL,
    reserved bigint NOT NULL,
    released bigint NOT NULL,
    expired  bigint NOT NULL,
    voided   bigint NOT NULL,
    moved    bigint NOT NULL,
    PRIMARY KEY (sku_id, day)
);
