-- The warehouse's warm copy of the processed sales, one row per card transaction.
-- Column order equals the Glue job's Parquet column order: COPY ... FORMAT AS PARQUET maps columns by position.
-- DISTKEY(customer_id): a high-cardinality key spreads rows evenly and co-locates a customer's rows for joins
-- and per-customer aggregates; the daily revenue view groups by day, which needs no redistribution to sum.
-- COMPOUND SORTKEY("timestamp"): the day reload deletes a half-open "timestamp" range and the views group and
-- filter by day, so zone maps skip every block outside the day.
create table if not exists public.sales (
    card_id bigint not null,
    customer_id bigint not null,
    price decimal(10, 2) not null,
    product_id bigint,
    "timestamp" timestamp not null
)
diststyle key
distkey (customer_id)
compound sortkey ("timestamp")
