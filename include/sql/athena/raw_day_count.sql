-- Rows the loader landed for the run's day. dt is a string partition key (dt=YYYY-MM-DD).
select count(*) as row_count
from "{{ var.json.sales_pipeline.GlueDatabaseName }}"."raw_sales" as r
where r.dt = '{{ ds }}'
