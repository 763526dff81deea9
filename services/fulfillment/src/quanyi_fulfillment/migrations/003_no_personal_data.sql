-- Personal data out of fulfillment (issue 10): the delivery e-mail queue keeps no address. EmailQueued
-- names the order only; the sender asks the gateway (BuyerContactsService) for the buyer's address when it
-- sends, and keeps no copy. An e-mail whose buyer has no address, or was erased, ends 'cancelled' (outside
-- the exception queue).
ALTER TABLE email_outbox DROP COLUMN buyer_email;
ALTER TABLE email_outbox DROP CONSTRAINT IF EXISTS email_outbox_state_check;
ALTER TABLE email_outbox ADD CONSTRAINT email_outbox_state_check
    CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled'));
