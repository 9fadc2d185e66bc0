# mypy: ignore-errors
"""The chaos sandbox's orders pipeline: extract a CSV, enrich it, load Parquet into S3.

This file runs inside the sandbox's Airflow, not in the bot. Its faults are switched from
outside (the input file, the reference service, the S3 gateway), never by editing it.
Where everything lives comes from the environment the harness gives Airflow:
CHAOS_INPUT_DIR, CHAOS_STAGING_DIR, CHAOS_CONTRACT_FILE, CHAOS_REFERENCE_URL,
CHAOS_S3_ENDPOINT, CHAOS_S3_BUCKET.
"""

from __future__ import annotations

import io
import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task
from airflow_callback import notify_incident_bot

REQUEST_TIMEOUT_SECONDS = 10
LAKE_CONN_ID = "orders_lake"


def get_contract_columns() -> dict[str, str]:
    import yaml

    contract = Path(os.environ["CHAOS_CONTRACT_FILE"]).read_text(encoding="utf-8")
    return yaml.safe_load(contract)["columns"]


@task
def extract() -> str:
    """Stage the input CSV as it arrived, so reruns read the same copy."""
    import shutil

    source = Path(os.environ["CHAOS_INPUT_DIR"]) / "orders.csv"
    staged = Path(os.environ["CHAOS_STAGING_DIR"]) / "orders.csv"
    staged.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, staged)
    print(f"staged {source} as {staged}")
    return str(staged)


@task
def transform(staged: str) -> str:
    """Apply the data contract, then add each customer's region from the reference service."""
    import pandas as pd
    import requests

    columns = get_contract_columns()
    frame = pd.read_csv(staged, dtype=str)
    # Selecting the contract's columns is the contract check: a renamed one raises KeyError.
    frame = frame[list(columns)]
    for column, kind in columns.items():
        if kind.startswith("datetime"):
            frame[column] = pd.to_datetime(frame[column])
        else:
            frame[column] = frame[column].astype(kind)

    url = os.environ["CHAOS_REFERENCE_URL"].rstrip("/") + "/customers"
    response = requests.get(url, timeout=REQUEST_TIMEOUT_SECONDS)
    response.raise_for_status()
    frame["region"] = frame["customer_id"].map(response.json()).fillna("unknown")

    output = Path(staged).with_name("orders_enriched.parquet")
    frame.to_parquet(output, index=False)
    print(f"transformed {len(frame)} orders into {output}")
    return str(output)


@task
def load(enriched: str, ds: str | None = None) -> str:
    """Write the enriched orders to S3 as Parquet."""
    import boto3
    from botocore.config import Config

    # The lake's credentials belong to one Airflow connection; say which, as the AWS hook does,
    # so whoever reads the log knows what to rotate.
    print(f"Using connection ID '{LAKE_CONN_ID}' for task execution.")
    client = boto3.client(
        "s3",
        endpoint_url=os.environ["CHAOS_S3_ENDPOINT"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )
    key = f"orders/{ds or 'manual'}/orders.parquet"
    body = io.BytesIO(Path(enriched).read_bytes())
    client.put_object(Bucket=os.environ["CHAOS_S3_BUCKET"], Key=key, Body=body)
    print(f"loaded s3://{os.environ['CHAOS_S3_BUCKET']}/{key}")
    return key


with DAG(
    "orders_pipeline",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["service:orders", "team:data-platform"],
    default_args={"retries": 0, "on_failure_callback": notify_incident_bot},
):
    load(transform(extract()))
