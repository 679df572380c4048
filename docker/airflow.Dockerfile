# Airflow 3 with what the sales pipeline DAGs need (requirements.txt), nothing else.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt /requirements.txt
RUN pip install --no-cache-dir -r /requirements.txt
