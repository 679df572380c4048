"""One module per AWS service, installed in the order of ``SERVICES``.

A module declares its changes to moto with ``local_aws.patches`` when it is imported, keeps its local state on a
``local_aws.backends.LocalBackend`` (saved, restored and reset with moto's), declares the CloudFormation resource
types it creates, and may define:

- ``install(server)``: runtime wiring at server start, after the patches are applied and the state restored;
- ``restored(server)``: settle what a restored state holds in flight (moto's own models; local backends have
  ``LocalBackend.restored``);
- ``shutdown(server)``: stop what the service runs beside the server (processes), when the server stops.
"""

import importlib
from types import ModuleType

# Explicit and ordered: S3 first (other services read the lake), CloudFormation last (its resource types come
# from the modules before it).
SERVICES = (
    "s3",
    "secretsmanager",
    "stepfunctions",
    "awslambda",
    "glue_catalog",
    "glue_crawlers",
    "glue_jobs",
    "lakeformation",
    "athena",
    "redshift",
    "redshift_data",
    "sns",
    "cloudformation",
)


def service_modules() -> list[ModuleType]:
    return [importlib.import_module(f"{__name__}.{name}") for name in SERVICES]
