-- Revenue and number of sales per calendar day of the warm table; the UNLOAD exports one day of it.
create or replace view public.daily_sales_revenue as
select
    trunc(s."timestamp") as day,
    sum(s.price) as daily_sales_revenue,
    count(*) as sales_count
from public.sales as s
group by trunc(s."timestamp")
