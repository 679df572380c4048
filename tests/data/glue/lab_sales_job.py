"""A Glue job in the original lab's style, written against the awsglue library (a test script for
tests/local_aws/test_awsglue_lab.py): catalog read of the crawled raw table, ResolveChoice, ApplyMapping,
DropNullFields, year/month/day from the timestamp, partitioned Parquet write, Job.commit (bookmarks).

It also writes what it read to ``--report_path`` so the test can see what each bookmarked run processed."""

import json
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.transforms import ApplyMapping, DropNullFields, ResolveChoice
from awsglue.utils import getResolvedOptions
from pyspark.context import SparkContext
from pyspark.sql import functions as F

args = getResolvedOptions(sys.argv, ["JOB_NAME", "database", "table", "processed_path", "report_path"])
sc = SparkContext.getOrCreate()
glueContext = GlueContext(sc)
spark = glueContext.spark_session
spark.conf.set("spark.sql.session.timeZone", "UTC")
job = Job(glueContext)
job.init(args["JOB_NAME"], args)
logger = glueContext.get_logger()

raw = glueContext.create_dynamic_frame.from_catalog(
    database=args["database"], table_name=args["table"], transformation_ctx="raw_sales",
    push_down_predicate="dt >= '2021-12-01'")
raw.printSchema()
# price holds numbers and "$"-prefixed text (a choice): keep it as text; customer_id numbers and "n/a": long
resolved = ResolveChoice.apply(frame=raw, specs=[("price", "cast:string"), ("customer_id", "cast:long")])
mapped = ApplyMapping.apply(frame=resolved, mappings=[
    ("card_id", "long", "card_id", "long"),
    ("customer_id", "long", "customer_id", "long"),
    ("price", "string", "price", "string"),
    ("product_id", "string", "product_id", "string"),
    ("timestamp", "string", "timestamp", "timestamp"),
    ("notes", "string", "notes", "string"),
])
cleaned = DropNullFields.apply(frame=mapped)
df = (cleaned.toDF()
      .withColumn("price", F.regexp_replace("price", r"\$", "").cast("double"))
      .withColumn("year", F.year("timestamp"))
      .withColumn("month", F.month("timestamp"))
      .withColumn("day", F.dayofmonth("timestamp")))
out = DynamicFrame.fromDF(df, glueContext, "processed")
glueContext.write_dynamic_frame.from_options(
    frame=out, connection_type="s3", format="parquet",
    connection_options={"path": args["processed_path"], "partitionKeys": ["year", "month", "day"]})
report = {"rows": raw.count(), "fields": [f.name for f in cleaned.toDF().schema.fields]}
spark.createDataFrame([(json.dumps(report),)], "v string").coalesce(1).write.mode("overwrite").text(
    args["report_path"])
logger.info(f"processed {report['rows']} rows")
job.commit()
