"""Lake Formation permissions enforced on the Glue catalog API and Athena, for callers with their own credentials.

Each caller is an IAM role session (STS AssumeRole), so the local AWS authorises it by the grants its role holds;
the database is set up as the template sets ``sales`` up (CreateTableDefaultPermissions [], no grant to
IAM_ALLOWED_PRINCIPALS, the lake bucket registered). AWS pages: AWS Lake Formation Developer Guide, "Lake Formation
permissions reference", "Implicit Lake Formation permissions", "Changing the default settings for your data lake",
"Granting data location permissions", "Lake Formation tag-based access control", "Troubleshooting Lake Formation";
Athena User Guide, "Using Athena to query data registered with AWS Lake Formation".
"""

from __future__ import annotations

import io
import json
import time
import uuid

import boto3
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from moto.glue.models import glue_backends

from local_aws import ACCOUNT_ID, REGION
from local_aws.crawler.crawl import CrawlError, crawl
from local_aws.principal import Principal, acting_as
from local_aws.redshift import spectrum
from local_aws.redshift.errors import RedshiftError

TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}]}
# The roles' IAM rights are broad on purpose: what these tests exercise is Lake Formation's decision.
SERVICES = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*", "Action": [
    "glue:*", "athena:*", "s3:*", "lakeformation:*"]}]}
RAW = pa.table({"card_id": [1, 2], "customer_id": [10, 20], "price": ["1.5", "$2"], "product_id": ["a", "b"]})


class Role:
    """An IAM role and a session of it: ``client(service)`` calls as the session."""

    def __init__(self, aws, root, name: str):
        self.aws = aws
        self.arn = root("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        root("iam").put_role_policy(RoleName=name, PolicyName="services", PolicyDocument=json.dumps(SERVICES))
        creds = root("sts").assume_role(RoleArn=self.arn, RoleSessionName="session")["Credentials"]
        self._creds = dict(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"])

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.aws.endpoint_url, region_name=self.aws.region, **self._creds)

    @property
    def principal(self) -> dict:
        return {"DataLakePrincipalIdentifier": self.arn}

    def session(self) -> Principal:
        """The role session as the local AWS names it, for work run in-process as the role (crawler, Spectrum)."""
        return Principal(arn=f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.arn.rsplit('/', 1)[1]}/session",
                         account_id=ACCOUNT_ID, role_arn=self.arn)


class Lake:
    """A bucket registered with Lake Formation and a database set up as the template sets ``sales`` up."""

    def __init__(self, aws, root):
        self.aws, self.root = aws, root
        suffix = uuid.uuid4().hex[:8]
        self.suffix = suffix
        self.bucket, self.results, self.db = f"lfp-{suffix}", f"lfp-results-{suffix}", f"lfp_{suffix}"
        s3, glue, lf = root("s3"), root("glue"), root("lakeformation")
        s3.create_bucket(Bucket=self.bucket)
        s3.create_bucket(Bucket=self.results)
        glue.create_database(DatabaseInput={"Name": self.db, "CreateTableDefaultPermissions": []})
        # The template's data lake settings create it without IAMAllowedPrincipals: revoke whatever the defaults gave.
        lf.revoke_permissions(Principal={"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
                              Resource={"Database": {"Name": self.db}}, Permissions=["ALL"])
        lf.register_resource(ResourceArn=f"arn:aws:s3:::{self.bucket}", UseServiceLinkedRole=True)
        for table in ("raw_sales", "processed_sales"):
            self.parquet_table(table, f"{table}/", RAW)

    def parquet_table(self, name: str, prefix: str, data: pa.Table) -> None:
        sink = io.BytesIO()
        pq.write_table(data, sink)
        self.root("s3").put_object(Bucket=self.bucket, Key=f"{prefix}part-0.parquet", Body=sink.getvalue())
        types = {pa.int64(): "bigint", pa.string(): "string"}
        self.root("glue").create_table(DatabaseName=self.db, TableInput={
            "Name": name, "TableType": "EXTERNAL_TABLE", "Parameters": {"classification": "parquet"},
            "StorageDescriptor": {
                "Columns": [{"Name": f.name, "Type": types[f.type]} for f in data.schema],
                "Location": f"s3://{self.bucket}/{prefix}",
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"}}})

    def role(self, name: str) -> Role:
        return Role(self.aws, self.root, f"{name}-{self.suffix}")

    def grant(self, role: Role, resource: dict, permissions: list[str], grantable: list[str] | None = None) -> None:
        self.root("lakeformation").grant_permissions(Principal=role.principal, Resource=resource,
                                                     Permissions=permissions,
                                                     PermissionsWithGrantOption=grantable or [])

    def query(self, role: Role, sql: str) -> dict:
        """Run ``sql`` in Athena as ``role``: the final QueryExecution, with its rows under "Rows" if it succeeded."""
        athena = role.client("athena")
        query_id = athena.start_query_execution(
            QueryString=sql, QueryExecutionContext={"Database": self.db},
            ResultConfiguration={"OutputLocation": f"s3://{self.results}/"})["QueryExecutionId"]
        deadline = time.time() + 30
        while True:
            execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            if execution["Status"]["State"] in ("SUCCEEDED", "FAILED", "CANCELLED") or time.time() > deadline:
                break
            time.sleep(0.05)
        if execution["Status"]["State"] == "SUCCEEDED":
            rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
            execution["Rows"] = [[d.get("VarCharValue") for d in r["Data"]] for r in rows]
        return execution


@pytest.fixture(scope="module")
def lake(local_aws, boto_client) -> Lake:
    return Lake(local_aws, boto_client)


def denied(call) -> str:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["Error"]["Code"] == "AccessDeniedException", error.value.response
    return error.value.response["Error"]["Message"]


def test_catalog_reads_need_describe_and_list_only_what_is_granted(lake):
    """"Lake Formation permissions reference" (DESCRIBE) and "Implicit Lake Formation permissions": without a grant
    GetDatabase and GetTable are refused as AWS words it ("Insufficient Lake Formation permission(s): Required
    Describe on <name>"); a grant on one table lets the caller see it and its database, and GetTables lists only it."""
    reader = lake.role("lf-reader")
    glue = reader.client("glue")
    assert denied(lambda: glue.get_database(Name=lake.db)) == \
        f"Insufficient Lake Formation permission(s): Required Describe on {lake.db}"
    assert denied(lambda: glue.get_table(DatabaseName=lake.db, Name="raw_sales")) == \
        "Insufficient Lake Formation permission(s): Required Describe on raw_sales"
    assert lake.db not in [d["Name"] for d in glue.get_databases()["DatabaseList"]]

    lake.grant(reader, {"Table": {"DatabaseName": lake.db, "Name": "raw_sales"}}, ["DESCRIBE"])
    assert glue.get_table(DatabaseName=lake.db, Name="raw_sales")["Table"]["Name"] == "raw_sales"
    assert glue.get_database(Name=lake.db)["Database"]["Name"] == lake.db
    assert [t["Name"] for t in glue.get_tables(DatabaseName=lake.db)["TableList"]] == ["raw_sales"]
    assert glue.get_partitions(DatabaseName=lake.db, TableName="raw_sales")["Partitions"] == []
    assert denied(lambda: glue.get_partitions(DatabaseName=lake.db, TableName="processed_sales")) == \
        "Insufficient Lake Formation permission(s): Required Describe on processed_sales"
    # A missing object is still EntityNotFoundException, as AWS answers it.
    with pytest.raises(ClientError) as missing:
        glue.get_table(DatabaseName=lake.db, Name="nope")
    assert missing.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_create_table_needs_create_table_and_data_location_access(lake):
    """"Lake Formation permissions reference" (CREATE_TABLE), "Granting data location permissions" and
    "Troubleshooting Lake Formation" ("Insufficient Lake Formation permissions on <Amazon S3 location>"): a table
    under a registered location needs DATA_LOCATION_ACCESS there too. Its creator then holds every permission on it
    ("Implicit Lake Formation permissions"); another principal with CREATE_TABLE may not drop it."""
    writer, other = lake.role("lf-writer"), lake.role("lf-other")
    table_input = {"Name": "made_here", "StorageDescriptor": {
        "Columns": [{"Name": "x", "Type": "int"}], "Location": f"s3://{lake.bucket}/made_here/"}}
    glue = writer.client("glue")
    assert denied(lambda: glue.create_table(DatabaseName=lake.db, TableInput=table_input)) == \
        f"Insufficient Lake Formation permission(s): Required Create Table on {lake.db}"

    lake.grant(writer, {"Database": {"Name": lake.db}}, ["CREATE_TABLE"])
    assert denied(lambda: glue.create_table(DatabaseName=lake.db, TableInput=table_input)) == \
        f"Insufficient Lake Formation permission(s) on s3://{lake.bucket}/made_here/"

    lake.grant(writer, {"DataLocation": {"ResourceArn": f"arn:aws:s3:::{lake.bucket}/made_here"}},
               ["DATA_LOCATION_ACCESS"])
    glue.create_table(DatabaseName=lake.db, TableInput=table_input)
    glue.update_table(DatabaseName=lake.db, TableInput={**table_input, "Description": "mine"})
    assert glue.get_table(DatabaseName=lake.db, Name="made_here")["Table"]["Description"] == "mine"
    # Outside every registered location only CREATE_TABLE is needed.
    glue.create_table(DatabaseName=lake.db, TableInput={"Name": "elsewhere", "StorageDescriptor": {
        "Columns": [], "Location": f"s3://not-registered-{lake.suffix}/x/"}})

    lake.grant(other, {"Database": {"Name": lake.db}}, ["CREATE_TABLE"])
    assert denied(lambda: other.client("glue").delete_table(DatabaseName=lake.db, Name="made_here")) == \
        "Insufficient Lake Formation permission(s): Required Drop on made_here"
    glue.delete_table(DatabaseName=lake.db, Name="made_here")


def test_iam_allowed_principals_leaves_a_table_to_iam(lake, boto_client):
    """"Changing the default settings for your data lake": a database whose CreateTableDefaultPermissions grant ALL
    to IAM_ALLOWED_PRINCIPALS gives each new table that grant (ListPermissions shows it), and any principal passes
    Lake Formation's check on such a table; dropping the table drops its grants."""
    glue, lf = boto_client("glue"), boto_client("lakeformation")
    open_db = f"{lake.db}_open"
    glue.create_database(DatabaseInput={"Name": open_db, "CreateTableDefaultPermissions": [
        {"Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"}, "Permissions": ["ALL"]}]})
    glue.create_table(DatabaseName=open_db, TableInput={"Name": "t", "StorageDescriptor": {"Columns": []}})
    resource = {"Table": {"DatabaseName": open_db, "Name": "t"}}
    grants = lf.list_permissions(Resource=resource)["PrincipalResourcePermissions"]
    assert [(g["Principal"]["DataLakePrincipalIdentifier"], g["Permissions"]) for g in grants] == [
        ("IAM_ALLOWED_PRINCIPALS", ["ALL"])]
    anyone = lake.role("lf-anyone")
    assert anyone.client("glue").get_table(DatabaseName=open_db, Name="t")["Table"]["Name"] == "t"
    glue.delete_table(DatabaseName=open_db, Name="t")
    assert lf.list_permissions(Resource=resource)["PrincipalResourcePermissions"] == []


def test_granting_needs_an_administrator_or_the_grant_option(lake):
    """"Implicit Lake Formation permissions" (administrators may grant anything) and "Granting and revoking
    permissions on Data Catalog resources" (others what they hold with the grant option); AWS's refusal:
    "Resource does not exist or requester is not authorized to access requested permissions."."""
    granter, grantee = lake.role("lf-granter"), lake.role("lf-grantee")
    resource = {"Table": {"DatabaseName": lake.db, "Name": "processed_sales"}}
    lf = granter.client("lakeformation")
    assert denied(lambda: lf.grant_permissions(Principal=grantee.principal, Resource=resource,
                                               Permissions=["SELECT"])) == \
        "Resource does not exist or requester is not authorized to access requested permissions."
    lake.grant(granter, resource, ["SELECT"], grantable=["SELECT"])
    lf.grant_permissions(Principal=grantee.principal, Resource=resource, Permissions=["SELECT"])
    assert denied(lambda: lf.grant_permissions(Principal=grantee.principal, Resource=resource,
                                               Permissions=["DROP"])).startswith("Resource does not exist")
    assert grantee.client("glue").get_table(DatabaseName=lake.db, Name="processed_sales")["Table"]

    # BatchGrantPermissions checks each entry the same way and reports the refused ones in Failures.
    entries = [{"Id": "ok", "Principal": grantee.principal, "Resource": resource, "Permissions": ["SELECT"]},
               {"Id": "no", "Principal": grantee.principal, "Resource": resource, "Permissions": ["ALTER"]}]
    failures = lf.batch_grant_permissions(Entries=entries)["Failures"]
    assert [(f["RequestEntry"]["Id"], f["Error"]["ErrorCode"]) for f in failures] == [("no", "AccessDeniedException")]
    # ... and keeps the grant option (moto's own batch drops it).
    lake.root("lakeformation").batch_grant_permissions(Entries=[
        {"Id": "opt", "Principal": grantee.principal, "Resource": resource, "Permissions": ["DESCRIBE"],
         "PermissionsWithGrantOption": ["DESCRIBE"]}])
    held = lake.root("lakeformation").list_permissions(Principal=grantee.principal, Resource=resource)
    assert "DESCRIBE" in held["PrincipalResourcePermissions"][0]["PermissionsWithGrantOption"]


def test_analyst_queries_what_it_is_granted_and_nothing_else(lake):
    """Athena over Lake Formation ("Using Athena to query data registered with AWS Lake Formation"): a table read
    needs SELECT. A role with no grant (whatever its Athena, Glue and S3 rights) cannot read raw_sales; the analyst
    granted SELECT on raw_sales reads it but not processed_sales. AWS's message: "Insufficient permissions to
    execute the query. Insufficient Lake Formation permission(s) on <table>"."""
    nobody, analyst = lake.role("lf-nogrant"), lake.role("lf-analyst")
    failed = lake.query(nobody, "SELECT count(*) FROM raw_sales")
    assert failed["Status"]["State"] == "FAILED"
    assert failed["Status"]["StateChangeReason"] == \
        "Insufficient permissions to execute the query. Insufficient Lake Formation permission(s) on raw_sales"

    lake.grant(analyst, {"Table": {"DatabaseName": lake.db, "Name": "raw_sales"}}, ["SELECT", "DESCRIBE"])
    ok = lake.query(analyst, "SELECT count(*) FROM raw_sales")
    assert ok["Status"]["State"] == "SUCCEEDED" and ok["Rows"][1] == ["2"]
    other = lake.query(analyst, "SELECT r.card_id FROM raw_sales r JOIN processed_sales p ON r.card_id = p.card_id")
    assert other["Status"]["StateChangeReason"] == \
        "Insufficient permissions to execute the query. Insufficient Lake Formation permission(s) on processed_sales"
    assert lake.query(analyst, "SHOW TABLES")["Rows"] == [["raw_sales"]]


def test_column_grants_limit_the_columns_a_query_sees(lake):
    """"Data filtering and cell-level security" / "Lake Formation permissions reference" (TableWithColumns): with
    SELECT on some columns, SELECT * returns those only and naming another fails as Athena engine v3 does
    ("COLUMN_NOT_FOUND: ... cannot be resolved or requester is not authorized to access requested resources");
    GetTable and DESCRIBE show those columns only (Athena User Guide, "Considerations and limitations for querying
    data registered with Lake Formation"); ColumnWildcard with ExcludedColumnNames grants all but the excluded."""
    named, excluded = lake.role("lf-cols"), lake.role("lf-excl")
    lake.grant(named, {"TableWithColumns": {"DatabaseName": lake.db, "Name": "raw_sales",
                                            "ColumnNames": ["card_id", "price"]}}, ["SELECT"])
    star = lake.query(named, "SELECT * FROM raw_sales ORDER BY card_id")
    assert star["Rows"] == [["card_id", "price"], ["1", "1.5"], ["2", "$2"]]
    table = named.client("glue").get_table(DatabaseName=lake.db, Name="raw_sales")["Table"]
    assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["card_id", "price"]
    assert [r[0] for r in lake.query(named, "DESCRIBE raw_sales")["Rows"]] == ["card_id", "price"]
    hidden = lake.query(named, "SELECT customer_id FROM raw_sales")
    assert hidden["Status"]["StateChangeReason"] == ("COLUMN_NOT_FOUND: line 1:8: Column 'customer_id' cannot be "
                                                     "resolved or requester is not authorized to access requested "
                                                     "resources")

    lake.grant(excluded, {"TableWithColumns": {"DatabaseName": lake.db, "Name": "raw_sales",
                                               "ColumnWildcard": {"ExcludedColumnNames": ["customer_id"]}}},
               ["SELECT"])
    assert lake.query(excluded, "SELECT * FROM raw_sales LIMIT 1")["Rows"][0] == ["card_id", "price", "product_id"]


def test_lf_tag_grants_reach_tables_and_columns_by_their_tags(lake, boto_client):
    """"Lake Formation tag-based access control": a grant on an LF-tag expression covers the tables whose tags
    match; tables inherit the database's tags and columns the table's, a tag assigned lower down overriding it.
    The template tags the database Classification=internal (its ClassificationTagKey)."""
    lf = boto_client("lakeformation")
    key = f"Classification_{lake.suffix}"
    lf.create_lf_tag(TagKey=key, TagValues=["public", "internal", "confidential"])
    lf.add_lf_tags_to_resource(Resource={"Database": {"Name": lake.db}},
                               LFTags=[{"TagKey": key, "TagValues": ["internal"]}])
    lf.add_lf_tags_to_resource(Resource={"Table": {"DatabaseName": lake.db, "Name": "processed_sales"}},
                               LFTags=[{"TagKey": key, "TagValues": ["confidential"]}])
    lf.add_lf_tags_to_resource(Resource={"TableWithColumns": {"DatabaseName": lake.db, "Name": "raw_sales",
                                                              "ColumnNames": ["customer_id"]}},
                               LFTags=[{"TagKey": key, "TagValues": ["confidential"]}])
    tagged = lake.role("lf-tagged")
    lake.grant(tagged, {"LFTagPolicy": {"ResourceType": "TABLE", "Expression": [
        {"TagKey": key, "TagValues": ["internal", "public"]}]}}, ["SELECT", "DESCRIBE"])

    assert lake.query(tagged, "SELECT * FROM raw_sales LIMIT 1")["Rows"][0] == ["card_id", "price", "product_id"]
    assert lake.query(tagged, "SELECT * FROM processed_sales")["Status"]["StateChangeReason"] == \
        "Insufficient permissions to execute the query. Insufficient Lake Formation permission(s) on processed_sales"
    listed = {t["Name"] for t in tagged.client("glue").get_tables(DatabaseName=lake.db)["TableList"]}
    assert "raw_sales" in listed and "processed_sales" not in listed


def test_crawler_role_needs_create_table_and_data_location_access(lake, boto_client):
    """Glue, "Crawler errors when the crawler is using Lake Formation permissions": the crawler's role needs Create
    (CREATE_TABLE) on its output database and data location permissions on a registered target; without them the
    crawl fails with "Insufficient Lake Formation permission(s) on <table> (Database name: <db>, Table Name:
    <table>)" / "... on s3://<path>". The crawl runs in-process as the role (as the crawler acts as its role)."""
    glue_role = lake.role("lf-crawler")
    root_glue = boto_client("glue")
    boto_client("s3").put_object(Bucket=lake.bucket, Key="raw/sales/dt=2024-01-01/sales.csv",
                                 Body=b"card_id,price\n1,2.5\n")
    root_glue.create_crawler(Name=f"lf-crawler-{lake.suffix}", Role=glue_role.arn, DatabaseName=lake.db,
                             TablePrefix="crawled_", Targets={"S3Targets": [{"Path": f"s3://{lake.bucket}/raw/sales/"}]})
    crawler = glue_backends[ACCOUNT_ID][REGION].get_crawler(f"lf-crawler-{lake.suffix}")

    def run() -> None:
        with acting_as(glue_role.session()):
            crawl(crawler, glue_backends[ACCOUNT_ID][REGION], lambda: False)

    with pytest.raises(CrawlError) as no_grant:  # the template's grant to the Glue role revoked
        run()
    assert str(no_grant.value) == (f"Insufficient Lake Formation permission(s) on crawled_sales (Database name: "
                                   f"{lake.db}, Table Name: crawled_sales)")

    lake.grant(glue_role, {"Database": {"Name": lake.db}}, ["CREATE_TABLE", "ALTER", "DROP", "DESCRIBE"])
    with pytest.raises(CrawlError) as no_location:
        run()
    assert str(no_location.value) == f"Insufficient Lake Formation permission(s) on s3://{lake.bucket}/raw/sales/"

    lake.grant(glue_role, {"DataLocation": {"ResourceArn": f"arn:aws:s3:::{lake.bucket}"}}, ["DATA_LOCATION_ACCESS"])
    run()
    assert root_glue.get_partitions(DatabaseName=lake.db, TableName="crawled_sales")["Partitions"]

    # Revoking CREATE_TABLE stops the next crawl that has a table to create.
    boto_client("lakeformation").revoke_permissions(Principal=glue_role.principal, Permissions=["CREATE_TABLE"],
                                                    Resource={"Database": {"Name": lake.db}})
    root_glue.delete_table(DatabaseName=lake.db, Name="crawled_sales")
    with pytest.raises(CrawlError, match="Insufficient Lake Formation permission"):
        run()


def test_spectrum_reads_external_tables_as_its_role_with_select(lake):
    """Redshift Spectrum over Lake Formation ("Using Redshift Spectrum with AWS Lake Formation", Redshift Database
    Developer Guide): the external schema's IAM_ROLE needs SELECT on the tables it reads, columns as granted. Run
    in-process as the role, as Spectrum acts as its IAM_ROLE."""
    spectrum_role = lake.role("lf-spectrum")
    cursor = duckdb.connect()
    for statement in spectrum.METADATA_DDL:
        cursor.execute(statement)
    spectrum.create_external_schema(cursor, f"CREATE EXTERNAL SCHEMA lake FROM DATA CATALOG DATABASE '{lake.db}' "
                                            f"IAM_ROLE '{spectrum_role.arn}'")
    with acting_as(spectrum_role.session()):
        with pytest.raises(RedshiftError, match="Insufficient Lake Formation permission"):
            spectrum.refresh_external_tables(cursor, [("lake", "raw_sales")])
        lake.grant(spectrum_role, {"TableWithColumns": {"DatabaseName": lake.db, "Name": "raw_sales",
                                                        "ColumnNames": ["card_id", "product_id"]}}, ["SELECT"])
        spectrum.refresh_external_tables(cursor, [("lake", "raw_sales")])
    columns = [d[0] for d in cursor.execute("SELECT * FROM lake.raw_sales").description]
    assert columns == ["card_id", "product_id"]


def test_data_lake_admin_describes_everything_but_reads_no_data_without_a_grant(lake, boto_client):
    """"Implicit Lake Formation permissions": a data lake administrator has Describe on every resource and data
    location permissions everywhere, and may grant; it has no implicit SELECT (nor ALTER / DROP on what others
    created). The account's settings are put back afterwards (other tests share the server)."""
    lf = boto_client("lakeformation")
    admin = lake.role("lf-admin")
    before = lf.get_data_lake_settings()["DataLakeSettings"]
    lf.put_data_lake_settings(DataLakeSettings={**before, "DataLakeAdmins": [admin.principal]})
    try:
        glue = admin.client("glue")
        assert glue.get_table(DatabaseName=lake.db, Name="processed_sales")["Table"]["Name"] == "processed_sales"
        assert denied(lambda: glue.delete_table(DatabaseName=lake.db, Name="processed_sales")) == \
            "Insufficient Lake Formation permission(s): Required Drop on processed_sales"
        refused = lake.query(admin, "SELECT * FROM processed_sales")
        assert refused["Status"]["StateChangeReason"].endswith("Insufficient Lake Formation permission(s) on "
                                                               "processed_sales")
        admin.client("lakeformation").grant_permissions(
            Principal=admin.principal, Resource={"Table": {"DatabaseName": lake.db, "Name": "processed_sales"}},
            Permissions=["SELECT"])
        assert lake.query(admin, "SELECT count(*) FROM processed_sales")["Rows"][1] == ["2"]
    finally:
        lf.put_data_lake_settings(DataLakeSettings=before)


def test_authorization_off_lets_every_caller_through(lake, monkeypatch):
    """LOCAL_AWS_AUTHORIZATION=off (ad-hoc use) skips Lake Formation's checks; on (the default) applies them. The
    root user is never checked (the default test keys are root: a local choice, documented in
    ``local_aws.lakeformation.access``)."""
    from local_aws.lakeformation import access
    from local_aws.principal import root

    nobody = lake.role("lf-off")
    with acting_as(nobody.session()):
        with pytest.raises(access.LakeFormationDenied, match="Required Describe on raw_sales"):
            access.require_table("DESCRIBE", lake.db, "raw_sales")
        monkeypatch.setenv("LOCAL_AWS_AUTHORIZATION", "off")
        access.require_table("DESCRIBE", lake.db, "raw_sales")
    monkeypatch.setenv("LOCAL_AWS_AUTHORIZATION", "on")
    with acting_as(root(ACCOUNT_ID)):
        access.require_table("DROP", lake.db, "raw_sales")


def test_database_tag_policy_gives_database_permissions(lake, boto_client):
    """"Lake Formation tag-based access control": a grant on an LF-tag expression with ResourceType DATABASE gives
    database permissions (here CREATE_TABLE) on the databases whose tags match, and none on the others."""
    from local_aws.lakeformation import access

    lf = boto_client("lakeformation")
    key = f"Domain_{lake.suffix}"
    lf.create_lf_tag(TagKey=key, TagValues=["sales", "hr"])
    lf.add_lf_tags_to_resource(Resource={"Database": {"Name": lake.db}},
                               LFTags=[{"TagKey": key, "TagValues": ["sales"]}])
    builder, outsider = lake.role("lf-builder"), lake.role("lf-outsider")
    lake.grant(builder, {"LFTagPolicy": {"ResourceType": "DATABASE", "Expression": [
        {"TagKey": key, "TagValues": ["sales"]}]}}, ["CREATE_TABLE", "DESCRIBE"])
    lake.grant(outsider, {"LFTagPolicy": {"ResourceType": "DATABASE", "Expression": [
        {"TagKey": key, "TagValues": ["hr"]}]}}, ["CREATE_TABLE", "DESCRIBE"])
    with acting_as(builder.session()):
        access.require_database("CREATE_TABLE", lake.db)
    with acting_as(outsider.session()), pytest.raises(access.LakeFormationDenied, match="Required Create Table"):
        access.require_database("CREATE_TABLE", lake.db)


def test_athena_ddl_needs_create_table_and_data_location_access(lake):
    """AWS Knowledge Center, "Athena: insufficient Lake Formation permissions" and "Lake Formation permissions
    reference": CREATE EXTERNAL TABLE needs CREATE_TABLE on the database and, for a LOCATION under a registered
    location, DATA_LOCATION_ACCESS there; DROP TABLE needs DROP."""
    ddl_role = lake.role("lf-ddl")
    create = (f"CREATE EXTERNAL TABLE ddl_made (x int) STORED AS PARQUET "
              f"LOCATION 's3://{lake.bucket}/ddl_made/'")
    assert lake.query(ddl_role, create)["Status"]["StateChangeReason"] == \
        f"Insufficient Lake Formation permission(s): Required Create Table on {lake.db}"
    lake.grant(ddl_role, {"Database": {"Name": lake.db}}, ["CREATE_TABLE"])
    assert lake.query(ddl_role, create)["Status"]["StateChangeReason"] == \
        f"Insufficient Lake Formation permission(s) on s3://{lake.bucket}/ddl_made/"
    lake.grant(ddl_role, {"DataLocation": {"ResourceArn": f"arn:aws:s3:::{lake.bucket}/ddl_made/"}},
               ["DATA_LOCATION_ACCESS"])
    assert lake.query(ddl_role, create)["Status"]["State"] == "SUCCEEDED"
    assert lake.query(ddl_role, "DROP TABLE processed_sales")["Status"]["StateChangeReason"] == \
        "Insufficient Lake Formation permission(s): Required Drop on processed_sales"
    assert lake.query(ddl_role, "DROP TABLE ddl_made")["Status"]["State"] == "SUCCEEDED"  # its creator may


def test_default_grants_and_creators_survive_a_crash(tmp_path):
    """What a Glue request grants in Lake Formation (the IAMAllowedPrincipals default of a new table) and the
    creator's implicit permissions are durable like the rest of the state: after a SIGKILL and restart the grant is
    listed and the creator may still drop its table ("Implicit Lake Formation permissions")."""
    from types import SimpleNamespace

    from server_process import start_server

    from local_aws.server import free_port

    state, port = tmp_path / "state", free_port()
    proc, url = start_server(state, port)
    try:
        server = SimpleNamespace(endpoint_url=url, region="us-east-1")

        def root(service):
            return boto3.client(service, endpoint_url=url, region_name="us-east-1")

        owner = Role(server, root, "lf-durable-owner")
        root("glue").create_database(DatabaseInput={"Name": "lf_durable", "CreateTableDefaultPermissions": [
            {"Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"}, "Permissions": ["ALL"]}]})
        root("lakeformation").grant_permissions(Principal=owner.principal, Permissions=["CREATE_TABLE"],
                                                Resource={"Database": {"Name": "lf_durable"}})
        owner.client("glue").create_table(DatabaseName="lf_durable", TableInput={"Name": "mine"})
        # Leave the table to Lake Formation alone: only its creator's implicit permissions remain.
        root("lakeformation").revoke_permissions(
            Principal={"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"}, Permissions=["ALL"],
            Resource={"Table": {"DatabaseName": "lf_durable", "Name": "mine"}})
        root("glue").create_table(DatabaseName="lf_durable", TableInput={"Name": "open"})
    finally:
        proc.kill()
        proc.wait(timeout=30)

    proc, url = start_server(state, port)
    try:
        lf = boto3.client("lakeformation", endpoint_url=url, region_name="us-east-1")
        grants = lf.list_permissions(Resource={"Table": {"DatabaseName": "lf_durable", "Name": "open"}})
        assert [g["Principal"]["DataLakePrincipalIdentifier"] for g in grants["PrincipalResourcePermissions"]] == [
            "IAM_ALLOWED_PRINCIPALS"]
        owner.aws = SimpleNamespace(endpoint_url=url, region="us-east-1")
        owner.client("glue").delete_table(DatabaseName="lf_durable", Name="mine")
    finally:
        proc.kill()
        proc.wait(timeout=30)


def test_data_cells_filter_limits_rows_and_columns(lake, boto_client):
    """"Data filtering and cell-level security" (AWS Lake Formation Developer Guide): SELECT on a data cells filter
    reads the rows its row filter admits and its columns; several filters' row filters combine with OR. Filters
    with different columns (a column visible in some rows only) are refused as not emulated."""
    lf = boto_client("lakeformation")

    def make_filter(name: str, expression: str, columns: list[str]) -> dict:
        data = {"TableCatalogId": ACCOUNT_ID, "DatabaseName": lake.db, "TableName": "raw_sales", "Name": name,
                "RowFilter": {"FilterExpression": expression}, "ColumnNames": columns}
        lf.create_data_cells_filter(TableData=data)
        return {"DataCellsFilter": {"DatabaseName": lake.db, "TableName": "raw_sales", "Name": name}}

    first = make_filter("card_one", "card_id = 1", ["card_id", "price"])
    second = make_filter("card_two", "product_id = 'b'", ["card_id", "price"])
    other_columns = make_filter("customers", "card_id > 0", ["customer_id"])
    assert [f["Name"] for f in lf.list_data_cells_filter(Table={"DatabaseName": lake.db, "Name": "raw_sales"})[
        "DataCellsFilters"]] == ["card_one", "card_two", "customers"]

    filtered = lake.role("lf-filtered")
    lake.grant(filtered, first, ["SELECT"])
    assert lake.query(filtered, "SELECT * FROM raw_sales")["Rows"] == [["card_id", "price"], ["1", "1.5"]]
    lake.grant(filtered, second, ["SELECT"])
    assert lake.query(filtered, "SELECT * FROM raw_sales ORDER BY card_id")["Rows"][1:] == [["1", "1.5"], ["2", "$2"]]

    lake.grant(filtered, other_columns, ["SELECT"])
    refused = lake.query(filtered, "SELECT * FROM raw_sales")
    assert refused["Status"]["StateChangeReason"].startswith("NOT_SUPPORTED: Cell-level security on raw_sales")

    lf.delete_data_cells_filter(DatabaseName=lake.db, TableName="raw_sales", Name="customers")
    assert len(lake.query(filtered, "SELECT * FROM raw_sales")["Rows"]) == 3
    with pytest.raises(ClientError) as missing:
        lf.grant_permissions(Principal=filtered.principal, Resource=other_columns, Permissions=["SELECT"])
    assert missing.value.response["Error"]["Code"] == "EntityNotFoundException"


def test_create_database_needs_create_database_on_the_catalog_once_iam_allowed_principals_is_revoked(lake, boto_client):
    """"Changing the default settings for your data lake": IAMAllowedPrincipals starts as a database creator (a
    CREATE_DATABASE grant on the catalog, listed by ListPermissions); once it is revoked, CreateDatabase needs
    CREATE_DATABASE on the catalog: "Insufficient Lake Formation permission(s): Required Create Database on
    Catalog" (the message AWS users record). The database's creator then holds every permission on it."""
    lf = boto_client("lakeformation")
    default = {"Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"}, "Resource": {"Catalog": {}},
               "Permissions": ["CREATE_DATABASE"]}
    listed = lf.list_permissions(Resource={"Catalog": {}})["PrincipalResourcePermissions"]
    assert [(p["Principal"]["DataLakePrincipalIdentifier"], p["Permissions"]) for p in listed] == [
        ("IAM_ALLOWED_PRINCIPALS", ["CREATE_DATABASE"])]
    maker = lake.role("lf-db-maker")
    glue = maker.client("glue")
    lf.revoke_permissions(**default)
    try:
        assert denied(lambda: glue.create_database(DatabaseInput={"Name": f"{lake.db}_made"})) == \
            "Insufficient Lake Formation permission(s): Required Create Database on Catalog"
        lf.grant_permissions(Principal=maker.principal, Resource={"Catalog": {}}, Permissions=["CREATE_DATABASE"])
        glue.create_database(DatabaseInput={"Name": f"{lake.db}_made", "CreateTableDefaultPermissions": []})
        glue.create_table(DatabaseName=f"{lake.db}_made", TableInput={"Name": "t"})  # its creator may
        glue.delete_table(DatabaseName=f"{lake.db}_made", Name="t")
        glue.delete_database(Name=f"{lake.db}_made")
    finally:  # other tests share the account
        lf.grant_permissions(**default)
