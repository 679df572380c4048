-- The end-to-end state machine's gate (CheckDayLoaded) before anything of the run's day is published: the rows the
-- warehouse holds for the day against the rows the Glue job landed in the lake's processed partition for it, read
-- through Spectrum (the job itself checks that partition against its manifest's rows_out, so this is the daily
-- DAG's check_day_loaded without reading S3 from the state machine). One row: loaded, landed. Partition values are
-- cast to varchar and compared without leading zeros (year=2021/month=1/day=5), right whether the crawler typed
-- them as strings or ints.
select
    (
        select count(*)
        from public.sales as s
        where
            s."timestamp" >= cast('{{ ds }}' as timestamp)
            and s."timestamp" < cast('{{ macros.ds_add(ds, 1) }}' as timestamp)
    ) as loaded,
    (
        select count(*)
        from spectrum_sales.processed_sales as p
        where
            cast(p.year as varchar) = '{{ macros.ds_format(ds, "%Y-%m-%d", "%Y") }}'
            and cast(p.month as varchar) = '{{ macros.ds_format(ds, "%Y-%m-%d", "%-m") }}'
            and cast(p.day as varchar) = '{{ macros.ds_format(ds, "%Y-%m-%d", "%-d") }}'
    ) as landed
