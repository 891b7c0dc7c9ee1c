-- Reference (a): the projection's work done entirely inside the server. One PL/pgSQL loop over
-- the events in sluice's order (transaction_id, id) runs the order_summary handlers of
-- bench/catchup.yaml, with each :param replaced by the loop record's column, into
-- order_summary_ref_a. A DO block is one transaction: no client round trips, no batching, no
-- checkpoint writes. This is the ceiling a client-driven projector can approach.
DO $ref_a$
DECLARE
  ev record;
BEGIN
  FOR ev IN
    SELECT id, transaction_id, aggregate_id, aggregate_type, version, event_type, payload,
           metadata, "timestamp"
      FROM events
     WHERE aggregate_type = 'Order'
     ORDER BY transaction_id, id
  LOOP
    CASE ev.event_type
      WHEN 'OrderCreated' THEN
        INSERT INTO order_summary_ref_a
        SELECT ev.aggregate_id, (ev.payload->>'customer_id')::uuid, 'CREATED', count(i),
          coalesce(sum((i->>'quantity')::int * (i->>'price')::numeric), 0)
        FROM jsonb_array_elements(ev.payload->'order_items') AS i;
      WHEN 'ItemAddedToOrder' THEN
        UPDATE order_summary_ref_a SET item_count = item_count + 1,
          total = total + (ev.payload->>'price')::numeric * (ev.payload->>'quantity')::int
        WHERE order_id = ev.aggregate_id;
      WHEN 'OrderShipped' THEN
        UPDATE order_summary_ref_a SET status = 'SHIPPED' WHERE order_id = ev.aggregate_id;
      ELSE NULL;
    END CASE;
  END LOOP;
END
$ref_a$;
