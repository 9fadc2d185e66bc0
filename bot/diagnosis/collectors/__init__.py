"""Read-only evidence collectors, one small module each behind the `Collector` protocol."""

from bot.diagnosis.collectors.airflow import AirflowCollector
from bot.diagnosis.collectors.airflow_api import AirflowApi, TaskRef
from bot.diagnosis.collectors.alert import AlertCollector
from bot.diagnosis.collectors.base import Collector, CollectorError, FailureKind
from bot.diagnosis.collectors.http import CallLog, CallTiming, record_calls
from bot.diagnosis.collectors.spark import SparkApi, SparkCollector

__all__ = [
    "AirflowApi",
    "AirflowCollector",
    "AlertCollector",
    "CallLog",
    "CallTiming",
    "Collector",
    "CollectorError",
    "FailureKind",
    "SparkApi",
    "SparkCollector",
    "TaskRef",
    "record_calls",
]
