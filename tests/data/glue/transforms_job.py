"""Runs the awsglue transforms' documented edge cases in one Glue job run and writes what each returned to
``--report`` as JSON (a test script for tests/local_aws/test_awsglue_transforms.py, which names the doc pages)."""

import json
import sys

from awsglue.context import GlueContext
from awsglue.dynamicframe import DynamicFrame
from awsglue.job import Job
from awsglue.transforms import (
    ApplyMapping,
    DropFields,
    DropNullFields,
    Filter,
    Join,
    Map,
    Relationalize,
    RenameField,
    ResolveChoice,
    SelectFields,
)
from awsglue.utils import GlueArgumentError, getResolvedOptions
from pyspark.context import SparkContext

args = getResolvedOptions(sys.argv, ["JOB_NAME", "bucket", "report", "database"])
glue = GlueContext(SparkContext.getOrCreate())
spark = glue.spark_session
job = Job(glue)
job.init(args["JOB_NAME"], args)
bucket = args["bucket"]
out = {"resolved_options": {k: args[k] for k in ("job_bookmark_option", "JOB_RUN_ID") if k in args}}


def rows(frame: DynamicFrame) -> list:
    return [r.asDict(recursive=True) for r in frame.toDF().collect()]


def fields(frame: DynamicFrame) -> list:
    return frame.toDF().columns


def error(call) -> str:
    try:
        call()
    except Exception as exc:  # the type and message are the point
        return f"{type(exc).__name__}: {exc}"
    return "no error"


out["missing_argument"] = error(lambda: getResolvedOptions(sys.argv, ["JOB_NAME", "not_given"]))
assert out["missing_argument"].startswith(GlueArgumentError.__name__)

# CSV through from_options: each value typed, so numbers and text in one column make a choice
sales = glue.create_dynamic_frame.from_options(
    connection_type="s3", format="csv", format_options={"withHeader": True},
    connection_options={"paths": [f"s3://{bucket}/in/sales/"]})
out["csv_schema"] = {f.name: f.dataType.simpleString() for f in sales.schema().fields}
out["csv_choices"] = dict(sales._choices)
out["csv_count"] = sales.count()
out["csv_recurse"] = glue.create_dynamic_frame.from_options(
    connection_type="s3", format="csv", format_options={"withHeader": True},
    connection_options={"paths": [f"s3://{bucket}/in/sales/"], "recurse": True}).count()

# ResolveChoice: each action on the price choice (double and string)
for action in ("cast:double", "project:string", "make_cols", "make_struct"):
    resolved = ResolveChoice.apply(frame=sales, specs=[("price", action)])
    out[f"resolve_{action}"] = {"fields": fields(resolved),
                               "rows": sorted(rows(resolved), key=lambda r: r["id"])}
out["resolve_both"] = error(lambda: sales.resolveChoice(specs=[("price", "cast:double")], choice="make_cols"))
out["resolve_neither"] = error(lambda: sales.resolveChoice())

# ApplyMapping: only mapped fields; cast; missing source gives no field; unconvertible values are null
mapped = ApplyMapping.apply(frame=sales, mappings=[
    ("id", "long", "sale_id", "int"), ("when", "string", "when", "timestamp"), ("nope", "string", "x", "string"),
    ("price", "string", "price", "double")])
out["mapping_fields"] = fields(mapped)
out["mapping_rows"] = sorted([{k: str(v) if v is not None else None for k, v in r.items()} for r in rows(mapped)],
                             key=lambda r: r["sale_id"])
out["mapping_list_not_tuple"] = error(lambda: sales.apply_mapping([["id", "long", "id", "long"]]))

# DropNullFields: drops fields null in every record (not records); empty strings are values
nulls = spark.createDataFrame([(1, None, "", None, (None, 1)), (2, None, "", 5, (None, 2))],
                              "id int, gone string, empty string, some int, nested struct<gone:string,kept:int>")
dropped = DropNullFields.apply(frame=DynamicFrame.fromDF(nulls, glue, "nulls"))
out["dropnull_fields"] = fields(dropped)
out["dropnull_nested"] = dropped.toDF().schema["nested"].dataType.simpleString()
out["dropnull_count"] = dropped.count()

# Filter and Map on records (dicts); a record whose function raises is left out
out["filter"] = sorted(r["id"] for r in rows(Filter.apply(frame=sales, f=lambda r: r["price"] > 5)))


def add_tax(record):
    record["gross"] = round(float(str(record["price"]).lstrip("$")) * 1.1, 2)
    return record


taxed = Map.apply(frame=sales, f=add_tax)
out["map_fields"] = fields(taxed)
out["map_gross"] = sorted(r["gross"] for r in rows(taxed))

# Join keeps the fields of both frames; SelectFields ignores missing paths; DropFields; RenameField
products = spark.createDataFrame([(1, "pen"), (2, "ink")], "product_id long, product string")
joined = Join.apply(frame1=sales, frame2=DynamicFrame.fromDF(products, glue, "products"), keys1=["id"],
                    keys2=["product_id"])
out["join_fields"] = fields(joined)
out["join_count"] = joined.count()
out["select"] = fields(SelectFields.apply(frame=sales, paths=["id", "missing"]))
out["drop"] = fields(DropFields.apply(frame=sales, paths=["price"]))
out["rename"] = fields(RenameField.apply(frame=sales, old_name="when", new_name="sold_at"))
out["unimplemented"] = error(lambda: Relationalize.apply(frame=sales, staging_path="s3://x/", name="root"))
out["unimplemented_context"] = error(lambda: glue.create_data_frame_from_catalog)

# Catalog sink and source: partitionKeys from the table, push_down_predicate prunes partitions
typed = spark.createDataFrame([(1, "a", "2021"), (2, "b", "2022")], "n long, s string, year string")
glue.write_dynamic_frame.from_catalog(frame=DynamicFrame.fromDF(typed, glue, "t"), database=args["database"],
                                      table_name="typed")
read_back = glue.create_dynamic_frame.from_catalog(database=args["database"], table_name="typed",
                                                   push_down_predicate="year = '2022'")
out["catalog_rows"] = rows(read_back)

# purge_s3_path keeps objects newer than the retention period (168 hours by default)
glue.purge_s3_path(f"s3://{bucket}/purge/", options={})
out["purge_kept"] = spark.read.text(f"s3://{bucket}/purge/").count()
glue.purge_s3_path(f"s3://{bucket}/purge/", options={"retentionPeriod": 0})

job.commit()
spark.createDataFrame([(json.dumps(out, default=str),)], "v string").coalesce(1).write.text(args["report"])
