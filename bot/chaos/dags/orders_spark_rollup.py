# mypy: ignore-errors
"""The chaos sandbox's Spark job: roll the orders up per customer with PySpark in local mode.

This file runs inside the sandbox's Airflow, not in the bot. Like orders_pipeline.py it is
never edited to cause a fault: the input folder and the job's parameters file are. The
harness gives Airflow CHAOS_INPUT_DIR (the CSV input under `spark/orders` and the
parameters in `spark/rollup_params.json`), CHAOS_STAGING_DIR and CHAOS_SPARK_EVENTS_DIR
(the event logs the Spark History Server reads).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task
from airflow_callback import notify_incident_bot

PARAMS_FILE = "spark/rollup_params.json"
ORDERS_SCHEMA = "order_id STRING, customer_id STRING, amount DOUBLE, ordered_at STRING"
# The smallest driver Spark 4 accepts is about 450 MiB; 512m keeps the sandbox lean.
SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.driver.memory": "512m",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "2",
    "spark.eventLog.enabled": "true",
}


def get_params() -> dict:
    """The job's parameters, the file an operator edits: input path and replay factor."""
    path = Path(os.environ["CHAOS_INPUT_DIR"]) / PARAMS_FILE
    return json.loads(path.read_text(encoding="utf-8"))


def create_session(app_name: str):
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    events = Path(os.environ["CHAOS_SPARK_EVENTS_DIR"]).resolve()
    for key, value in {**SPARK_CONF, "spark.eventLog.dir": events.as_uri()}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


@task
def rollup() -> str:
    """Order count and revenue per customer, written to staging as Parquet."""
    from pyspark.sql import functions as F

    params = get_params()
    spark = create_session("orders_spark_rollup")
    app_id = spark.sparkContext.applicationId
    # The id in the task log and on the exception lets the bot find the application in
    # the History Server.
    print(f"Spark application {app_id} started")
    try:
        source = Path(os.environ["CHAOS_INPUT_DIR"]) / params["orders_path"]
        orders = spark.read.csv(str(source), header=True, schema=ORDERS_SCHEMA)
        # Load rehearsals replay every order this many times.
        replay_factor = int(params.get("replay_factor", 1))
        if replay_factor > 1:
            orders = orders.crossJoin(spark.range(replay_factor)).drop("id")
        # Order ids are checked for duplicates on the driver: cheap for a day's orders, an
        # OutOfMemoryError once the input grows past what 512m holds.
        order_ids = [row.order_id for row in orders.select("order_id").collect()]
        print(f"read {len(order_ids)} orders, {len(set(order_ids))} distinct ids")
        totals = orders.groupBy("customer_id").agg(
            F.count("order_id").alias("orders"), F.round(F.sum("amount"), 2).alias("revenue")
        )
        output = Path(os.environ["CHAOS_STAGING_DIR"]) / "orders_rollup.parquet"
        totals.write.mode("overwrite").parquet(str(output))
        print(f"rolled {len(order_ids)} orders up into {output}")
        return str(output)
    except Exception as exc:
        exc.add_note(f"Spark application {app_id}")
        raise
    finally:
        # Stopping closes the event log, so the History Server lists the run as completed.
        spark.stop()


with DAG(
    "orders_spark_rollup",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["service:orders", "team:data-platform"],
    default_args={"retries": 0, "on_failure_callback": notify_incident_bot},
):
    rollup()
