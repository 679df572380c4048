"""The Redshift stages of the pipeline and the SQL files each runs, shared by both DAGs.

Each stage runs as ONE BatchExecuteStatement, i.e. one transaction: the day's reload (delete + COPY) commits
or rolls back as a whole. The files live in include/sql and are rendered with the run's template context.
"""

from __future__ import annotations

REDSHIFT_STAGES: dict[str, list[str]] = {
    "ddl": ["redshift/create_sales_table.sql", "redshift/create_spectrum_schema.sql"],
    "load": ["redshift/delete_sales_day.sql", "redshift/copy_sales_day.sql"],
    "views": ["redshift/create_daily_sales_revenue_view.sql", "redshift/create_sales_all_days_view.sql"],
    "unload": ["redshift/unload_daily_sales_revenue.sql"],
}


def included(files: list[str]) -> list[str]:
    """Jinja strings that render each file in place, for templated operator arguments."""
    return [f"{{% include '{path}' %}}" for path in files]


# The end-to-end state machine's gate between the load and what publishes the day: one statement whose result the
# machine reads (the daily DAG's own gate is the check_day_loaded task).
STATE_MACHINE_GATE = "redshift/select_day_load_check.sql"


def state_machine_sql() -> dict[str, list[str] | str]:
    """The `sql` input of the end-to-end state machine: every stage's statements, and under "gate" the one
    statement of its load check, rendered by Airflow."""
    return {**{stage: included(files) for stage, files in REDSHIFT_STAGES.items()},
            "gate": included([STATE_MACHINE_GATE])[0]}
