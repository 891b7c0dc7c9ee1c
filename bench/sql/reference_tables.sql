-- Copies of the order_summary read model for the two reference measurements; the same DDL as
-- the projection's setup in bench/catchup.yaml.
CREATE TABLE IF NOT EXISTS order_summary_ref_a (order_id uuid PRIMARY KEY, customer_id uuid,
  status text NOT NULL, item_count int NOT NULL, total numeric NOT NULL);
CREATE TABLE IF NOT EXISTS order_summary_ref_b (order_id uuid PRIMARY KEY, customer_id uuid,
  status text NOT NULL, item_count int NOT NULL, total numeric NOT NULL);
