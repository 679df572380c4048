"""The daily DAG's lineage table (plugins/sales_pipeline/lineage.py): names follow the OpenLineage naming spec
(https://openlineage.io/docs/spec/naming) and the stages chain raw -> processed -> warehouse -> aggregate."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
pytest.importorskip("airflow.providers.openlineage")

from sales_pipeline.lineage import Places  # noqa: E402

OUTPUTS = {"DataLakeBucket": "lake", "GlueDatabaseName": "sales", "RedshiftClusterId": "wh",
           "RedshiftDatabaseName": "dev", "LoaderFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:l"}
TASKS = ["load_raw.invoke_loader", "crawl_raw.start_execution", "transform.run_glue_job",
         "crawl_processed.start_execution", "redshift_ddl.start_execution", "redshift_load.start_execution",
         "redshift_views.start_execution", "redshift_unload.start_execution", "crawl_aggregated.start_execution"]


def names(datasets):
    return {f"{d.namespace}/{d.name}" for d in datasets}


def test_names_follow_the_naming_spec():
    places = Places(OUTPUTS, "2021-12-03")
    assert names([places.raw, places.processed, places.aggregate]) == {
        "s3://lake/raw/sales/dt=2021-12-03", "s3://lake/processed/sales/year=2021/month=12/day=3",
        "s3://lake/aggregated/daily_sales_revenue/dt=2021-12-03"}
    assert names([places.glue("raw_sales")]) == {"arn:aws:glue:us-east-1:123456789012/table/sales/raw_sales"}
    assert names([places.redshift("sales")]) == {"redshift://wh.us-east-1:5439/dev.public.sales"}


def test_every_data_stage_has_lineage_and_they_chain():
    places = Places(OUTPUTS, "2021-12-03")
    edges: dict[str, set[str]] = {}
    for task_id in TASKS:
        inputs, outputs = places.task_lineage(task_id)
        assert outputs, task_id
        for source in names(inputs):
            edges.setdefault(source, set()).update(names(outputs))
    assert places.task_lineage("crawl_raw.wait_for_crawler") is None
    path = [places.raw, places.processed, places.redshift("sales"), places.redshift("daily_sales_revenue"),
            places.aggregate]
    chain = [f"{d.namespace}/{d.name}" for d in path]
    for source, target in zip(chain, chain[1:], strict=False):
        assert target in edges[source], (source, target)


def test_reconcile_inputs_carry_quality_facets_only_when_it_succeeded():
    places = Places(OUTPUTS, "2021-12-03")
    summary = {"raw_rows": 10, "processed_rows": 9, "rejected_rows": 1, "rejected_by_reason": {"bad_price": 1}}
    inputs = {d.name: d for d in places.reconcile_inputs(summary)}
    processed = inputs["table/sales/processed_sales"].inputFacets
    assert processed["dataQualityMetrics"].rowCount == 9
    assert {a.assertion for a in processed["dataQualityAssertions"].assertions} == {
        "row_count_matches_manifest", "rejected_bad_price=1", "revenue_matches_redshift"}
    assert inputs["table/sales/raw_sales"].inputFacets["dataQualityMetrics"].rowCount == 10
    assert all(not d.inputFacets for d in places.reconcile_inputs(None))
