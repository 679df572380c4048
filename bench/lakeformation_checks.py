"""What a Lake Formation check costs: CPU microseconds per check, in-process (no server, no HTTP).

    python -m bench.lakeformation_checks [--checks 20000] [--grants 12]

Sets up moto's Glue and Lake Formation backends as the template leaves them (a database without
IAMAllowedPrincipals, its tables, a registered location, a dozen grants to several roles, an LF-tag on the
database) plus ``--grants`` more unrelated grants, then times each kind of check for a role that holds a grant,
one that holds none (the refusal path, exception included), and the root user (the bypass). CPU time
(``time.process_time``), so the figure holds on a loaded machine.
"""

from __future__ import annotations

import argparse
import time

from moto.glue.models import glue_backends
from moto.lakeformation.models import lakeformation_backends

from local_aws import ACCOUNT_ID, REGION, principal
from local_aws.lakeformation import access
from local_aws.lakeformation.errors import LakeFormationDenied
from local_aws.principal import Principal

DB = "bench_sales"
TABLES = ("raw_sales", "processed_sales", "aggregated_daily_sales_revenue")
COLUMNS = ["card_id", "customer_id", "price", "product_id", "timestamp", "dt"]


def _role(name: str) -> Principal:
    arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
    return Principal(arn=f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{name}/s", account_id=ACCOUNT_ID, role_arn=arn)


def setup(extra_grants: int) -> None:
    glue, lf = glue_backends[ACCOUNT_ID][REGION], lakeformation_backends[ACCOUNT_ID][REGION]
    if DB not in glue.databases:
        glue.create_database(DB, {"Name": DB, "CreateTableDefaultPermissions": []})
        for table in TABLES:
            glue.create_table(DB, table, {"Name": table, "PartitionKeys": [{"Name": "dt", "Type": "string"}],
                                          "StorageDescriptor": {"Columns": [{"Name": c, "Type": "string"}
                                                                            for c in COLUMNS[:-1]],
                                                                "Location": f"s3://bench-lake/{table}/"}})
    lf.resources.pop("arn:aws:s3:::bench-lake", None)
    lf.register_resource("arn:aws:s3:::bench-lake", "")

    def grant(role: str, resource: dict, permissions: list[str]) -> None:
        lf.grant_permissions(ACCOUNT_ID, {"DataLakePrincipalIdentifier": f"arn:aws:iam::{ACCOUNT_ID}:role/{role}"},
                             resource, permissions, [])

    grant("glue", {"Database": {"Name": DB}}, ["CREATE_TABLE", "ALTER", "DROP", "DESCRIBE"])
    grant("glue", {"DataLocation": {"ResourceArn": "arn:aws:s3:::bench-lake"}}, ["DATA_LOCATION_ACCESS"])
    grant("redshift", {"Table": {"DatabaseName": DB, "TableWildcard": {}}}, ["SELECT", "DESCRIBE"])
    grant("airflow", {"Table": {"DatabaseName": DB, "TableWildcard": {}}}, ["SELECT", "DESCRIBE"])
    grant("analyst", {"TableWithColumns": {"DatabaseName": DB, "Name": "raw_sales",
                                           "ColumnNames": ["card_id", "price"]}}, ["SELECT"])
    for i in range(extra_grants):
        grant(f"other{i}", {"Table": {"DatabaseName": f"other_db_{i}", "Name": "t"}}, ["SELECT"])


def _time(check, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        try:
            check()
        except LakeFormationDenied:
            pass
    return (time.process_time() - started) / n * 1e6


def measure(checks: int = 20_000, extra_grants: int = 12) -> list[str]:
    """Markdown lines: CPU µs per Lake Formation check of each kind (mean of ``checks``), with ``extra_grants``
    unrelated grants besides the template's."""
    setup(extra_grants)
    cases = {
        "root: require_table DESCRIBE (bypass)": (principal.root(ACCOUNT_ID),
                                                 lambda: access.require_table("DESCRIBE", DB, "raw_sales")),
        "redshift role: require_table SELECT (wildcard grant)": (
            _role("redshift"), lambda: access.require_table("SELECT", DB, "raw_sales")),
        "glue role: require_database CREATE_TABLE": (
            _role("glue"), lambda: access.require_database("CREATE_TABLE", DB)),
        "glue role: require_location (registered, granted)": (
            _role("glue"), lambda: access.require_location("s3://bench-lake/raw_sales/dt=2024-01-01/")),
        "analyst: readable_columns (column grant)": (
            _role("analyst"), lambda: access.readable_columns(DB, "raw_sales", COLUMNS)),
        "no grant: require_table DESCRIBE (refused)": (
            _role("nobody"), lambda: access.require_table("DESCRIBE", DB, "raw_sales")),
        "no grant: database_visible (scans its tables)": (
            _role("nobody"), lambda: access.database_visible(DB)),
    }
    grants = len(lakeformation_backends[ACCOUNT_ID][REGION].grants[ACCOUNT_ID].permissions)
    lines = [f"Lake Formation checks (`local_aws.lakeformation.access`), {grants} grants in the catalog, {checks} "
             "checks of each kind:", "", "| check | CPU µs |", "| --- | ---: |"]
    for label, (who, check) in cases.items():
        with principal.acting_as(who):
            lines.append(f"| {label} | {_time(check, checks):.1f} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=20_000)
    parser.add_argument("--grants", type=int, default=12, help="unrelated grants besides the template's")
    args = parser.parse_args(argv)
    print("\n".join(measure(args.checks, args.grants)))


if __name__ == "__main__":
    main()
