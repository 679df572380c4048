-- Every day of sales in one relation: warm days from the cluster, cold days (in the lake but not, or no longer,
-- loaded into public.sales) through Spectrum. A day present in both comes from the warm table only, so no sale
-- is counted twice. Late binding (WITH NO SCHEMA BINDING) because an external table cannot back a normal view;
-- late-binding views need fully qualified names.
create or replace view public.sales_all_days as
select
    s.card_id,
    s.customer_id,
    s.price,
    s.product_id,
    s."timestamp",
    trunc(s."timestamp") as day,
    cast('warm' as varchar(4)) as storage_tier
from public.sales as s
union all
select
    p.card_id,
    p.customer_id,
    p.price,
    p.product_id,
    p."timestamp",
    trunc(p."timestamp") as day,
    cast('cold' as varchar(4)) as storage_tier
from spectrum_sales.processed_sales as p
where
    trunc(p."timestamp") not in (
        select distinct trunc(w."timestamp") as day
        from public.sales as w
    )
with no schema binding
