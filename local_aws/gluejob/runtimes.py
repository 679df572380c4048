"""Which Spark and Python a Glue job runs on: its GlueVersion's, never the local AWS's own PySpark.

AWS Glue fixes the runtime by the job's GlueVersion (AWS Glue versions,
https://docs.aws.amazon.com/glue/latest/dg/release-notes.html): "5.0" is Spark 3.5.4 on Python 3.11 and Java 17,
"5.1" Spark 3.5.6, "4.0" Spark 3.3 on Python 3.10. A job created without a GlueVersion is a Glue 0.9 job
(``Job.GlueVersion``, https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-jobs-job.html).

Each emulated GlueVersion has its own Python environment with that PySpark, built by a make target from a
requirements file (``make glue-runtime``: ``.venv-glue5`` from ``requirements-glue5.txt``). The folder holding
these environments is the project root, or ``LOCAL_AWS_GLUE_RUNTIMES_DIR``. A GlueVersion without an entry in
``RUNTIMES`` cannot be emulated: ``for_glue_version`` raises ``UnsupportedGlueVersion`` (the Glue service turns it
into AWS's InvalidInputException). An emulated version whose environment is missing or holds another PySpark
raises ``RuntimeNotInstalled`` from ``GlueRuntime.interpreter()``, naming the make target; nothing falls back to
another Spark.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from local_aws import settings

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_GLUE_VERSION = "0.9"  # what AWS gives a job created without GlueVersion


class UnsupportedGlueVersion(ValueError):
    """A GlueVersion the local AWS has no runtime for (message names it and the supported ones)."""


class RuntimeNotInstalled(RuntimeError):
    """An emulated GlueVersion whose Python environment is missing or wrong (message says how to build it)."""


@dataclass(frozen=True)
class GlueRuntime:
    glue_version: str  # "5.0"
    spark_version: str  # the PySpark release installed in the environment, "3.5.4"
    python_version: str  # major.minor, "3.11"
    environment: str  # folder name under the runtimes dir, ".venv-glue5"
    make_target: str  # what builds the environment

    def environment_dir(self) -> Path:
        folder = settings.current().glue_runtimes_dir
        return (PROJECT_ROOT if folder == "project root" else Path(folder)) / self.environment

    @property
    def python(self) -> Path:
        """The environment's interpreter (not resolved: its symlink is what makes it the venv's Python)."""
        return self.environment_dir() / "bin" / "python"

    def interpreter(self) -> str:
        """The interpreter path, after checking the environment holds this runtime's Python and PySpark.

        Raises RuntimeNotInstalled naming the make target when the environment is missing or differs.
        """
        env = self.environment_dir()
        build = f"create it with `make {self.make_target}` in the project root"
        if not self.python.exists():
            raise RuntimeNotInstalled(
                f"the Glue {self.glue_version} runtime (Spark {self.spark_version}, Python {self.python_version}) "
                f"is not installed: {self.python} does not exist; {build}")
        python = _venv_python_version(env)
        if python is not None and not python.startswith(self.python_version + "."):
            raise RuntimeNotInstalled(
                f"the Glue {self.glue_version} runtime at {env} runs Python {python}, Glue {self.glue_version} "
                f"runs Python {self.python_version}; remove {env} and {build}")
        spark = installed_pyspark(env)
        if spark != self.spark_version:
            found = f"PySpark {spark}" if spark else "no PySpark"
            raise RuntimeNotInstalled(
                f"the Glue {self.glue_version} runtime at {env} has {found}, Glue {self.glue_version} runs "
                f"Spark {self.spark_version}; {build}")
        return str(self.python)


RUNTIMES: dict[str, GlueRuntime] = {
    "5.0": GlueRuntime("5.0", spark_version="3.5.4", python_version="3.11", environment=".venv-glue5",
                       make_target="glue-runtime"),
}


def supported_versions() -> list[str]:
    return sorted(RUNTIMES)


def for_glue_version(glue_version: str | None) -> GlueRuntime:
    """The runtime of a job's GlueVersion (None: the job named none, which AWS treats as 0.9).

    Raises UnsupportedGlueVersion, e.g. "GlueVersion 4.0 cannot be run by the local AWS: it runs Glue jobs on
    GlueVersion 5.0 only (...)".
    """
    version = DEFAULT_GLUE_VERSION if glue_version is None else glue_version
    runtime = RUNTIMES.get(version)
    if runtime is None:
        named = "" if glue_version is not None else " (the version of a job created without GlueVersion)"
        supported = ", ".join(f"{v} (Spark {RUNTIMES[v].spark_version}, Python {RUNTIMES[v].python_version})"
                              for v in supported_versions())
        raise UnsupportedGlueVersion(
            f"GlueVersion {version}{named} cannot be run by the local AWS: it runs Glue jobs on GlueVersion "
            f"{supported} only")
    return runtime


_DIST_INFO = re.compile(r"^pyspark-(?P<version>[^-]+)\.dist-info$")


def installed_pyspark(environment: Path) -> str | None:
    """The PySpark version installed in a virtual environment (from its dist-info folder; no interpreter start)."""
    for site_packages in environment.glob("lib/python*/site-packages"):
        for entry in site_packages.iterdir():
            match = _DIST_INFO.match(entry.name)
            if match:
                return match["version"]
    return None


def _venv_python_version(environment: Path) -> str | None:
    try:
        text = (environment / "pyvenv.cfg").read_text()
    except OSError:
        return None
    match = re.search(r"^version(?:_info)?\s*=\s*(\S+)", text, re.MULTILINE)
    return match[1] if match else None
