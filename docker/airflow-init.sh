#!/usr/bin/env bash
# One-shot set-up of the compose stack: metadata database, the stack in the local AWS, the DAGs' Variable.
set -euo pipefail
airflow db migrate
python -m pipeline_tools.deploy --endpoint-url "${LOCAL_AWS_ENDPOINT}" --output-json /tmp/stack-outputs.json
airflow variables set sales_pipeline "$(cat /tmp/stack-outputs.json)"
echo "stack deployed; Variable sales_pipeline set"
