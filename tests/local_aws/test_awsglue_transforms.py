"""The awsglue library's documented edge cases, run as one Glue job on the local AWS (tests/data/glue/
transforms_job.py reports what each call returned; one run, since each run starts Spark).

Doc pages (AWS Glue developer guide unless noted): "Accessing parameters using getResolvedOptions", "CSV format
in AWS Glue" / "Data format options for inputs and outputs" (withHeader, recurse), "ResolveChoice class" and
"DynamicFrame class" resolveChoice (cast, project, make_cols, make_struct; specs or choice), "ApplyMapping class"
("Returns only the fields of the DynamicFrame that are specified in the mapping tuples"), "DropNullFields class"
("Drops all null fields in a DynamicFrame whose type is NullType ... fields with missing or null values in every
record"), "Filter class", "Map class", "Join class", "SelectFields class", "DropFields class", "RenameField
class", "GlueContext class" (write_dynamic_frame.from_catalog, create_dynamic_frame.from_catalog with
push_down_predicate, purge_s3_path with retentionPeriod, default 168 hours). Where the doc is silent, the
behaviour follows the awslabs/aws-glue-libs Python sources (filter/map error records, the resolveChoice and
apply_mapping argument errors).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.local_aws.test_glue_jobs import Jobs

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "glue" / "transforms_job.py"


@pytest.fixture(scope="module")
def report(local_aws) -> tuple[dict, Jobs, dict]:
    """Runs the job once; (its report, the bucket helper, the run)."""
    import os

    jobs = Jobs(local_aws)
    before = os.environ.get("LOCAL_AWS_GLUE_WARM_DRIVERS")
    os.environ["LOCAL_AWS_GLUE_WARM_DRIVERS"] = "0"  # module scope: monkeypatch is per test
    try:
        database = f"tdb_{uuid.uuid4().hex[:8]}"
        jobs.glue.create_database(DatabaseInput={"Name": database})
        jobs.glue.create_table(DatabaseName=database, TableInput={
            "Name": "typed", "PartitionKeys": [{"Name": "year", "Type": "string"}],
            "Parameters": {"classification": "parquet"},
            "StorageDescriptor": {
                "Columns": [{"Name": "n", "Type": "bigint"}, {"Name": "s", "Type": "string"}],
                "Location": f"s3://{jobs.bucket}/typed/",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary":
                              "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})
        for year in ("2021", "2022"):
            jobs.glue.create_partition(DatabaseName=database, TableName="typed", PartitionInput={
                "Values": [year], "StorageDescriptor": {"Location": f"s3://{jobs.bucket}/typed/year={year}/"}})
        jobs.put("in/sales/part-1.csv", "id,price,when,note\n1,12.5,2021-12-01 10:00:00,a\n2,$3,2021-12-01 11:00:00,\n"
                                        "3,4,not a time,c\n")
        jobs.put("in/sales/sub/part-2.csv", "id,price,when,note\n4,1.5,2021-12-02 10:00:00,d\n")
        jobs.put("purge/old.txt", "x\n")
        job = jobs.create(SCRIPT.read_text())
        run_id = jobs.glue.start_job_run(JobName=job, Arguments={
            "--bucket": jobs.bucket, "--report": f"s3://{jobs.bucket}/report/", "--database": database})["JobRunId"]
        run = jobs.wait(job, run_id, timeout=420)
    finally:
        if before is None:
            os.environ.pop("LOCAL_AWS_GLUE_WARM_DRIVERS", None)
        else:
            os.environ["LOCAL_AWS_GLUE_WARM_DRIVERS"] = before
    assert run["JobRunState"] == "SUCCEEDED", run.get("ErrorMessage")
    key = next(k for k in jobs.keys("report/") if k.endswith(".txt"))
    return json.loads(jobs.read(key)), jobs, run


pytestmark = pytest.mark.spark

NO_LIB = "is not implemented by the local AWS's awsglue library"


def test_get_resolved_options(report):
    """getResolvedOptions: the reserved job_bookmark_option (default disable) and JOB_RUN_ID; a missing option
    raises GlueArgumentError."""
    out, _, run = report
    assert out["resolved_options"] == {"job_bookmark_option": "job-bookmark-disable", "JOB_RUN_ID": run["Id"]}
    assert out["missing_argument"] == "GlueArgumentError: the following arguments are required: --not_given"


def test_csv_source_types_each_value_and_recurse(report):
    """CSV with withHeader: numbers and text in one field make a choice; recurse reads subfolders."""
    out, _, _ = report
    assert out["csv_schema"] == {"id": "bigint", "price": "string", "when": "string", "note": "string"}
    assert out["csv_choices"] == {"price": ["double", "string"]}
    assert (out["csv_count"], out["csv_recurse"]) == (3, 4)


def test_resolve_choice_actions(report):
    """ResolveChoice class: cast, project, make_cols, make_struct; specs and choice are exclusive."""
    out, _, _ = report
    cast = out["resolve_cast:double"]
    assert [r["price"] for r in cast["rows"]] == [12.5, None, 4.0]
    assert [r["price"] for r in out["resolve_project:string"]["rows"]] == [None, "$3", None]
    cols = out["resolve_make_cols"]
    assert cols["fields"] == ["id", "price_double", "price_string", "when", "note"]
    assert [(r["price_double"], r["price_string"]) for r in cols["rows"]] == [(12.5, None), (None, "$3"), (4.0, None)]
    assert [r["price"] for r in out["resolve_make_struct"]["rows"]] == [
        {"double": 12.5, "string": None}, {"double": None, "string": "$3"}, {"double": 4.0, "string": None}]
    assert out["resolve_both"] == "Exception: Parameter specs and option are both specified, choose one."
    assert out["resolve_neither"] == "Exception: Parameter specs and option are both missing, add one."


def test_apply_mapping_keeps_only_mapped_fields(report):
    """ApplyMapping class: only the mapped fields, renamed and cast; a missing source gives no field; a value
    that does not convert is null; mappings must be tuples."""
    out, _, _ = report
    assert out["mapping_fields"] == ["sale_id", "when", "price"]
    assert out["mapping_rows"] == [
        {"sale_id": "1", "when": "2021-12-01 10:00:00", "price": "12.5"},
        {"sale_id": "2", "when": "2021-12-01 11:00:00", "price": None},
        {"sale_id": "3", "when": None, "price": "4.0"},
    ]
    assert out["mapping_list_not_tuple"].startswith("TypeError: Mapping must be specified as a tuple.")


def test_drop_null_fields_drops_fields_not_records(report):
    """DropNullFields class: a field null in every record goes (also inside a struct, as aws-glue-libs'
    DropNullFields walks nested structs); one with some values, or empty strings, stays; every record stays."""
    out, _, _ = report
    assert out["dropnull_fields"] == ["id", "empty", "some", "nested"]
    assert out["dropnull_nested"] == "struct<kept:int>"  # a nested field null in every record goes too
    assert out["dropnull_count"] == 2


def test_filter_map_join_and_field_transforms(report):
    """Filter class, Map class (a record whose function raises is left out), Join class (both frames' fields),
    SelectFields (missing paths ignored), DropFields, RenameField; unimplemented calls name themselves."""
    out, _, _ = report
    assert out["filter"] == [1]  # "$3" > 5 raises TypeError: the record is filtered out, as in Glue
    assert out["map_fields"] == ["id", "price", "when", "note", "gross"]
    assert out["map_gross"] == [3.3, 4.4, 13.75]
    assert out["join_fields"] == ["id", "price", "when", "note", "product_id", "product"]
    assert out["join_count"] == 2
    assert out["select"] == ["id"]
    assert out["drop"] == ["id", "when", "note"]
    assert out["rename"] == ["id", "price", "sold_at", "note"]
    assert out["unimplemented"] == f"NotImplementedError: awsglue.transforms.Relationalize {NO_LIB}"
    assert out["unimplemented_context"] == f"NotImplementedError: GlueContext.create_data_frame_from_catalog {NO_LIB}"


def test_catalog_sink_and_pruned_catalog_source(report):
    """write_dynamic_frame.from_catalog writes to the table's location partitioned by its keys;
    create_dynamic_frame.from_catalog with push_down_predicate reads only the matching partitions."""
    out, jobs, _ = report
    assert out["catalog_rows"] == [{"n": 2, "s": "b", "year": "2022"}]
    assert any(k.startswith("typed/year=2021/") and k.endswith(".parquet") for k in jobs.keys("typed/"))


def test_purge_s3_path_keeps_recent_objects_by_default(report):
    """purge_s3_path: retentionPeriod defaults to 168 hours (a new object stays); 0 deletes everything."""
    out, jobs, _ = report
    assert out["purge_kept"] == 1
    assert jobs.keys("purge/") == []
