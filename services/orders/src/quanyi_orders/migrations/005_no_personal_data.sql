-- Personal data out of orders (issue 10): an order names its buyer by id only. OrderPlaced and OrderPaid no
-- longer carry an e-mail address (the gateway owns it; fulfillment asks it by buyer id), and the orders
-- read model drops the column, with whatever addresses it held: a replay does not bring them back (the
-- projector never reads an address, even from events of an older release).
ALTER TABLE orders DROP COLUMN buyer_email;
