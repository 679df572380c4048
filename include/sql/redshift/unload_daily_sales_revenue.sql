-- Export the run's day to its own dt= partition of the lake. PARALLEL OFF writes one file and ALLOWOVERWRITE
-- replaces the previous run's file, so a re-run leaves exactly one deterministic file instead of stale parts.
unload (
    'select day, daily_sales_revenue, sales_count from public.daily_sales_revenue where day = ''{{ ds }}'''
)
to 's3://{{ var.json.sales_pipeline.DataLakeBucket }}/aggregated/daily_sales_revenue/dt={{ ds }}/'
iam_role '{{ var.json.sales_pipeline.RedshiftRoleArn }}'
format as parquet
allowoverwrite
parallel off
