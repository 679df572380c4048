"""OpenLineage for the daily DAG: each task's real inputs and outputs, and the reconciliation's data-quality facets.

The stages run inside Step Functions executions, a Lambda and a Glue job whose arguments name no dataset the
provider's extractors could see, so the project says what each task reads and writes. `SalesPipelineExtractor` is
a custom extractor (`[openlineage] extractors = sales_pipeline.lineage.SalesPipelineExtractor`) for the operator
classes the daily DAG uses; it answers for the daily DAG's tasks and leaves every other task without lineage.

Dataset names follow the OpenLineage naming spec (https://openlineage.io/docs/spec/naming): S3 `s3://<bucket>` +
key prefix, Glue `arn:aws:glue:<region>:<account>` + `table/<database>/<table>`, Redshift
`redshift://<cluster>.<region>:5439` + `<database>.<schema>.<table>`. The day's partition is the dataset for the
lake (`raw/sales/dt=<ds>`), the table for the catalog and the warehouse.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.openlineage.extractors.base import BaseExtractor, OperatorLineage
from openlineage.client.event_v2 import Dataset, InputDataset
from openlineage.client.generated.data_quality_assertions_dataset import Assertion, DataQualityAssertionsDatasetFacet
from openlineage.client.generated.data_quality_metrics_input_dataset import DataQualityMetricsInputDatasetFacet

DAG_ID = "sales_pipeline_daily"
REDSHIFT_PORT = 5439


class Places:
    """The day's datasets, from the stack outputs (the `sales_pipeline` Variable) and the run's day."""

    def __init__(self, outputs: dict[str, Any], day: str):
        self.outputs, self.day = outputs, day
        _, _, _, self.region, self.account, *_ = outputs["LoaderFunctionArn"].split(":")
        year, month, dom = (int(part) for part in day.split("-"))
        self.partition = f"year={year}/month={month}/day={dom}"

    def s3(self, key: str) -> Dataset:
        return Dataset(namespace=f"s3://{self.outputs['DataLakeBucket']}", name=key)

    def glue(self, table: str) -> Dataset:
        return Dataset(namespace=f"arn:aws:glue:{self.region}:{self.account}",
                       name=f"table/{self.outputs['GlueDatabaseName']}/{table}")

    def redshift(self, table: str) -> Dataset:
        return Dataset(namespace=f"redshift://{self.outputs['RedshiftClusterId']}.{self.region}:{REDSHIFT_PORT}",
                       name=f"{self.outputs['RedshiftDatabaseName']}.public.{table}")

    @property
    def raw(self) -> Dataset:
        return self.s3(f"raw/sales/dt={self.day}")

    @property
    def processed(self) -> Dataset:
        return self.s3(f"processed/sales/{self.partition}")

    @property
    def aggregate(self) -> Dataset:
        return self.s3(f"aggregated/daily_sales_revenue/dt={self.day}")

    def task_lineage(self, task_id: str) -> tuple[list[Dataset], list[Dataset]] | None:
        """(inputs, outputs) of one daily-DAG task; None for a task that moves no data (the sensors, run_cost)."""
        return {
            "load_raw.invoke_loader": ([], [self.raw]),
            "crawl_raw.start_execution": ([self.raw], [self.glue("raw_sales")]),
            "transform.run_glue_job": ([self.raw], [
                self.processed, self.s3(f"rejected/sales/dt={self.day}"),
                self.s3(f"manifests/sales/dt={self.day}.json")]),
            "crawl_processed.start_execution": ([self.processed], [self.glue("processed_sales")]),
            "redshift_ddl.start_execution": ([self.glue("processed_sales")], [self.redshift("sales")]),
            "redshift_load.start_execution": ([self.processed], [self.redshift("sales")]),
            "redshift_views.start_execution": ([self.redshift("sales"), self.glue("processed_sales")], [
                self.redshift("daily_sales_revenue"), self.redshift("sales_all_days")]),
            "redshift_unload.start_execution": ([self.redshift("daily_sales_revenue")], [self.aggregate]),
            "crawl_aggregated.start_execution": ([self.aggregate], [self.glue("aggregated_daily_sales_revenue")]),
        }.get(task_id)

    def reconcile_inputs(self, summary: dict[str, Any] | None) -> list[InputDataset]:
        """The reconciled datasets, with the day's figures and checks as data-quality facets when the task succeeded
        (`summary` is its return value, see `sales_pipeline.reconcile.reconcile_day`)."""
        tables = [("raw", self.glue("raw_sales")), ("processed", self.glue("processed_sales")),
                  ("warehouse", self.redshift("sales")), ("aggregate", self.glue("aggregated_daily_sales_revenue"))]
        inputs = []
        for role, dataset in tables:
            facets = {}
            if summary:
                rows = summary["raw_rows"] if role == "raw" else summary["processed_rows"]
                facets["dataQualityMetrics"] = DataQualityMetricsInputDatasetFacet(columnMetrics={}, rowCount=rows)
                checks = [Assertion(assertion="row_count_matches_manifest", success=True)]
                if role == "processed":
                    checks += [Assertion(assertion=f"rejected_{reason}={count}", success=True)
                               for reason, count in sorted(summary["rejected_by_reason"].items())]
                if role != "raw":
                    checks.append(Assertion(assertion="revenue_matches_redshift", success=True, column="price"))
                facets["dataQualityAssertions"] = DataQualityAssertionsDatasetFacet(assertions=checks)
            inputs.append(InputDataset(namespace=dataset.namespace, name=dataset.name, inputFacets=facets))
        return inputs


class SalesPipelineExtractor(BaseExtractor):
    """The daily DAG's lineage, read when a task completes (its day and the stack outputs are known then)."""

    @classmethod
    def get_operator_classnames(cls) -> list[str]:
        return ["BilledLambdaInvokeOperator", "StepFunctionStartExecutionOperator", "InputRefusalGlueJobOperator",
                "_PythonDecoratedOperator"]

    def _execute_extraction(self) -> OperatorLineage | None:
        return OperatorLineage()  # nothing is known before the task runs: the day and the outputs come with the run

    def extract_on_complete(self, task_instance) -> OperatorLineage | None:
        if self.operator.dag_id != DAG_ID:
            return None
        from airflow.sdk import Variable

        places = Places(Variable.get("sales_pipeline", deserialize_json=True),
                        task_instance.get_template_context()["ds"])
        if self.operator.task_id == "validate.reconcile":
            from sales_pipeline.validation import RECONCILED

            summary = RECONCILED.get(task_instance.run_id)  # set only when reconcile succeeded in this process
            return OperatorLineage(inputs=places.reconcile_inputs(summary),
                                   outputs=[places.s3(f"quality/sales/dt={places.day}/reconciliation.json")])
        found = places.task_lineage(self.operator.task_id)
        return OperatorLineage(inputs=found[0], outputs=found[1]) if found else None
