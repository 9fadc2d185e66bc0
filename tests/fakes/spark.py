"""A stand-in for the Spark History Server's REST API (`/api/v1/applications/...`).

Shapes follow Spark's `status.api.v1` classes (ApplicationInfo, JobData, StageData,
ExecutorSummary, sql ExecutionData): camelCase fields, dates as `2025-06-01T10:00:00.000GMT`,
absent options left out. Sub-resources answer with or without an attempt id segment.
Route names for faults: application, jobs, stages, allexecutors, sql.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.chaos.standins.server import StandIn

RESOURCES = ("jobs", "stages", "allexecutors", "sql")


def application(
    app_id: str, *, name: str = "daily_revenue", attempt_id: str | None = None
) -> dict[str, Any]:
    attempt: dict[str, Any] = {
        "startTime": "2025-06-01T10:00:00.000GMT",
        "endTime": "2025-06-01T10:04:10.000GMT",
        "lastUpdated": "2025-06-01T10:04:11.000GMT",
        "duration": 250000,
        "sparkUser": "etl",
        "completed": True,
        "appSparkVersion": "3.5.1",
        "startTimeEpoch": 1748772000000,
        "endTimeEpoch": 1748772250000,
        "lastUpdatedEpoch": 1748772251000,
    }
    if attempt_id is not None:
        attempt = {"attemptId": attempt_id, **attempt}
    return {"id": app_id, "name": name, "attempts": [attempt]}


def failed_job(job_id: int, *, stage_ids: list[int]) -> dict[str, Any]:
    return {
        "jobId": job_id,
        "name": "save at NativeMethodAccessorImpl.java:0",
        "submissionTime": "2025-06-01T10:01:00.000GMT",
        "completionTime": "2025-06-01T10:04:00.000GMT",
        "stageIds": stage_ids,
        "status": "FAILED",
        "numTasks": 200,
        "numActiveTasks": 0,
        "numCompletedTasks": 150,
        "numSkippedTasks": 0,
        "numFailedTasks": 4,
        "numKilledTasks": 46,
        "numCompletedIndices": 150,
        "numActiveStages": 0,
        "numCompletedStages": 1,
        "numSkippedStages": 0,
        "numFailedStages": 1,
        "killedTasksSummary": {},
    }


def failed_stage(stage_id: int, failure_reason: str) -> dict[str, Any]:
    return {
        "status": "FAILED",
        "stageId": stage_id,
        "attemptId": 0,
        "numTasks": 200,
        "numActiveTasks": 0,
        "numCompleteTasks": 150,
        "numFailedTasks": 4,
        "numKilledTasks": 46,
        "numCompletedIndices": 150,
        "executorRunTime": 912000,
        "executorCpuTime": 800000000,
        "submissionTime": "2025-06-01T10:01:00.000GMT",
        "firstTaskLaunchedTime": "2025-06-01T10:01:01.000GMT",
        "completionTime": "2025-06-01T10:04:00.000GMT",
        "failureReason": failure_reason,
        "inputBytes": 1073741824,
        "inputRecords": 9000000,
        "outputBytes": 0,
        "outputRecords": 0,
        "shuffleReadBytes": 0,
        "shuffleReadRecords": 0,
        "shuffleWriteBytes": 0,
        "shuffleWriteRecords": 0,
        "memoryBytesSpilled": 0,
        "diskBytesSpilled": 0,
        "name": "save at NativeMethodAccessorImpl.java:0",
        "details": "org.apache.spark.sql.DataFrameWriter.save(DataFrameWriter.scala:251)",
        "schedulingPool": "default",
        "rddIds": [4, 3],
        "accumulatorUpdates": [],
        "killedTasksSummary": {},
    }


def executor(executor_id: str, *, remove_reason: str | None = None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "id": executor_id,
        "hostPort": f"ip-10-0-0-{executor_id}.ec2.internal:40123"
        if executor_id != "driver"
        else "10.0.0.1:35000",
        "isActive": remove_reason is None,
        "rddBlocks": 0,
        "memoryUsed": 0,
        "diskUsed": 0,
        "totalCores": 4,
        "maxTasks": 4,
        "activeTasks": 0,
        "failedTasks": 2,
        "completedTasks": 40,
        "totalTasks": 42,
        "totalDuration": 300000,
        "totalGCTime": 90000,
        "totalInputBytes": 0,
        "totalShuffleRead": 0,
        "totalShuffleWrite": 0,
        "isBlacklisted": False,
        "maxMemory": 2147483648,
        "addTime": "2025-06-01T10:00:05.000GMT",
        "executorLogs": {},
        "blacklistedInStages": [],
    }
    if remove_reason is not None:
        summary["removeTime"] = "2025-06-01T10:03:30.000GMT"
        summary["removeReason"] = remove_reason
    return summary


def failed_query(query_id: int, error_message: str) -> dict[str, Any]:
    return {
        "id": query_id,
        "status": "FAILED",
        "description": "save at NativeMethodAccessorImpl.java:0",
        "planDescription": "",
        "submissionTime": "2025-06-01T10:01:00.000GMT",
        "duration": 180000,
        "runningJobIds": [],
        "successJobIds": [],
        "failedJobIds": [1],
        "nodes": [],
        "edges": [],
        "errorMessage": error_message,
    }


class FakeSparkHistory(StandIn):
    def __init__(self) -> None:
        super().__init__()
        self._applications: dict[str, dict[str, Any]] = {}
        self._resources: dict[tuple[str, str], list[dict[str, Any]]] = {}
        base = "/api/v1/applications/{app_id}"
        routes = [self.to_route(base, "application", self._get_application)]
        for resource in RESOURCES:
            routes.append(self.to_route(f"{base}/{resource}", resource, self._get_resource))
            routes.append(
                self.to_route(f"{base}/{{attempt_id}}/{resource}", resource, self._get_resource)
            )
        self.app = Starlette(routes=routes)

    def add_application(self, info: dict[str, Any], **resources: list[dict[str, Any]]) -> None:
        """Register an application and its `jobs`, `stages`, `allexecutors` and `sql` lists."""
        self._applications[info["id"]] = info
        for resource in RESOURCES:
            self._resources[(info["id"], resource)] = resources.get(resource, [])

    async def _get_application(self, request: Request) -> Response:
        app_id = request.path_params["app_id"]
        if app_id not in self._applications:
            return JSONResponse({"message": f"unknown app: {app_id}"}, status_code=404)
        return JSONResponse(self._applications[app_id])

    async def _get_resource(self, request: Request) -> Response:
        app_id = request.path_params["app_id"]
        resource = request.url.path.rsplit("/", 1)[-1]
        if app_id not in self._applications:
            return JSONResponse({"message": f"unknown app: {app_id}"}, status_code=404)
        if "attempt_id" in request.path_params and not _has_attempt(
            self._applications[app_id], request.path_params["attempt_id"]
        ):
            return JSONResponse({"message": "unknown attempt"}, status_code=404)
        items = self._resources[(app_id, resource)]
        status = request.query_params.get("status")
        if status:
            items = [
                item for item in items if str(item.get("status", "")).lower() == status.lower()
            ]
        return JSONResponse(items)


def _has_attempt(info: dict[str, Any], attempt_id: str) -> bool:
    return any(attempt.get("attemptId") == attempt_id for attempt in info["attempts"])
