# The project's local AWS: moto plus DuckDB, local Spark (needs a JRE) and pyarrow.
# The Debian release is named: python:3.11-slim follows Debian's newest (trixie since 2025-08), which has no
# openjdk-17 package; bookworm has openjdk-17-jre-headless (Spark 4 runs on Java 17).
FROM python:3.11-slim-bookworm
RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/local-aws
COPY requirements-local-aws.txt .
RUN pip install --no-cache-dir -r requirements-local-aws.txt
# Glue jobs run on their GlueVersion's runtime (local_aws/gluejob/runtimes.py), never on the server's PySpark:
# GlueVersion 5.0 is PySpark 3.5.4 on this image's Python 3.11, in .venv-glue5 beside local_aws/.
COPY requirements-glue5.txt .
RUN python -m venv .venv-glue5 && .venv-glue5/bin/pip install --no-cache-dir -r requirements-glue5.txt
COPY local_aws/ local_aws/
EXPOSE 4566
CMD ["python", "-m", "local_aws", "serve", "--host", "0.0.0.0", "--port", "4566", "--state-dir", "/var/lib/local-aws"]
