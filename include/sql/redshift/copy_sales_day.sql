-- Second half of the day's reload: the Glue job's partition for the run's day (Hive layout without leading
-- zeros, year=2021/month=1/day=5). Runs in the same transaction as delete_sales_day.sql.
copy public.sales
from 's3://{{ var.json.sales_pipeline.DataLakeBucket }}/processed/sales/{{ macros.ds_format(ds, "%Y-%m-%d", "year=%Y/month=%-m/day=%-d") }}/'
iam_role '{{ var.json.sales_pipeline.RedshiftRoleArn }}'
format as parquet
