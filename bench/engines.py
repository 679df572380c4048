"""What the engines themselves report for a day: the Glue job run's duration and the COPY statement's duration."""

from __future__ import annotations


def glue_job_seconds(stack, day: str) -> float | None:
    """Wall time of the latest successful Glue job run for the day (StartedOn to CompletedOn)."""
    glue = stack.client("glue")
    runs = glue.get_job_runs(JobName=stack.outputs["GlueJobName"], MaxResults=200)["JobRuns"]
    mine = [r for r in runs if r.get("Arguments", {}).get("--run_date") == day and r["JobRunState"] == "SUCCEEDED"]
    if not mine:
        return None
    latest = max(mine, key=lambda r: r["StartedOn"])
    return (latest["CompletedOn"] - latest["StartedOn"]).total_seconds()


def _first_word(sql: str) -> str:
    """The statement's keyword, past its `--` comments (the DELETE's comment mentions the COPY)."""
    code = " ".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return (code.split() or [""])[0].lower()


def copy_seconds(stack, day: str) -> float | None:
    """Duration of the latest finished COPY of the day's partition, from the Data API's sub-statement."""
    data = stack.client("redshift-data")
    partition = f"year={int(day[:4])}/month={int(day[5:7])}/day={int(day[8:])}/"
    statements, token = [], None
    while True:
        page = data.list_statements(Status="FINISHED", MaxResults=100, **({"NextToken": token} if token else {}))
        statements += page["Statements"]
        if not (token := page.get("NextToken")):
            break
    loads = [s for s in statements if s.get("IsBatchStatement")
             and any("copy" in q.lower() and partition in q for q in s.get("QueryStrings", []))]
    if not loads:
        return None
    latest = max(loads, key=lambda s: s["CreatedAt"])
    subs = data.describe_statement(Id=latest["Id"]).get("SubStatements", [])
    durations = [s["Duration"] for s in subs if _first_word(s.get("QueryString", "")) == "copy"]
    return durations[0] / 1e9 if durations else None
