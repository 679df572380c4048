-- The run's day as the Glue job wrote it (row_count, revenue; one row; revenue 0 for an empty day).
-- The crawler may register year/month/day as strings or as ints, so each is cast to varchar and compared with
-- a string literal without leading zeros (the partition folders are year=2021/month=1/day=5): correct for
-- either type, and Athena still prunes partitions on the cast.
select
    count(*) as row_count,
    coalesce(sum(p.price), 0) as revenue
from "{{ var.json.sales_pipeline.GlueDatabaseName }}"."processed_sales" as p
where
    cast(p.year as varchar) = '{{ macros.ds_format(ds, "%Y-%m-%d", "%Y") }}'
    and cast(p.month as varchar) = '{{ macros.ds_format(ds, "%Y-%m-%d", "%-m") }}'
    and cast(p.day as varchar) = '{{ macros.ds_format(ds, "%Y-%m-%d", "%-d") }}'
