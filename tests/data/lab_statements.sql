-- The original lab's Redshift statements (shared/reference/seed-lab.md, step 5), verbatim but for the
-- <AccountId> placeholders, which read the stack outputs instead. A fixture for dialect work downstream:
-- several statements in one file, unlike include/sql.
DROP TABLE IF EXISTS sales CASCADE;
CREATE TABLE sales (card_id bigint NOT NULL, customer_id bigint NOT NULL, price varchar(10), product_id bigint, timestamp timestamp) diststyle all;
copy sales from 's3://{{ var.json.sales_pipeline.DataLakeBucket }}/processed/sales/year=2021/month=12/' iam_role '{{ var.json.sales_pipeline.RedshiftRoleArn }}' format as parquet;
create view daily_sales_revenue as select sum(price) as daily_sales_revenue, trunc(timestamp) as day from sales where price !='' group by trunc(timestamp) order by trunc(timestamp);
unload ('select * from daily_sales_revenue') to 's3://{{ var.json.sales_pipeline.DataLakeBucket }}/aggregated/daily_sales_revenue/' FORMAT AS parquet PARALLEL TRUE iam_role '{{ var.json.sales_pipeline.RedshiftRoleArn }}';
