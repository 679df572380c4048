"""Static checks of infra/cloudformation.json: linters, security scan, ASL wiring and the architecture contract."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest
from template_utils import (
    REPO_ROOT,
    TEMPLATE_PATH,
    TaskError,
    as_list,
    backticked_names,
    iter_policy_statements,
    iter_states,
    load_template,
    rendered_definition,
    resources_of_type,
    state_machines,
    substitutions_used,
    walk,
)

# One xdist worker runs the whole module, so the checkov scan (a few seconds) happens once.

VENV_BIN = Path(sys.executable).parent
CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
MACHINES = sorted(state_machines())
TASK_STATES = [
    (machine, name)
    for machine in MACHINES
    for name, state in iter_states(state_machines()[machine]["Properties"]["Definition"]["States"])
    if state["Type"] == "Task"
]


def run_tool(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)


def definition(machine: str) -> dict:
    return state_machines()[machine]["Properties"]["Definition"]


def all_states(machine: str) -> dict[str, dict]:
    return dict(iter_states(definition(machine)["States"]))


# ---------------------------------------------------------------- linters and scanners


def test_cfn_lint_is_clean():
    # Informational checks too: they ask for explicit deletion policies on stateful resources.
    result = run_tool([str(VENV_BIN / "cfn-lint"), "--include-checks", "I", "--", str(TEMPLATE_PATH)])
    assert result.returncode == 0, f"cfn-lint findings:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("machine", MACHINES)
def test_statelint_accepts_each_definition(machine, tmp_path):
    asl_file = tmp_path / f"{machine}.asl.json"
    props = state_machines()[machine]["Properties"]
    asl_file.write_text(json.dumps(rendered_definition(props["Definition"], props["DefinitionSubstitutions"])))
    result = run_tool([str(VENV_BIN / "statelint"), str(asl_file)], timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), f"statelint on {machine}:\n{result.stdout}"


@pytest.fixture(scope="module")
def checkov_report() -> dict:
    if not CHECKOV.exists():
        pytest.fail(f"checkov is missing at {CHECKOV}: `make venv` creates .venv-checkov")
    # --skip-download: no guideline fetch from the vendor's API (this must run offline). Without --quiet the
    # report also lists the skipped checks, so unused skips show up.
    result = run_tool([str(CHECKOV), "-f", str(TEMPLATE_PATH), "--framework", "cloudformation",
                       "--compact", "-o", "json", "--skip-download"])
    assert result.stdout.strip(), f"checkov printed no report:\n{result.stderr}"
    report = json.loads(result.stdout)
    return report if isinstance(report, dict) else report[0]


def test_checkov_reports_no_failed_check(checkov_report):
    failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in checkov_report["results"]["failed_checks"]]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    assert checkov_report["summary"]["passed"] > 0
    assert checkov_report["summary"]["parsing_errors"] == 0


def test_checkov_skips_carry_a_reason(checkov_report):
    skips = [(name, skip) for name, res in load_template()["Resources"].items()
             for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips, "expected the justified skips in resource Metadata"
    for name, skip in skips:
        assert skip.get("id", "").startswith(("CKV_", "CKV2_")), f"{name}: malformed skip {skip}"
        assert len(skip.get("comment", "").strip()) >= 20, f"{name}: skip {skip.get('id')} needs a real reason"
    applied = {(c["resource"].split(".")[-1], c["check_id"]) for c in checkov_report["results"]["skipped_checks"]}
    unused = {(name, skip["id"]) for name, skip in skips} - applied
    assert not unused, f"skips that match no finding (remove them): {sorted(unused)}"


# ---------------------------------------------------------------- state machine wiring


@pytest.mark.parametrize("machine", MACHINES)
def test_definition_is_inline_with_substitutions(machine):
    props = state_machines()[machine]["Properties"]
    assert "DefinitionString" not in props and isinstance(props["Definition"], dict)
    used = substitutions_used(props["Definition"])
    provided = set(props.get("DefinitionSubstitutions", {}))
    assert used - provided == set(), f"{machine}: no substitution for {sorted(used - provided)}"
    assert provided - used == set(), f"{machine}: unused substitutions {sorted(provided - used)}"
    assert props["RoleArn"] == {"Fn::GetAtt": ["StepFunctionsRole", "Arn"]}


@pytest.mark.parametrize("machine", MACHINES)
def test_every_next_names_an_existing_state(machine):
    asl = definition(machine)
    names = set(all_states(machine))
    assert asl["StartAt"] in names
    for name, state in all_states(machine).items():
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
        for target in filter(None, targets):
            assert target in names, f"{machine}.{name} -> missing state {target}"


@pytest.mark.parametrize(("machine", "task"), TASK_STATES)
def test_every_task_retries_transient_errors_and_catches_all(machine, task):
    state = all_states(machine)[task]
    assert state.get("Retry"), f"{machine}.{task} has no Retry"
    for rule in state["Retry"]:
        assert "States.ALL" not in rule["ErrorEquals"], f"{machine}.{task} retries States.ALL"
        assert rule["IntervalSeconds"] >= 1 and rule["MaxAttempts"] >= 1 and rule["BackoffRate"] >= 1
    catch_all = [c for c in state.get("Catch", []) if c["ErrorEquals"] == ["States.ALL"]]
    assert catch_all, f"{machine}.{task} has no Catch on States.ALL"
    target = all_states(machine)[catch_all[0]["Next"]]
    assert target["Type"] == "Fail" and target.get("Error") and ("Cause" in target or "CausePath" in target)


def test_run_glue_crawler_machine():
    asl = definition("RunGlueCrawlerStateMachine")
    states = asl["States"]
    start = states["StartCrawler"]
    assert start["Resource"] == "arn:aws:states:::aws-sdk:glue:startCrawler"
    assert start["Parameters"] == {"Name.$": "$.Name"}
    running = [c for c in start["Catch"] if c["ErrorEquals"] == ["Glue.CrawlerRunningException"]]
    assert running and states[running[0]["Next"]]["Type"] == "Wait"
    assert states["GetCrawler"]["Resource"] == "arn:aws:states:::aws-sdk:glue:getCrawler"
    assert states["GetCrawler"]["ResultPath"] == "$.GetCrawler"
    choice = json.dumps(states["CrawlerState"])
    for value in ("RUNNING", "STOPPING", "FAILED", "CANCELLED"):
        assert f'"{value}"' in choice
    assert states["CrawlFailed"]["Type"] == "Fail" and states["CrawlFailed"]["Error"] == "CrawlFailed"
    assert "${PollSeconds}" in json.dumps(asl)


def test_redshift_query_machine():
    asl = definition("RedshiftQueryStateMachine")
    states = asl["States"]
    router = next(s for s in states.values() if s["Type"] == "Choice" and "$.sqls" in json.dumps(s))
    assert router["Choices"][0]["IsPresent"] is True
    batch = states[router["Choices"][0]["Next"]]
    single = states[router["Default"]]
    assert batch["Resource"].endswith("redshiftdata:batchExecuteStatement")
    assert batch["Parameters"]["Sqls.$"] == "$.sqls"
    assert single["Resource"].endswith("redshiftdata:executeStatement")
    assert single["Parameters"]["Sql.$"] == "$.sql"
    for task in (batch, single):
        assert {task["Parameters"][k] for k in ("ClusterIdentifier", "Database", "SecretArn")} == {
            "${ClusterIdentifier}", "${Database}", "${SecretArn}"}
    describe = states["DescribeStatement"]
    assert describe["Resource"] == "arn:aws:states:::aws-sdk:redshiftdata:describeStatement"
    status = {c["StringEquals"]: states[c["Next"]] for c in states["StatementStatus"]["Choices"]}
    assert status["FAILED"]["Type"] == status["ABORTED"]["Type"] == "Fail"
    assert status["FAILED"]["Error"] == status["ABORTED"]["Error"] == "RedshiftStatementFailed"
    assert status["FAILED"]["CausePath"] == describe["ResultPath"] + ".Error"
    # The sensor reads `Id` from the execution output: the finish state must output the DescribeStatement result,
    # with the rows under Result only when the input asks for them ({"result": true}).
    wanted = status["FINISHED"]
    assert wanted["Type"] == "Choice" and "$.result" in json.dumps(wanted["Choices"])
    finished = states[wanted["Default"]]
    assert finished.get("End") or finished["Type"] == "Succeed"
    assert finished.get("OutputPath") == describe["ResultPath"]
    result = states[wanted["Choices"][0]["Next"]]
    assert result["Resource"] == "arn:aws:states:::aws-sdk:redshiftdata:getStatementResult"
    assert result["ResultPath"] == describe["ResultPath"] + ".Result" and result["Next"] == wanted["Default"]
    subs = state_machines()["RedshiftQueryStateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert subs["ClusterIdentifier"] == {"Ref": "RedshiftCluster"}


def test_data_pipeline_machine_order_and_inputs():
    asl = definition("DataPipelineStateMachine")
    states = asl["States"]
    order, name = [], asl["StartAt"]
    while states[name]["Type"] in ("Task", "Choice"):
        if states[name]["Type"] == "Choice":  # the load check: on, or the day fails unpublished
            assert states[name]["Default"] == "DayNotLoaded" and states["DayNotLoaded"]["Type"] == "Fail"
            name = states[name]["Choices"][0]["Next"]
            continue
        order.append(name)
        name = states[name]["Next"]
    assert states[name]["Type"] == "Succeed"
    assert order == ["LoadRawSales", "CrawlRaw", "TransformSales", "CrawlProcessed", "RedshiftDDL",
                     "RedshiftLoadDay", "CheckDayLoaded", "RedshiftViews", "RedshiftUnload", "CrawlAggregated"]
    assert states["CheckDayLoaded"]["Parameters"]["Input"]["sql.$"] == "$.sql.gate"
    assert states["CheckDayLoaded"]["Parameters"]["Input"]["result"] is True
    assert states["LoadRawSales"]["Resource"] == "arn:aws:states:::lambda:invoke"
    assert states["LoadRawSales"]["Parameters"]["Payload"] == {"date.$": "$.date", "rows.$": "$.rows"}
    assert states["TransformSales"]["Resource"] == "arn:aws:states:::glue:startJobRun.sync"
    assert states["TransformSales"]["Parameters"]["Arguments"] == {"--run_date.$": "$.date"}
    for step, crawler in (("CrawlRaw", "Raw"), ("CrawlProcessed", "Processed"), ("CrawlAggregated", "Aggregated")):
        params = states[step]["Parameters"]
        assert params["StateMachineArn"] == "${RunGlueCrawlerArn}"
        assert params["Input"]["Name"] == "${%sCrawlerName}" % crawler
    for step, key in (("RedshiftDDL", "ddl"), ("RedshiftLoadDay", "load"), ("RedshiftViews", "views"),
                      ("RedshiftUnload", "unload")):
        params = states[step]["Parameters"]
        assert params["StateMachineArn"] == "${RedshiftQueryArn}"
        assert params["Input"]["sqls.$"] == f"$.sql.{key}"
    for step in order:
        assert states[step]["Resource"].endswith(("startExecution.sync:2", "lambda:invoke", "startJobRun.sync"))
        if "startExecution" in states[step]["Resource"]:
            assert states[step]["Parameters"]["Input"]["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] == \
                "$$.Execution.Id"
        # $.date and $.sql must survive every step.
        assert states[step]["ResultPath"] is None or states[step]["ResultPath"].startswith("$.results.")
        assert states[f"{step}Failed"]["Error"] == f"{step}Failed"


# ---------------------------------------------------------------- security properties


def test_no_iam_statement_allows_everything():
    for name, statement in iter_policy_statements():
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement.get("Action", []))
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), f"{name}: wildcard action {actions}"
        if "*" in as_list(statement["Resource"]):
            # A "*" resource is only acceptable for actions IAM cannot scope, and each such statement says why.
            assert statement.get("Sid"), f"{name}: unexplained '*' resource for {actions}"


def test_step_functions_role_reaches_only_the_project_resources():
    statements = {s["Sid"]: s for name, s in iter_policy_statements() if name == "StepFunctionsRole"}
    assert len(as_list(statements["Crawlers"]["Resource"])) == 3
    assert "crawler/${ProjectName}-" in json.dumps(statements["Crawlers"]["Resource"])
    assert "job/${ProjectName}-sales-processing" in json.dumps(statements["GlueJob"]["Resource"])
    assert statements["RedshiftSecret"]["Resource"] == {"Ref": "RedshiftSecret"}
    assert "StepFunctionsGetEventsForStepFunctionsExecutionRule" in json.dumps(statements["SyncIntegrationRule"])
    polling = statements["RedshiftDataOwnStatements"]
    assert polling["Resource"] == "*" and "statement-owner-iam-userid" in json.dumps(polling["Condition"])


# What the machine's role needs for each optimised integration (Step Functions docs, "IAM policies for
# integrated services"); an aws-sdk integration needs exactly the API it calls.
INTEGRATION_ACTIONS = {
    "arn:aws:states:::lambda:invoke": {"lambda:InvokeFunction"},
    "arn:aws:states:::glue:startJobRun.sync": {
        "glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"},
    "arn:aws:states:::states:startExecution.sync:2": {
        "states:StartExecution", "states:DescribeExecution", "states:StopExecution",
        "events:PutTargets", "events:PutRule", "events:DescribeRule"},
}
SDK_IAM_PREFIX = {"glue": "glue", "redshiftdata": "redshift-data"}


def actions_needed_by(task: dict) -> set[str]:
    resource = task["Resource"]
    if resource in INTEGRATION_ACTIONS:
        return INTEGRATION_ACTIONS[resource]
    match = re.fullmatch(r"arn:aws:states:::aws-sdk:(\w+):(\w+)", resource)
    assert match and match.group(1) in SDK_IAM_PREFIX, f"no IAM mapping for {resource}: extend INTEGRATION_ACTIONS"
    service, api = match.groups()
    needed = {f"{SDK_IAM_PREFIX[service]}:{api[0].upper()}{api[1:]}"}
    if "SecretArn" in task.get("Parameters", {}):
        needed.add("secretsmanager:GetSecretValue")
    return needed


def test_step_functions_role_allows_every_call_the_machines_make():
    allowed = {action for name, statement in iter_policy_statements()
               if name == "StepFunctionsRole" and statement["Effect"] == "Allow"
               for action in as_list(statement["Action"])}
    for machine, task in TASK_STATES:
        missing = actions_needed_by(all_states(machine)[task]) - allowed
        assert not missing, f"{machine}.{task} calls {sorted(missing)}, which StepFunctionsRole does not allow"


def test_step_functions_role_arns_name_the_stack_resources():
    """The role builds ARNs from names with Sub (no dependency cycle); they must match the resources' names."""
    role = json.dumps(load_template()["Resources"]["StepFunctionsRole"]["Properties"]["Policies"])
    for crawler in resources_of_type("AWS::Glue::Crawler").values():
        assert f"crawler/{crawler['Properties']['Name']['Fn::Sub']}\"" in role, crawler["Properties"]["Name"]
    for job in resources_of_type("AWS::Glue::Job").values():
        assert f"job/{job['Properties']['Name']['Fn::Sub']}\"" in role, job["Properties"]["Name"]
    (cluster,) = resources_of_type("AWS::Redshift::Cluster").values()
    assert f"cluster:{cluster['Properties']['ClusterIdentifier']['Fn::Sub']}\"" in role
    machines = state_machines()
    for child in ("RunGlueCrawlerStateMachine", "RedshiftQueryStateMachine"):
        name = machines[child]["Properties"]["StateMachineName"]["Fn::Sub"]
        assert f"stateMachine:{name}\"" in role and f"execution:{name}:*\"" in role, child
    # The parent machine starts no execution of itself.
    assert machines["DataPipelineStateMachine"]["Properties"]["StateMachineName"]["Fn::Sub"] + "\"" not in role


def test_security_groups_have_no_ingress_from_anywhere():
    groups = resources_of_type("AWS::EC2::SecurityGroup")
    assert groups
    ingress_rules = [rule for g in groups.values() for rule in g["Properties"].get("SecurityGroupIngress", [])]
    ingress_rules += [r["Properties"] for r in resources_of_type("AWS::EC2::SecurityGroupIngress").values()]
    for rule in ingress_rules:
        assert rule.get("CidrIp") not in ("0.0.0.0/0",) and rule.get("CidrIpv6") not in ("::/0",), rule
        assert (rule["FromPort"], rule["ToPort"]) == (5439, 5439)


def test_redshift_cluster_is_private_encrypted_and_uses_the_secret():
    (cluster,) = resources_of_type("AWS::Redshift::Cluster").values()
    props = cluster["Properties"]
    assert props["Encrypted"] is True and props["PubliclyAccessible"] is False
    assert props["ClusterIdentifier"] == {"Fn::Sub": "${ProjectName}-warehouse"}
    assert "{{resolve:secretsmanager:" in props["MasterUserPassword"]["Fn::Sub"]
    (params,) = resources_of_type("AWS::Redshift::ClusterParameterGroup").values()
    assert {"ParameterName": "require_ssl", "ParameterValue": "true"} in params["Properties"]["Parameters"]
    (attachment,) = resources_of_type("AWS::SecretsManager::SecretTargetAttachment").values()
    assert attachment["Properties"]["TargetType"] == "AWS::Redshift::Cluster"


def test_buckets_block_public_access_encrypt_and_require_tls():
    buckets = resources_of_type("AWS::S3::Bucket")
    assert set(buckets) == {"DataLakeBucket", "AthenaResultsBucket"}
    policies = {p["Properties"]["Bucket"]["Ref"]: p for p in resources_of_type("AWS::S3::BucketPolicy").values()}
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        block = props["PublicAccessBlockConfiguration"]
        assert len(block) == 4 and all(block.values()), name
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        denies = [s for s in policies[name]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies), name
    assert buckets["DataLakeBucket"]["Properties"]["VersioningConfiguration"]["Status"] == "Enabled"


def test_glue_job_matches_the_contract():
    (job,) = resources_of_type("AWS::Glue::Job").values()
    props = job["Properties"]
    # One run per day in flight: as many as the daily DAG's max_active_runs, so backfills never collide.
    assert props["ExecutionProperty"]["MaxConcurrentRuns"] == 3
    assert props["Command"] == {"Name": "glueetl", "PythonVersion": "3",
                                "ScriptLocation": {"Fn::Sub": "s3://${ArtifactBucket}/${GlueScriptKey}"}}
    args = props["DefaultArguments"]
    assert "--run_date" not in args and args["--job-bookmark-option"] == "job-bookmark-disable"
    for key, prefix in (("--raw_path", "raw/sales/"), ("--processed_path", "processed/sales/"),
                        ("--rejected_path", "rejected/sales/"), ("--manifest_path", "manifests/sales/")):
        assert args[key] == {"Fn::Sub": f"s3://${{DataLakeBucket}}/{prefix}"}


def test_crawlers_match_the_contract():
    crawlers = {c["Properties"]["TablePrefix"]: c["Properties"]
                for c in resources_of_type("AWS::Glue::Crawler").values()}
    expected = {"raw_": "raw/sales/", "processed_": "processed/sales/",
                "aggregated_": "aggregated/daily_sales_revenue/"}
    assert set(crawlers) == set(expected)
    for prefix, path in expected.items():
        props = crawlers[prefix]
        assert props["Targets"]["S3Targets"] == [{"Path": {"Fn::Sub": f"s3://${{DataLakeBucket}}/{path}"}}]
        assert props["SchemaChangePolicy"] == {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"}


def test_lake_formation_replaces_the_console_steps():
    (settings,) = resources_of_type("AWS::LakeFormation::DataLakeSettings").values()
    assert settings["Properties"]["CreateDatabaseDefaultPermissions"] == []
    assert settings["Properties"]["CreateTableDefaultPermissions"] == []
    grants = {(json.dumps(g["Properties"]["Principal"]), tuple(sorted(g["Properties"]["Permissions"])))
              for g in resources_of_type("AWS::LakeFormation::PrincipalPermissions").values()}
    glue = '{"DataLakePrincipalIdentifier": {"Fn::GetAtt": ["%s", "Arn"]}}'
    assert (glue % "GlueRole", ("ALTER", "CREATE_TABLE", "DESCRIBE", "DROP")) in grants
    assert (glue % "GlueRole", ("DATA_LOCATION_ACCESS",)) in grants
    assert (glue % "RedshiftRole", ("DESCRIBE", "SELECT")) in grants
    assert ('{"DataLakePrincipalIdentifier": {"Ref": "AnalystPrincipalArn"}}', ("DESCRIBE", "SELECT")) in grants
    (tag,) = resources_of_type("AWS::LakeFormation::Tag").values()
    assert tag["Properties"]["TagKey"] == {"Ref": "ClassificationTagKey"}
    assert load_template()["Parameters"]["ClassificationTagKey"]["Default"] == "Classification"
    assert resources_of_type("AWS::LakeFormation::TagAssociation")
    assert resources_of_type("AWS::LakeFormation::Resource")


def test_athena_workgroup_enforces_its_result_location():
    (workgroup,) = resources_of_type("AWS::Athena::WorkGroup").values()
    config = workgroup["Properties"]["WorkGroupConfiguration"]
    assert workgroup["Properties"]["Name"] == {"Fn::Sub": "${ProjectName}-analytics"}
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["ResultConfiguration"]["OutputLocation"] == {"Fn::Sub": "s3://${AthenaResultsBucket}/results/"}


# ---------------------------------------------------------------- the contract


def test_every_contract_output_exists():
    expected = [name for name in backticked_names("Stack outputs") if re.fullmatch(r"[A-Z][A-Za-z]+", name)]
    assert len(expected) >= 17, "could not read the output list from docs/architecture.md"
    missing = set(expected) - set(load_template()["Outputs"])
    assert not missing, f"outputs missing from the template: {sorted(missing)}"


# Each output the DAGs read, and what it must evaluate to: (Ref or the GetAtt attribute, resource type or
# parameter). A wrong target (crawlers swapped, a role's name for its ARN) would deploy fine and break a run.
OUTPUT_TARGETS = {
    "DataLakeBucket": ("Ref", "AWS::S3::Bucket"),
    "AthenaResultsBucket": ("Ref", "AWS::S3::Bucket"),
    "GlueDatabaseName": ("Ref", "AWS::Glue::Database"),
    "RawCrawlerName": ("Ref", "AWS::Glue::Crawler"),
    "ProcessedCrawlerName": ("Ref", "AWS::Glue::Crawler"),
    "AggregatedCrawlerName": ("Ref", "AWS::Glue::Crawler"),
    "GlueJobName": ("Ref", "AWS::Glue::Job"),
    "LoaderFunctionName": ("Ref", "AWS::Lambda::Function"),
    "LoaderFunctionArn": ("Arn", "AWS::Lambda::Function"),
    "RedshiftClusterId": ("Ref", "AWS::Redshift::Cluster"),
    "RedshiftDatabaseName": ("Ref", "parameter"),
    "RedshiftSecretArn": ("Ref", "AWS::SecretsManager::Secret"),
    "RedshiftRoleArn": ("Arn", "AWS::IAM::Role"),
    "RunGlueCrawlerStateMachineArn": ("Ref", "AWS::StepFunctions::StateMachine"),
    "RedshiftQueryStateMachineArn": ("Ref", "AWS::StepFunctions::StateMachine"),
    "DataPipelineStateMachineArn": ("Ref", "AWS::StepFunctions::StateMachine"),
    "AthenaWorkGroup": ("Ref", "AWS::Athena::WorkGroup"),
    "AlertTopicArn": ("Ref", "AWS::SNS::Topic"),
}


@pytest.mark.parametrize("output", sorted(OUTPUT_TARGETS))
def test_output_points_at_the_right_resource(output):
    template = load_template()
    value = template["Outputs"][output]["Value"]
    kind, expected_type = OUTPUT_TARGETS[output]
    if kind == "Ref":
        assert set(value) == {"Ref"}, f"{output} should be a Ref, is {value}"
        target = value["Ref"]
    else:
        assert set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][1] == kind, f"{output}: {value}"
        target = value["Fn::GetAtt"][0]
    if expected_type == "parameter":
        assert target in template["Parameters"], output
    else:
        assert template["Resources"][target]["Type"] == expected_type, output
    resources = template["Resources"]
    # Outputs that must name one particular resource of their type.
    particular = {
        "DataLakeBucket": lambda r: r["Properties"]["BucketName"]["Fn::Sub"].endswith("-datalake"),
        "AthenaResultsBucket": lambda r: r["Properties"]["BucketName"]["Fn::Sub"].endswith("-athena"),
        "RawCrawlerName": lambda r: r["Properties"]["TablePrefix"] == "raw_",
        "ProcessedCrawlerName": lambda r: r["Properties"]["TablePrefix"] == "processed_",
        "AggregatedCrawlerName": lambda r: r["Properties"]["TablePrefix"] == "aggregated_",
        "RunGlueCrawlerStateMachineArn": lambda r: r["Properties"]["StateMachineName"]["Fn::Sub"].endswith(
            "-RunGlueCrawler"),
        "RedshiftQueryStateMachineArn": lambda r: r["Properties"]["StateMachineName"]["Fn::Sub"].endswith(
            "-RedshiftQuery"),
        "DataPipelineStateMachineArn": lambda r: r["Properties"]["StateMachineName"]["Fn::Sub"].endswith(
            "-DataPipeline"),
        "RedshiftRoleArn": lambda r: {"Fn::GetAtt": [target, "Arn"]} in next(
            iter(resources_of_type("AWS::Redshift::Cluster").values()))["Properties"]["IamRoles"],
        "RedshiftDatabaseName": lambda _: next(iter(resources_of_type("AWS::Redshift::Cluster").values()))[
            "Properties"]["DBName"] == {"Ref": target},
    }
    if output in particular:
        assert particular[output](template["Parameters"].get(target) or resources[target]), \
            f"{output} points at {target}, not the resource the contract means"


def test_contract_parameters_and_defaults():
    params = load_template()["Parameters"]
    defaults = {"ProjectName": "salespipe", "GlueScriptKey": "artifacts/glue/sales_job.py",
                "LoaderCodeKey": "artifacts/lambda/loader.zip", "GlueDatabaseName": "sales", "GlueWorkerType": "G.1X",
                "GlueNumberOfWorkers": 2, "GlueJobTimeoutMinutes": 30, "LoaderRowsPerDay": 10000,
                "RedshiftNodeType": "ra3.large", "RedshiftDatabaseName": "dev", "RedshiftMasterUsername": "admin",
                "PollSeconds": 10}
    for name, default in defaults.items():
        assert params[name]["Default"] == default, name
    for name in ("ArtifactBucket", "AnalystPrincipalArn", "LakeFormationAdminArn", "VpcCidr", "SubnetACidr",
                 "SubnetBCidr"):
        assert name in params
    documented = set(backticked_names("Stack parameters"))
    assert set(params) <= documented, f"parameters missing from docs/architecture.md: {set(params) - documented}"


def test_resource_names_follow_the_contract():
    names = {
        "AWS::S3::Bucket": {"${ProjectName}-${AWS::AccountId}-${AWS::Region}-datalake",
                            "${ProjectName}-${AWS::AccountId}-${AWS::Region}-athena"},
        "AWS::Glue::Crawler": {f"${{ProjectName}}-{s}-sales-crawler" for s in ("raw", "processed", "aggregated")},
        "AWS::Glue::Job": {"${ProjectName}-sales-processing"},
        "AWS::Lambda::Function": {"${ProjectName}-loader"},
        "AWS::StepFunctions::StateMachine": {f"${{ProjectName}}-{m}"
                                             for m in ("RunGlueCrawler", "RedshiftQuery", "DataPipeline")},
    }
    name_key = {"AWS::S3::Bucket": "BucketName", "AWS::StepFunctions::StateMachine": "StateMachineName"}
    for resource_type, expected in names.items():
        found = {r["Properties"][name_key.get(resource_type, "Name" if "Glue" in resource_type else "FunctionName")]
                 ["Fn::Sub"] for r in resources_of_type(resource_type).values()}
        assert found == expected, resource_type



# ---------------------------------------------------------------- ASL against the AWS API models (botocore)
# cfn-lint and statelint accept any parameter name; a typo ("SecretARN") or a Choice on a field the API does not
# return would only fail in AWS. botocore's service models are the APIs' own definitions.

# Optimised integrations: (botocore service, operation); their parameters are the API's, in PascalCase.
OPTIMISED_OPERATIONS = {
    "arn:aws:states:::lambda:invoke": ("lambda", "Invoke"),
    "arn:aws:states:::glue:startJobRun.sync": ("glue", "StartJobRun"),
    "arn:aws:states:::states:startExecution.sync:2": ("stepfunctions", "StartExecution"),
}
SDK_SERVICE = {"glue": "glue", "redshiftdata": "redshift-data"}


def operation_model(resource: str):
    if resource in OPTIMISED_OPERATIONS:
        service, operation = OPTIMISED_OPERATIONS[resource]
    else:
        match = re.fullmatch(r"arn:aws:states:::aws-sdk:(\w+):(\w+)", resource)
        assert match, f"no API model for {resource}"
        service, api = SDK_SERVICE[match.group(1)], match.group(2)
        operation = api[0].upper() + api[1:]
    return botocore.session.get_session().get_service_model(service).operation_model(operation)


@pytest.mark.parametrize(("machine", "task"), TASK_STATES)
def test_task_parameters_are_the_api_parameters(machine, task):
    state = all_states(machine)[task]
    shape = operation_model(state["Resource"]).input_shape
    # Step Functions spells every parameter in PascalCase, also for APIs whose model is camelCase (states).
    members = {name[0].upper() + name[1:] for name in shape.members}
    given = {key.removesuffix(".$") for key in state.get("Parameters", {})}
    unknown = given - members
    assert not unknown, f"{machine}.{task}: {sorted(unknown)} are not parameters of {shape.name}"
    missing = {name for name in shape.required_members if name[0].upper() + name[1:] not in given}
    assert not missing, f"{machine}.{task}: required {sorted(missing)} missing"


def output_member(shape, path: list[str]):
    for key in path:
        assert shape.type_name == "structure" and key in shape.members, f"{shape.name} has no member {key!r}"
        shape = shape.members[key]
    return shape


def choice_variables(rule: dict):
    for nested in rule.get("And", []) + rule.get("Or", []) + ([rule["Not"]] if "Not" in rule else []):
        yield from choice_variables(nested)
    if "Variable" in rule:
        yield rule["Variable"]


@pytest.mark.parametrize("machine", ["RunGlueCrawlerStateMachine", "RedshiftQueryStateMachine"])
def test_choices_read_fields_the_api_returns(machine):
    """Every Choice variable under an aws-sdk task's ResultPath names a field of that API's response."""
    states = all_states(machine)
    outputs = {}
    for state in states.values():
        if state["Type"] == "Task" and "aws-sdk" in state["Resource"] and "ResultSelector" not in state:
            outputs.setdefault(state["ResultPath"], set()).add(state["Resource"])
    checked = 0
    for state in states.values():
        for rule in state.get("Choices", []):
            for variable in choice_variables(rule):
                for result_path, resources in outputs.items():
                    if variable.startswith(result_path + "."):
                        for resource in resources:
                            output_member(operation_model(resource).output_shape,
                                          variable[len(result_path) + 1:].split("."))
                            checked += 1
    assert checked, f"{machine}: no Choice reads an API response; the test checked nothing"


# ---------------------------------------------------------------- ASL paths, walked with scripted task results

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
START_CHILD = "arn:aws:states:::states:startExecution.sync:2"
GLUE_JOB = "arn:aws:states:::glue:startJobRun.sync"
START_CRAWLER = "arn:aws:states:::aws-sdk:glue:startCrawler"
GET_CRAWLER = "arn:aws:states:::aws-sdk:glue:getCrawler"
EXECUTE = "arn:aws:states:::aws-sdk:redshiftdata:executeStatement"
BATCH_EXECUTE = "arn:aws:states:::aws-sdk:redshiftdata:batchExecuteStatement"
DESCRIBE = "arn:aws:states:::aws-sdk:redshiftdata:describeStatement"
GET_RESULT = "arn:aws:states:::aws-sdk:redshiftdata:getStatementResult"


def rendered(machine: str) -> dict:
    props = state_machines()[machine]["Properties"]
    return rendered_definition(props["Definition"], props["DefinitionSubstitutions"])


def scripted(results: dict[str, list]):
    """respond() for walk(): each resource returns (or raises) its scripted results in order."""
    queues = {resource: list(items) for resource, items in results.items()}

    def respond(resource, parameters):
        assert queues.get(resource), f"unexpected or extra call to {resource} with {parameters}"
        result = queues[resource].pop(0)
        if isinstance(result, TaskError):
            raise result
        return result
    return respond


def crawler(state: str, last_status: str | None = None, message: str | None = None) -> dict:
    body = {"Name": "salespipe-raw-sales-crawler", "State": state}
    if last_status:
        body["LastCrawl"] = {"Status": last_status, **({"ErrorMessage": message} if message else {})}
    return {"Crawler": body}


def test_crawler_machine_polls_until_the_crawl_ends():
    run = walk(rendered("RunGlueCrawlerStateMachine"), {"Name": "salespipe-raw-sales-crawler"}, scripted({
        START_CRAWLER: [{}],
        GET_CRAWLER: [crawler("RUNNING"), crawler("STOPPING"), crawler("READY", "SUCCEEDED")]}))
    assert run["status"] == "SUCCEEDED", run
    assert [call[1] for call in run["calls"]] == [{"Name": "salespipe-raw-sales-crawler"}] * 4
    assert run["output"]["GetCrawler"]["Crawler"]["LastCrawl"]["Status"] == "SUCCEEDED"
    assert run["output"]["Name"] == "salespipe-raw-sales-crawler"


def test_crawler_machine_waits_for_a_crawl_already_running():
    run = walk(rendered("RunGlueCrawlerStateMachine"), {"Name": "c"}, scripted({
        START_CRAWLER: [TaskError("Glue.CrawlerRunningException", "Crawler with name c has already started")],
        GET_CRAWLER: [crawler("RUNNING"), crawler("READY", "SUCCEEDED")]}))
    assert run["status"] == "SUCCEEDED", run


def test_crawler_machine_succeeds_on_a_first_crawl_without_history():
    run = walk(rendered("RunGlueCrawlerStateMachine"), {"Name": "c"}, scripted({
        START_CRAWLER: [{}], GET_CRAWLER: [crawler("READY")]}))
    assert run["status"] == "SUCCEEDED", run


@pytest.mark.parametrize("last_status", ["FAILED", "CANCELLED"])
def test_crawler_machine_fails_with_the_crawl_error(last_status):
    run = walk(rendered("RunGlueCrawlerStateMachine"), {"Name": "c"}, scripted({
        START_CRAWLER: [{}], GET_CRAWLER: [crawler("READY", last_status, "Insufficient Lake Formation permission")]}))
    assert run["status"] == "FAILED" and run["error"] == "CrawlFailed"
    assert last_status in run["cause"]
    if last_status == "FAILED":
        assert "Insufficient Lake Formation permission" in run["cause"]


def test_crawler_machine_reports_a_failed_call():
    run = walk(rendered("RunGlueCrawlerStateMachine"), {"Name": "c"}, scripted({
        START_CRAWLER: [TaskError("Glue.EntityNotFoundException", "Crawler entry with name c does not exist")]}))
    assert run["status"] == "FAILED" and run["error"] != "CrawlFailed"
    assert "EntityNotFoundException" in run["cause"] and "does not exist" in run["cause"]


def statement(status: str, **extra) -> dict:
    return {"Id": "stmt-1", "Status": status, "ClusterIdentifier": "salespipe-RedshiftCluster", **extra}


@pytest.mark.parametrize(("payload", "resource", "sql_key"), [
    ({"sqls": ["begin", "copy ..."]}, BATCH_EXECUTE, "Sqls"),
    ({"sql": "select 1"}, EXECUTE, "Sql")])
def test_redshift_machine_outputs_the_final_statement_description(payload, resource, sql_key):
    run = walk(rendered("RedshiftQueryStateMachine"), payload, scripted({
        resource: [{"Id": "stmt-1"}],
        DESCRIBE: [statement("SUBMITTED"), statement("STARTED"), statement("FINISHED", HasResultSet=False)]}))
    assert run["status"] == "SUCCEEDED", run
    start = run["calls"][0][1]
    assert start[sql_key] == next(iter(payload.values()))
    assert start["ClusterIdentifier"] == "salespipe-RedshiftCluster" and start["Database"] == "dev"
    assert start["SecretArn"].startswith("arn:aws:secretsmanager:")
    assert [call[1] for call in run["calls"][1:]] == [{"Id": "stmt-1"}] * 3
    # The DAG's sensor reads Id (and Status) from the execution output.
    assert run["output"] == statement("FINISHED", HasResultSet=False)


@pytest.mark.parametrize("status", ["FAILED", "ABORTED"])
def test_redshift_machine_fails_with_the_statement_error(status):
    error = 'ERROR: relation "public.sales" does not exist'
    run = walk(rendered("RedshiftQueryStateMachine"), {"sql": "select 1"}, scripted({
        EXECUTE: [{"Id": "stmt-1"}],
        DESCRIBE: [statement(status, **({"Error": error} if status == "FAILED" else {}))]}))
    assert run["status"] == "FAILED" and run["error"] == "RedshiftStatementFailed"
    assert (error if status == "FAILED" else "stmt-1") in run["cause"]


PIPELINE_INPUT = {"date": "2021-12-01", "rows": 500,
                  "sql": {"ddl": ["create table ..."], "load": ["delete ...", "copy ..."], "views": ["create view ..."],
                          "unload": ["unload ..."], "gate": "select (...) as loaded, (...) as landed"}}


def gate_child(loaded: int, landed: int) -> dict:
    """The load check's RedshiftQuery execution: its output is the statement's description with its one row."""
    rows = {"Records": [[{"LongValue": loaded}, {"LongValue": landed}]], "TotalNumRows": 1}
    return {"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:child:gate", "Status": "SUCCEEDED",
            "Output": {**statement("FINISHED", HasResultSet=True), "Result": rows}}


def pipeline_results(**overrides) -> dict[str, list]:
    child = {"ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:child:x", "Status": "SUCCEEDED",
             "Output": "{}"}
    results = {
        LAMBDA_INVOKE: [{"StatusCode": 200, "Payload": {"date": "2021-12-01", "bucket": "lake",
                                                        "keys": ["raw/sales/dt=2021-12-01/sales.csv"], "rows": 500}}],
        # Raw and processed crawls, DDL, load, the load check, views, UNLOAD, aggregate crawl.
        START_CHILD: [child] * 4 + [gate_child(500, 500)] + [child] * 3,
        GLUE_JOB: [{"Id": "jr_1", "JobRunState": "SUCCEEDED"}],
    }
    results.update(overrides)
    return results


def test_pipeline_runs_every_stage_in_order_with_the_input_intact():
    run = walk(rendered("DataPipelineStateMachine"), PIPELINE_INPUT, scripted(pipeline_results()))
    assert run["status"] == "SUCCEEDED", run
    calls = run["calls"]
    assert calls[0][0] == LAMBDA_INVOKE
    assert calls[0][1]["Payload"] == {"date": "2021-12-01", "rows": 500}
    assert calls[0][1]["FunctionName"].endswith(":function:salespipe-LoaderFunction")
    assert calls[2] == (GLUE_JOB, {"JobName": "salespipe-SalesProcessingJob",
                                   "Arguments": {"--run_date": "2021-12-01"}})
    children = [(c[1]["StateMachineArn"].rsplit(":", 1)[1], {k: v for k, v in c[1]["Input"].items()
                                                             if not k.startswith("AWS_STEP_FUNCTIONS")})
                for c in calls if c[0] == START_CHILD]
    crawl, query = "salespipe-RunGlueCrawlerStateMachine", "salespipe-RedshiftQueryStateMachine"
    assert children == [
        (crawl, {"Name": "salespipe-RawCrawler"}), (crawl, {"Name": "salespipe-ProcessedCrawler"}),
        (query, {"sqls": PIPELINE_INPUT["sql"]["ddl"]}), (query, {"sqls": PIPELINE_INPUT["sql"]["load"]}),
        (query, {"sql": PIPELINE_INPUT["sql"]["gate"], "result": True}),
        (query, {"sqls": PIPELINE_INPUT["sql"]["views"]}), (query, {"sqls": PIPELINE_INPUT["sql"]["unload"]}),
        (crawl, {"Name": "salespipe-AggregatedCrawler"})]
    for key, value in PIPELINE_INPUT.items():
        assert run["output"][key] == value


def test_pipeline_stops_at_the_failing_stage_with_its_error():
    failure = TaskError("Glue.AWSGlueException", "Job run jr_1 failed: ValueError: bad run_date")
    run = walk(rendered("DataPipelineStateMachine"), PIPELINE_INPUT,
               scripted(pipeline_results(**{GLUE_JOB: [failure]})))
    assert run["status"] == "FAILED" and run["error"] == "TransformSalesFailed"
    assert "Glue.AWSGlueException" in run["cause"] and "bad run_date" in run["cause"]
    assert [c[0] for c in run["calls"]] == [LAMBDA_INVOKE, START_CHILD, GLUE_JOB]


def test_pipeline_publishes_nothing_of_a_day_the_warehouse_holds_differently():
    """Redshift holds 499 rows of the day, the lake's processed partition 500: the execution fails at the gate with
    both counts, before the views, the UNLOAD and the aggregate crawl (the daily DAG's check_day_loaded)."""
    results = pipeline_results(**{START_CHILD: [pipeline_results()[START_CHILD][0]] * 4 + [gate_child(499, 500)]})
    run = walk(rendered("DataPipelineStateMachine"), PIPELINE_INPUT, scripted(results))
    assert run["status"] == "FAILED" and run["error"] == "DayNotLoaded", run
    assert "2021-12-01: Redshift holds 499 rows for the day but the Glue job landed 500" in run["cause"]
    assert run["trace"][-3:] == ["CheckDayLoaded", "DayLoaded", "DayNotLoaded"]


def test_redshift_machine_returns_the_rows_when_asked():
    """{"result": true}: GetStatementResult runs in the same execution (the Data API shows a result only to the
    identity that ran the statement: the template's redshift-data:statement-owner-iam-userid condition)."""
    rows = {"Records": [[{"LongValue": 7}, {"LongValue": 7}]], "TotalNumRows": 1,
            "ColumnMetadata": [{"name": "loaded"}, {"name": "landed"}]}
    run = walk(rendered("RedshiftQueryStateMachine"), {"sql": "select 7, 7", "result": True}, scripted({
        EXECUTE: [{"Id": "stmt-1"}], DESCRIBE: [statement("FINISHED", HasResultSet=True)], GET_RESULT: [rows]}))
    assert run["status"] == "SUCCEEDED", run
    assert run["calls"][-1] == (GET_RESULT, {"Id": "stmt-1"})
    assert run["output"] == {**statement("FINISHED", HasResultSet=True),
                             "Result": {"Records": rows["Records"], "TotalNumRows": 1}}
    failed = walk(rendered("RedshiftQueryStateMachine"), {"sql": "select 7, 7", "result": True}, scripted({
        EXECUTE: [{"Id": "stmt-1"}], DESCRIBE: [statement("FINISHED", HasResultSet=True)],
        GET_RESULT: [TaskError("RedshiftData.ResourceNotFoundException", "Query does not have result.")]}))
    assert failed["status"] == "FAILED" and failed["error"] == "GetStatementResultFailed"
    assert "Query does not have result." in failed["cause"]


def test_pipeline_reports_a_failed_child_machine():
    child_failed = TaskError("States.TaskFailed", '{"Error": "RedshiftStatementFailed", "Cause": "syntax error"}')
    results = pipeline_results(**{START_CHILD: [pipeline_results()[START_CHILD][0]] * 3 + [child_failed]})
    run = walk(rendered("DataPipelineStateMachine"), PIPELINE_INPUT, scripted(results))
    assert run["status"] == "FAILED" and run["error"] == "RedshiftLoadDayFailed"
    assert "RedshiftStatementFailed" in run["cause"]


def test_the_longest_allowed_project_name_fits_every_resource_name():
    pattern = load_template()["Parameters"]["ProjectName"]["AllowedPattern"]
    longest = max((n for n in range(1, 64) if re.fullmatch(pattern, "a" * n)), default=0)
    assert 2 <= longest < 63, f"ProjectName pattern {pattern} allows {longest} characters"
    # Name limits: S3 buckets 63, Lambda functions 64, state machines 80, Glue crawlers and jobs 255.
    account, longest_region = "123456789012", "ap-southeast-5"
    limits = {"AWS::S3::Bucket": ("BucketName", 63), "AWS::Lambda::Function": ("FunctionName", 64),
              "AWS::StepFunctions::StateMachine": ("StateMachineName", 80), "AWS::Glue::Crawler": ("Name", 255),
              "AWS::Glue::Job": ("Name", 255), "AWS::Athena::WorkGroup": ("Name", 128),
              "AWS::Redshift::Cluster": ("ClusterIdentifier", 63)}
    for resource_type, (key, limit) in limits.items():
        for name, resource in resources_of_type(resource_type).items():
            value = resource["Properties"][key]["Fn::Sub"]
            rendered_name = (value.replace("${ProjectName}", "a" * longest).replace("${AWS::AccountId}", account)
                             .replace("${AWS::Region}", longest_region))
            assert "${" not in rendered_name and len(rendered_name) <= limit, \
                f"{name}: {rendered_name!r} ({len(rendered_name)} > {limit})"


# ---------------------------------------------------------------- the hand-off to Airflow on AWS


def test_variable_secret_holds_exactly_the_contract_outputs():
    """The secret is the Variable the DAGs read: every contract output, each the same expression as its Output."""
    template = load_template()
    secret = template["Resources"]["AirflowVariableSecret"]["Properties"]
    # Airflow's Secrets Manager backend reads a Variable at <variables_prefix>/<key> (Amazon provider docs,
    # "AWS Secrets Manager Backend"); the stack's AirflowSecretsBackendKwargs output names that prefix.
    assert secret["Name"] == {"Fn::Sub": "${AirflowSecretsPrefix}/variables/sales_pipeline"}
    kwargs = template["Outputs"]["AirflowSecretsBackendKwargs"]["Value"]["Fn::Sub"]
    assert json.loads(kwargs.replace("${AirflowSecretsPrefix}", "p")) == {
        "connections_prefix": None, "variables_prefix": "p/variables", "config_prefix": None}
    document = json.loads(secret["SecretString"]["Fn::Sub"])
    contract = [name for name in backticked_names("Stack outputs") if re.fullmatch(r"[A-Z][A-Za-z]+", name)
                and not name.startswith("Airflow")]
    assert set(document) == set(contract) and len(contract) == 18
    for key, placeholder in document.items():
        value = template["Outputs"][key]["Value"]
        expected = "${%s}" % value["Ref"] if "Ref" in value else "${%s.%s}" % tuple(value["Fn::GetAtt"])
        assert placeholder == expected, f"{key}: the secret says {placeholder}, the output {value}"


# Every AWS call the DAGs make with Airflow's credentials, read from the DAGs, plugins/ and the provider code they
# use (operator -> hook -> boto3 call, in apache-airflow-providers-amazon 9.34 and 9.39), and the IAM action that
# authorises it (Service Authorization Reference). A call made by a state machine is the machine role's, not here.
AIRFLOW_CALLS = {
    # LambdaInvokeFunctionOperator -> LambdaHook.invoke_lambda -> Invoke
    "lambda:InvokeFunction": {"LambdaInvokeFunctionOperator"},
    # StepFunctionStartExecutionOperator -> StartExecution; its deferred trigger and the statement sensor poll
    # DescribeExecution (waiter step_function_succeeded; StepFunctionHook.describe_execution)
    "states:StartExecution": {"StepFunctionStartExecutionOperator"},
    "states:DescribeExecution": {"StepFunctionStartExecutionOperator", "RedshiftStatementSensor"},
    # GlueJobOperator -> GlueJobHook.initialize_job: has_job (GetJob), StartJobRun; GlueJobCompleteTrigger: GetJobRun
    "glue:GetJob": {"GlueJobOperator"}, "glue:StartJobRun": {"GlueJobOperator"}, "glue:GetJobRun": {"GlueJobOperator"},
    # GlueCrawlerSensor -> GlueCrawlerHook.get_crawler
    "glue:GetCrawler": {"GlueCrawlerSensor"},
    # reconcile -> queries.redshift_row -> RedshiftDataHook.execute_query (ExecuteStatement with SecretArn, then
    # DescribeStatement until done) and GetStatementResult; the Data API reads the secret with the caller's rights
    "redshift-data:ExecuteStatement": {"RedshiftDataHook"},
    "redshift-data:DescribeStatement": {"RedshiftDataHook"},
    "redshift-data:GetStatementResult": {"RedshiftDataHook"},
    "secretsmanager:GetSecretValue": {"RedshiftDataHook", "SecretsManagerBackend"},
    # reconcile -> queries.athena_row -> AthenaHook: run_query, poll_query_status / get_state_change_reason,
    # get_query_results; Athena reads the catalog, the lake through Lake Formation, and writes results to S3 as the
    # caller (Athena User Guide, "Identity and access management in Athena"; Lake Formation, "Underlying data access")
    "athena:StartQueryExecution": {"AthenaHook"}, "athena:GetQueryExecution": {"AthenaHook"},
    "athena:GetQueryResults": {"AthenaHook"},
    "glue:GetDatabase": {"AthenaHook"}, "glue:GetTable": {"AthenaHook"}, "glue:GetPartitions": {"AthenaHook"},
    "lakeformation:GetDataAccess": {"AthenaHook"},
    "s3:GetBucketLocation": {"AthenaHook"}, "s3:AbortMultipartUpload": {"AthenaHook"},
    # Athena's results bucket; and the lake, so that reading a day lock that is absent is 404, not 403 (Amazon S3
    # API Reference, GetObject, "Permissions")
    "s3:ListBucket": {"AthenaHook", "S3Hook"},
    # reconcile -> S3Hook.read_key (the manifest) and load_string (the reconciliation report); Athena results too;
    # the day lock (plugins/sales_pipeline/day_lock.py) gets, conditionally puts and deletes its lock object
    "s3:GetObject": {"S3Hook", "AthenaHook"}, "s3:PutObject": {"S3Hook", "AthenaHook", "AwsBaseHook"},
    "s3:DeleteObject": {"S3Hook"},
    # validate.run_cost (plugins/sales_pipeline/cost_record.py, usage.py) -> AwsBaseHook's session: GetJob and
    # GetJobRun (above), DescribeExecution (above) and GetExecutionHistory, BatchGetQueryExecution, DescribeClusters,
    # PutObject of quality/sales/dt=<ds>/cost.json
    "states:GetExecutionHistory": {"AwsBaseHook"}, "athena:BatchGetQueryExecution": {"AwsBaseHook"},
    "redshift:DescribeClusters": {"AwsBaseHook"},
    # on_failure_callback -> SnsNotifier -> SnsHook.publish_to_target; the deadline callback -> SnsHook
    # .apublish_to_target (both Publish)
    "sns:Publish": {"SnsNotifier", "SnsHook"},
}
# sales_revenue_report -> S3Hook: list_keys and get_key under aggregated/daily_sales_revenue/, load_string and
# put_object under reports/weekly_revenue/ (ListBucket, GetObject and PutObject are above)
AIRFLOW_CALLS["s3:ListBucket"] = AIRFLOW_CALLS["s3:ListBucket"] | {"S3Hook"}
AIRFLOW_AWS_CLASSES = {"LambdaInvokeFunctionOperator", "StepFunctionStartExecutionOperator", "GlueJobOperator",
                       "GlueCrawlerSensor", "RedshiftDataHook", "AthenaHook", "S3Hook", "StepFunctionHook",
                       "RedshiftStatementSensor", "RedshiftDataTrigger", "SecretsManagerBackend", "AwsBaseHook",
                       "SnsNotifier", "SnsHook"}


def airflow_policy_statements() -> dict[str, dict]:
    return {s["Sid"]: s for name, s in iter_policy_statements() if name == "AirflowPolicy"}


def test_every_aws_class_the_dags_use_is_accounted_for():
    """A new operator, sensor or hook in dags/ or plugins/ fails here until AIRFLOW_CALLS covers its calls."""
    used = set()
    for path in [*(REPO_ROOT / "dags").glob("*.py"), *(REPO_ROOT / "plugins").rglob("*.py")]:
        for names in re.findall(r"from airflow\.providers\.amazon\.\S+ import (\([^)]*\)|[^\n]+)", path.read_text()):
            used |= {n.strip(" ()\n") for n in names.split(",")} - {""}
    # Constants and the base class make no call of their own.
    used -= {"FAILURE_STATES", "FINISHED_STATE", "AwsBaseSensor", "aws_template_fields"}
    assert used - AIRFLOW_AWS_CLASSES == set(), f"classes whose AWS calls are not in AIRFLOW_CALLS: {used}"
    assert "RedshiftStatementSensor" in (REPO_ROOT / "dags" / "sales_pipeline_daily.py").read_text()


def test_airflow_policy_allows_exactly_the_calls_the_dags_make():
    allowed = {action for s in airflow_policy_statements().values() if s["Effect"] == "Allow"
               for action in as_list(s["Action"])}
    assert allowed == set(AIRFLOW_CALLS), (f"missing {sorted(set(AIRFLOW_CALLS) - allowed)}, "
                                           f"extra {sorted(allowed - set(AIRFLOW_CALLS))}")
    statements = airflow_policy_statements()
    # Each resource names this stack's resource, never a wildcard over the account.
    assert statements["StartPipelineExecutions"]["Resource"] == [
        {"Ref": f"{m}StateMachine"} for m in ("RunGlueCrawler", "RedshiftQuery", "DataPipeline")]
    assert statements["InvokeLoader"]["Resource"] == {"Fn::GetAtt": ["LoaderFunction", "Arn"]}
    assert statements["ReadSecrets"]["Resource"] == [{"Ref": "RedshiftSecret"}, {"Ref": "AirflowVariableSecret"}]
    assert statements["ReadManifests"]["Resource"] == {"Fn::Sub": "${DataLakeBucket.Arn}/manifests/sales/*"}
    assert statements["WriteReconciliation"]["Resource"] == {"Fn::Sub": "${DataLakeBucket.Arn}/quality/sales/*"}
    assert statements["DayLock"]["Resource"] == {"Fn::Sub": "${DataLakeBucket.Arn}/locks/sales/*"}
    assert statements["DayLockAbsentIsNotFound"]["Resource"] == {"Fn::GetAtt": ["DataLakeBucket", "Arn"]}
    assert statements["ReportWrite"]["Resource"] == {"Fn::Sub": "${DataLakeBucket.Arn}/reports/weekly_revenue/*"}
    assert statements["ReportListAggregates"]["Condition"] == {
        "StringLike": {"s3:prefix": "aggregated/daily_sales_revenue/*"}}
    assert "cluster:${RedshiftCluster}" in json.dumps(statements["RedshiftDataOnCluster"]["Resource"])
    assert "workgroup/${AnalyticsWorkGroup}" in json.dumps(statements["AthenaQueries"]["Resource"])
    # The manifest and report keys are the ones the reconcile task renders.
    reconcile = (REPO_ROOT / "plugins" / "sales_pipeline" / "validation.py").read_text()
    assert '"manifests/sales/dt={{ ds }}.json"' in reconcile
    assert '"quality/sales/dt={{ ds }}/reconciliation.json"' in reconcile
    wildcard = {sid for sid, s in statements.items() if "*" in as_list(s["Resource"])}
    assert wildcard == {"RedshiftDataOwnStatements", "LakeFormationDataAccess"}


def test_airflow_reads_only_its_own_redshift_statements():
    """Statement reads are scoped to the caller's own statements (redshift-data:statement-owner-iam-userid, Service
    Authorization Reference for the Redshift Data API): the DAGs never describe the state machine's statements; the
    sensor reads their outcome from the execution's output (plugins/sales_pipeline/redshift_statement_sensor.py)."""
    own = airflow_policy_statements()["RedshiftDataOwnStatements"]
    assert own["Condition"] == {"StringEquals": {"redshift-data:statement-owner-iam-userid": "${aws:userid}"}}
    assert set(own["Action"]) == {"redshift-data:DescribeStatement", "redshift-data:GetStatementResult"}


def test_airflow_role_gets_its_lake_formation_grant_only_when_named():
    template = load_template()
    grant = template["Resources"]["AirflowTablesGrant"]
    assert grant["Condition"] == "HasAirflowRole"
    assert grant["Properties"]["Principal"] == {"DataLakePrincipalIdentifier": {"Ref": "AirflowRoleArn"}}
    assert grant["Properties"]["Permissions"] == ["SELECT", "DESCRIBE"]
    assert grant["Properties"]["Resource"]["Table"]["DatabaseName"] == {"Ref": "GlueDatabase"}
    assert template["Outputs"]["AirflowPolicyArn"]["Value"] == {"Ref": "AirflowPolicy"}
