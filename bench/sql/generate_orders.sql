-- The catch-up data set: the orders example's events, generated inside the server.
--
-- Order o (0-based) has 1 OrderCreated, 2 + o % 2 ItemAddedToOrder and 1 OrderShipped, with
-- versions 1.. per aggregate, so every two orders make 9 events. Event number
-- 9 * (o / 2) + 4 * (o % 2) + (seq - 1) is below :total for exactly :total events. Each chunk
-- of about 10,000 events is its own transaction (its own transaction_id), and within a chunk
-- the events of its orders interleave (all creations, then the first items, ...), so a batch
-- touches many aggregates, as a busy shop's log would.
--
-- Usage: psql -v total=1000000 -f generate_orders.sql
CREATE OR REPLACE PROCEDURE pg_temp.bench_generate_orders(total bigint, chunk_events int)
LANGUAGE plpgsql AS $proc$
DECLARE
  orders_total bigint := (total / 9) * 2 + 2;
  per_chunk bigint := greatest(2, (chunk_events / 9) * 2);
  first_order bigint := 0;
BEGIN
  WHILE first_order < orders_total LOOP
    INSERT INTO events (aggregate_id, aggregate_type, version, event_type, payload)
    SELECT md5('order-' || o)::uuid, 'Order', seq,
           CASE WHEN seq = 1 THEN 'OrderCreated'
                WHEN seq = 4 + o % 2 THEN 'OrderShipped'
                ELSE 'ItemAddedToOrder' END,
           CASE WHEN seq = 1 THEN
                  jsonb_build_object(
                    'customer_id', md5('customer-' || o % 50000)::uuid,
                    'order_items', jsonb_build_array(
                      jsonb_build_object('product_id', 'sku-' || o % 997, 'price', 9.99,
                                         'quantity', 1)))
                WHEN seq = 4 + o % 2 THEN
                  jsonb_build_object('carrier', 'ups', 'tracking_number', 'T' || o)
                ELSE
                  jsonb_build_object('product_id', 'sku-' || (o * 7 + seq) % 997,
                                     'price', ((o * 31 + seq * 17) % 10000) / 100.0,
                                     'quantity', 1 + (o + seq) % 5) END
      FROM generate_series(first_order, least(first_order + per_chunk, orders_total) - 1) AS o,
           generate_series(1, 4 + o % 2) AS seq
     WHERE 9 * (o / 2) + 4 * (o % 2) + (seq - 1) < total
     ORDER BY seq, o;
    COMMIT;
    first_order := first_order + per_chunk;
  END LOOP;
END
$proc$;

CALL pg_temp.bench_generate_orders(:total, 10000);
VACUUM ANALYZE events;
