-- Keyset paging of refund requests (quanyi_platform.paging): a buyer's newest first, and everyone's newest
-- first for operators; each index is its list's ORDER BY with the request id breaking ties.
CREATE INDEX refund_requests_buyer_keyset ON refund_requests (buyer_id, requested_at DESC, request_id DESC);
DROP INDEX refund_requests_buyer;
CREATE INDEX refund_requests_newest ON refund_requests (requested_at DESC, request_id DESC);
DROP INDEX refund_requests_requested_at;
