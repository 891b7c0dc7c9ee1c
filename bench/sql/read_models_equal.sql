-- Prints the number of rows on which :other differs from order_summary (0 = identical).
SELECT (SELECT count(*) FROM (SELECT * FROM order_summary EXCEPT SELECT * FROM :other) d)
     + (SELECT count(*) FROM (SELECT * FROM :other EXCEPT SELECT * FROM order_summary) d);
