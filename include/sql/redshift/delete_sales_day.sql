-- First half of the day's reload (the COPY follows in the same transaction): a re-run replaces the day
-- instead of doubling it. A half-open range on the sort key, not trunc("timestamp"), so zone maps prune blocks.
delete from public.sales
where
    "timestamp" >= cast('{{ ds }}' as timestamp)
    and "timestamp" < cast('{{ macros.ds_add(ds, 1) }}' as timestamp)
