"""CodePipeline job results (PutJobSuccessResult / PutJobFailureResult), which moto lacks: recorded per job,
one final result per job, and exposed at /_localaws/codepipeline/jobs."""

from __future__ import annotations

import json
import urllib.request

import botocore.exceptions
import pytest


def jobs(world) -> dict:
    with urllib.request.urlopen(f"{world.aws.endpoint}/_localaws/codepipeline/jobs") as r:
        return json.loads(r.read())["jobs"]


def test_success_failure_and_continuation_are_recorded(world):
    cp = world._client("codepipeline")
    cp.put_job_success_result(jobId="j1", executionDetails={"summary": "web:2 is live"},
                              outputVariables={"revision": "web:2"})
    cp.put_job_success_result(jobId="j2", continuationToken="tok")
    cp.put_job_success_result(jobId="j2", executionDetails={"summary": "done"})
    cp.put_job_failure_result(jobId="j3", failureDetails={"type": "JobFailed", "message": "no image"})
    recorded = jobs(world)
    assert recorded["j1"]["results"] == [{"status": "Succeeded", "executionDetails": {"summary": "web:2 is live"},
                                          "outputVariables": {"revision": "web:2"}}]
    assert [r.get("continuationToken") for r in recorded["j2"]["results"]] == ["tok", None]
    assert recorded["j3"]["results"] == [{"status": "Failed",
                                          "failureDetails": {"type": "JobFailed", "message": "no image"}}]


def test_a_second_final_result_is_refused(world):
    cp = world._client("codepipeline")
    cp.put_job_failure_result(jobId="j", failureDetails={"type": "JobFailed", "message": "x"})
    for call in (lambda: cp.put_job_success_result(jobId="j"),
                 lambda: cp.put_job_failure_result(jobId="j", failureDetails={"type": "JobFailed", "message": "y"})):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "InvalidJobStateException"
    assert len(jobs(world)["j"]["results"]) == 1


def test_get_job_details_answers_the_jobs_created_and_no_other(world):
    cp = world._client("codepipeline")
    job = {"id": "j-next", "accountId": "123456789012",
           "data": {"actionConfiguration": {"configuration": {"FunctionName": "ecs-deployer",
                                                              "UserParameters": "{\"version\": \"v2\"}"}},
                    "continuationToken": "tok"}}
    req = urllib.request.Request(f"{world.aws.endpoint}/_localaws/codepipeline/jobs", data=json.dumps(job).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
    details = cp.get_job_details(jobId="j-next")["jobDetails"]
    assert details["accountId"] == "123456789012"
    assert details["data"]["continuationToken"] == "tok"
    assert details["data"]["actionConfiguration"]["configuration"]["UserParameters"] == '{"version": "v2"}'
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cp.get_job_details(jobId="j-never")
    assert e.value.response["Error"]["Code"] == "JobNotFoundException"
