-- The original lab's validation query, kept verbatim: a look at every column of any ten rows, so neither a
-- fixed column list (AM04) nor an order (AM09) applies.
select *  -- noqa: AM04
from "{{ var.json.sales_pipeline.GlueDatabaseName }}"."aggregated_daily_sales_revenue"
limit 10  -- noqa: AM09
