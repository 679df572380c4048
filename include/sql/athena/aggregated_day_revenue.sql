-- The run's day as Redshift exported it (UNLOAD to dt=<ds>/), read back through the aggregated crawler's table.
-- dt is a string partition key: compared with a string literal so Athena prunes to the one partition.
select
    a.day,
    a.sales_count as row_count,
    a.daily_sales_revenue as revenue
from "{{ var.json.sales_pipeline.GlueDatabaseName }}"."aggregated_daily_sales_revenue" as a
where a.dt = '{{ ds }}'
