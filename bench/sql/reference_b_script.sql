-- Writes reference (b)'s client script: the order_summary handlers of bench/catchup.yaml with
-- each :param replaced by the event's literal value (uuid and jsonb literals with casts), into
-- order_summary_ref_b, in sluice's order (transaction_id, id). One output line per 1,000
-- events: BEGIN, the 1,000 statements and COMMIT joined by psql's \; so that psql sends the
-- whole transaction as ONE simple-protocol query string (one round trip per 1,000 events).
--
-- Usage: psql -At -o script.sql -f reference_b_script.sql
WITH ordered AS (
  SELECT row_number() OVER (ORDER BY transaction_id, id) - 1 AS n,
         CASE event_type
           WHEN 'OrderCreated' THEN
             format('INSERT INTO order_summary_ref_b SELECT %1$L::uuid, (%2$L::jsonb->>''customer_id'')::uuid, '
                    '''CREATED'', count(i), coalesce(sum((i->>''quantity'')::int * (i->>''price'')::numeric), 0) '
                    'FROM jsonb_array_elements(%2$L::jsonb->''order_items'') AS i',
                    aggregate_id, payload)
           WHEN 'ItemAddedToOrder' THEN
             format('UPDATE order_summary_ref_b SET item_count = item_count + 1, '
                    'total = total + (%2$L::jsonb->>''price'')::numeric * (%2$L::jsonb->>''quantity'')::int '
                    'WHERE order_id = %1$L::uuid',
                    aggregate_id, payload)
           WHEN 'OrderShipped' THEN
             format('UPDATE order_summary_ref_b SET status = ''SHIPPED'' WHERE order_id = %1$L::uuid',
                    aggregate_id)
         END AS stmt
    FROM events
   WHERE aggregate_type = 'Order'
     AND event_type IN ('OrderCreated', 'ItemAddedToOrder', 'OrderShipped')
)
SELECT 'BEGIN \; ' || string_agg(stmt, ' \; ' ORDER BY n) || ' \; COMMIT;'
  FROM ordered
 GROUP BY n / 1000
 ORDER BY n / 1000;
