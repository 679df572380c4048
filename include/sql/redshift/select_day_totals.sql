-- The run's day as the warehouse holds it, for the DAG's reconciliation (row_count, revenue; one row).
-- revenue is 0, not null, for an empty day, as in the Athena totals.
select
    count(*) as row_count,
    coalesce(sum(s.price), 0) as revenue
from public.sales as s
where
    s."timestamp" >= cast('{{ ds }}' as timestamp)
    and s."timestamp" < cast('{{ macros.ds_add(ds, 1) }}' as timestamp)
