# Airflow 3 with what the sales pipeline DAGs need (requirements.txt), nothing else.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt /requirements.txt
# requirements.txt leaves Airflow to the platform: naming the image's own version keeps pip from replacing it.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /requirements.txt
