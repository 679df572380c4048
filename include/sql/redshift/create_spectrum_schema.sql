-- Spectrum reads the lake through the Glue Data Catalog: the cold days the warehouse no longer holds.
create external schema if not exists spectrum_sales
from data catalog
database '{{ var.json.sales_pipeline.GlueDatabaseName }}'
iam_role '{{ var.json.sales_pipeline.RedshiftRoleArn }}'
