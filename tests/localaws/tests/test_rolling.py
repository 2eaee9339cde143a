"""Rolling updates that live: deployments, tasks, the circuit breaker, deployment alarms, events."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import botocore.exceptions
import pytest

CB_ROLLBACK = {"deploymentCircuitBreaker": {"enable": True, "rollback": True}}
TESTS = Path(__file__).resolve().parents[2]


def rev(arn: str) -> str:
    return arn.rsplit("/", 1)[1]


def test_create_service_keeps_its_configuration_and_its_first_deployment_completes(world):
    config = {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": True},
        "maximumPercent": 150,
        "minimumHealthyPercent": 50,
    }
    created = world.service(config=config)
    assert created["deploymentConfiguration"] == config
    svc = world.describe()
    assert svc["deploymentConfiguration"] == config, "moto alone drops it"
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:1")]
    assert (svc["runningCount"], svc["pendingCount"], svc["desiredCount"]) == (2, 0, 2)
    running = world.ecs.list_tasks(cluster="demo", serviceName="web")["taskArns"]
    tasks = world.ecs.describe_tasks(cluster="demo", tasks=running)["tasks"]
    assert [t["lastStatus"] for t in tasks] == ["RUNNING", "RUNNING"]
    assert {t["group"] for t in tasks} == {"service:web"}
    assert {t["startedBy"] for t in tasks} == {svc["deployments"][0]["id"]}
    current = world.service_deployment(svc["currentServiceDeployment"])
    assert current["status"] == "SUCCESSFUL"
    assert rev(current["targetServiceRevision"]["arn"]) == svc["deployments"][0]["id"].split("/")[1]


def test_a_rolling_update_starts_a_deployment_that_completes_on_the_clock(world):
    world.service()
    first = world.describe()["deployments"][0]["id"]
    updated = world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2"))
    new = updated["service"]["deployments"][0]
    assert new["id"] != first and new["id"].startswith("ecs-svc/") and new["status"] == "PRIMARY"
    assert world.deployments() == [("PRIMARY", "IN_PROGRESS", "web:2"), ("ACTIVE", "COMPLETED", "web:1")]
    sd_arn = world.describe()["currentServiceDeployment"]
    assert world.service_deployment(sd_arn)["status"] == "PENDING"

    world.step()  # the service deployment starts and launches the new tasks
    d = world.describe()["deployments"][0]
    assert (d["pendingCount"], d["runningCount"]) == (2, 0)
    assert world.service_deployment(sd_arn)["status"] == "IN_PROGRESS"
    world.step()  # they run; the old ones still do
    svc = world.describe()
    assert (svc["deployments"][0]["runningCount"], svc["deployments"][1]["runningCount"]) == (2, 2)
    assert svc["runningCount"] == 4
    assert world.deployments()[0] == ("PRIMARY", "IN_PROGRESS", "web:2")
    world.step()  # completed; the old deployment is drained and dropped
    svc = world.describe()
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:2")]
    assert svc["deployments"][0]["id"] == new["id"]
    assert svc["deployments"][0]["rolloutStateReason"] == f"ECS deployment {new['id']} completed."
    assert svc["runningCount"] == 2 and rev(svc["taskDefinition"]) == "web:2"
    sd = world.service_deployment(sd_arn)
    assert sd["status"] == "SUCCESSFUL" and sd["finishedAt"]
    assert rev(sd["targetServiceRevision"]["arn"]) == new["id"].split("/")[1]
    assert [rev(s["arn"]) for s in sd["sourceServiceRevisions"]] == [first.split("/")[1]]

    stopped = world.ecs.list_tasks(cluster="demo", serviceName="web", desiredStatus="STOPPED")["taskArns"]
    tasks = world.ecs.describe_tasks(cluster="demo", tasks=stopped)["tasks"]
    assert len(tasks) == 2
    assert {t["stoppedReason"] for t in tasks} == {f"Scaling activity initiated by (deployment {new['id']})"}
    assert {rev(t["taskDefinitionArn"]) for t in tasks} == {"web:1"}
    messages = [e["message"] for e in svc["events"]]
    assert messages[0] == "(service web) has reached a steady state."
    assert f"(service web) (deployment {new['id']}) deployment completed." in messages

    names = [(e["detail"]["eventName"], e["detail"]["deploymentId"])
             for e in world.events(**{"detail-type": "ECS Deployment State Change"})]
    assert names[-2:] == [("SERVICE_DEPLOYMENT_IN_PROGRESS", new["id"]), ("SERVICE_DEPLOYMENT_COMPLETED", new["id"])]
    steady = world.events(**{"detail-type": "ECS Service Action"})
    assert steady[-1]["detail"]["eventName"] == "SERVICE_STEADY_STATE"
    assert steady[-1]["resources"] == ["arn:aws:ecs:us-east-1:123456789012:service/demo/web"]


def test_a_broken_image_without_the_circuit_breaker_accumulates_failed_tasks(world):
    world.service()
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2-broken"))
    world.step(8)
    svc = world.describe()
    assert world.deployments() == [("PRIMARY", "IN_PROGRESS", "web:2"), ("ACTIVE", "COMPLETED", "web:1")]
    primary, old = svc["deployments"]
    assert primary["failedTasks"] >= 10 and primary["runningCount"] == 0
    assert old["runningCount"] == 2 and svc["runningCount"] == 2, "the old tasks keep serving"
    stopped = world.ecs.list_tasks(cluster="demo", serviceName="web", desiredStatus="STOPPED")["taskArns"]
    tasks = world.ecs.describe_tasks(cluster="demo", tasks=stopped)["tasks"]
    assert len(tasks) == primary["failedTasks"]
    for t in tasks:
        assert t["stoppedReason"] == "Essential container in task exited"
        assert t["stopCode"] == "EssentialContainerExited" and t["lastStatus"] == "STOPPED"
        app = next(c for c in t["containers"] if c["name"] == "app")
        assert app["exitCode"] == 1 and app["image"].endswith(":v2-broken")
    messages = [e["message"] for e in svc["events"]]
    assert any(m.startswith("(service web) has stopped 1 running tasks: (task ") for m in messages)
    assert any("is unable to consistently start tasks successfully" in m for m in messages)
    impaired = world.events(**{"detail-type": "ECS Service Action"})
    assert impaired[-1]["detail"]["eventName"] == "SERVICE_TASK_START_IMPAIRED"
    assert world.service_deployment(svc["currentServiceDeployment"])["status"] == "IN_PROGRESS"
    world.step(2)
    assert world.describe()["deployments"][0]["failedTasks"] > primary["failedTasks"], "they keep failing"


def test_the_circuit_breaker_fails_a_broken_deployment_and_rolls_back(world):
    world.service(config=CB_ROLLBACK)
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2-broken"))
    broken_id = world.describe()["deployments"][0]["id"]
    sd_arn = world.describe()["currentServiceDeployment"]
    seen = []
    for _ in range(12):
        world.step()
        seen.append(world.deployments())
        if seen[-1] == [("PRIMARY", "COMPLETED", "web:1")]:
            break
    assert [("PRIMARY", "IN_PROGRESS", "web:1"), ("ACTIVE", "FAILED", "web:2"), ("ACTIVE", "COMPLETED", "web:1")] in seen
    assert seen[-1] == [("PRIMARY", "COMPLETED", "web:1")], seen
    svc = world.describe()
    assert rev(svc["taskDefinition"]) == "web:1" and svc["runningCount"] == 2
    sd = world.service_deployment(sd_arn)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    assert sd["rollback"]["reason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert sd["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert sd["deploymentCircuitBreaker"]["threshold"] == 3 and sd["deploymentCircuitBreaker"]["failureCount"] >= 3
    messages = [e["message"] for e in svc["events"]]
    assert f"(service web) (deployment {broken_id}) deployment failed: tasks failed to start." in messages
    failed = [e for e in world.events(**{"detail-type": "ECS Deployment State Change"})
              if e["detail"]["eventName"] == "SERVICE_DEPLOYMENT_FAILED"]
    assert [(e["detail"]["deploymentId"], e["detail"]["eventType"], e["detail"]["reason"]) for e in failed] == [
        (broken_id, "ERROR", "ECS deployment circuit breaker: tasks failed to start.")]


def test_the_circuit_breaker_without_rollback_fails_the_deployment_and_stops_launching(world):
    world.service(config={"deploymentCircuitBreaker": {"enable": True, "rollback": False}})
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2-broken"))
    world.step(6)
    svc = world.describe()
    primary = svc["deployments"][0]
    assert (primary["status"], primary["rolloutState"]) == ("PRIMARY", "FAILED")
    assert primary["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    failed = primary["failedTasks"]
    world.step(3)
    assert world.describe()["deployments"][0]["failedTasks"] == failed, "no more launches"
    assert rev(world.describe()["taskDefinition"]) == "web:2", "nothing rolled back"
    sd = world.service_deployment(svc["currentServiceDeployment"])
    assert sd["status"] == "STOPPED" and sd["statusReason"] == primary["rolloutStateReason"]


def _alarm(world, name: str = "web-5xx") -> None:
    world.cw.put_metric_alarm(AlarmName=name, MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
                              Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                              ComparisonOperator="GreaterThanOrEqualToThreshold")


def test_a_deployment_alarm_in_alarm_rolls_back(world):
    _alarm(world)
    world.service(config={"alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}})
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2"))
    new_id = world.describe()["deployments"][0]["id"]
    world.step(4)  # the new tasks run; the alarms are watched for a minute (5 ticks here)
    assert world.deployments()[0] == ("PRIMARY", "IN_PROGRESS", "web:2")
    world.cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx after deploy")
    world.step()
    svc = world.describe()
    failed = next(d for d in svc["deployments"] if d["id"] == new_id)
    assert (failed["status"], failed["rolloutState"]) == ("ACTIVE", "FAILED")
    assert failed["rolloutStateReason"] == "ECS deployment alarms triggered: web-5xx."
    assert svc["deployments"][0]["status"] == "PRIMARY" and rev(svc["deployments"][0]["taskDefinition"]) == "web:1"
    world.step(3)
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:1")]
    sd = world.service_deployment(svc["currentServiceDeployment"])
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    assert sd["alarms"] == {"status": "TRIGGERED", "alarmNames": ["web-5xx"], "triggeredAlarmNames": ["web-5xx"]}
    assert sd["rollback"]["reason"] == "ECS deployment alarms triggered: web-5xx."


def test_deployment_alarms_that_stay_ok_let_it_complete_after_the_monitoring_window(world):
    _alarm(world)
    world.service(config={"alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}})
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2"))
    world.step(6)
    assert world.deployments()[0] == ("PRIMARY", "IN_PROGRESS", "web:2"), "still watching the alarms"
    world.step(2)
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:2")]
    sd = world.service_deployment(world.describe()["currentServiceDeployment"])
    assert (sd["status"], sd["alarms"]["status"]) == ("SUCCESSFUL", "MONITORING_COMPLETE")


def test_stop_service_deployment_rolls_a_rolling_update_back_and_conflicts_once_finished(world):
    world.service()
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2-broken"))
    sd_arn = world.describe()["currentServiceDeployment"]
    world.step(2)
    world.ecs.stop_service_deployment(serviceDeploymentArn=sd_arn, stopType="ROLLBACK")
    assert world.service_deployment(sd_arn)["status"] == "ROLLBACK_REQUESTED"
    world.step()
    assert world.service_deployment(sd_arn)["status"] == "ROLLBACK_IN_PROGRESS"
    world.step(3)
    sd = world.service_deployment(sd_arn)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    assert sd["rollback"]["serviceRevisionArn"] == sd["sourceServiceRevisions"][0]["arn"]
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:1")]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.ecs.stop_service_deployment(serviceDeploymentArn=sd_arn, stopType="ROLLBACK")
    assert err.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.ecs.stop_service_deployment(serviceDeploymentArn=sd_arn.replace("demo/web/", "demo/web/x"))
    assert err.value.response["Error"]["Code"] == "ServiceDeploymentNotFoundException"


def test_a_newer_update_stops_the_older_service_deployment(world):
    world.service()
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2"))
    first = world.describe()["currentServiceDeployment"]
    world.step()
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v3"))
    second = world.describe()["currentServiceDeployment"]
    assert first != second
    assert world.service_deployment(first)["status"] == "STOPPED"
    world.step(3)
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:3")]
    listed = world.ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"]
    assert [(x["serviceDeploymentArn"], x["status"]) for x in listed][:2] == [(second, "SUCCESSFUL"), (first, "STOPPED")]
    only = world.ecs.list_service_deployments(cluster="demo", service="web", status=["STOPPED"])["serviceDeployments"]
    assert [x["serviceDeploymentArn"] for x in only] == [first]


def test_desired_count_changes_scale_the_tasks(world):
    world.service(desired=1)
    world.ecs.update_service(cluster="demo", service="web", desiredCount=3)
    world.step(2)
    svc = world.describe()
    assert (svc["runningCount"], svc["deployments"][0]["runningCount"]) == (3, 3)
    world.ecs.update_service(cluster="demo", service="web", desiredCount=1)
    world.step()
    assert world.describe()["runningCount"] == 1


def test_service_revisions_show_the_images_and_digests(world):
    digest = world.push("v2")
    world.service()
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2"))
    sd = world.service_deployment(world.describe()["currentServiceDeployment"])
    revisions = world.ecs.describe_service_revisions(
        serviceRevisionArns=[sd["targetServiceRevision"]["arn"], "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/1"]
    )
    (revision,) = revisions["serviceRevisions"]
    assert revisions["failures"] == [
        {"arn": "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/web/1", "reason": "MISSING"}]
    assert rev(revision["taskDefinition"]) == "web:2"
    app = next(c for c in revision["containerImages"] if c["containerName"] == "app")
    assert app == {"containerName": "app", "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2",
                   "imageDigest": digest}


def test_unimplemented_and_failing_operations_answer_400_naming_the_operation(world):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.codedeploy.list_application_revisions(applicationName="nope")
    response = err.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["Error"]["Code"] == "NotImplementedException"
    assert "ListApplicationRevisions" in response["Error"]["Message"]
    assert response["ResponseMetadata"]["RetryAttempts"] == 0, "a 400 is not retried"
    # moto itself crashing (no names given) is a 400 too, never a 500.
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.ecs.describe_capacity_providers()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "DescribeCapacityProviders" in err.value.response["Error"]["Message"]


def test_the_clock_runs_by_itself_and_the_control_api_answers(start_local):
    world = start_local(manual=False, tick=0.05)
    world.service()
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2"))
    deadline = time.monotonic() + 10
    while world.deployments() != [("PRIMARY", "COMPLETED", "web:2")]:
        assert time.monotonic() < deadline, world.deployments()
        time.sleep(0.05)
    with urllib.request.urlopen(f"{world.aws.endpoint}/_localaws/health") as r:
        health = json.loads(r.read())
    assert health["ok"] and health["tick"] == 0.05 and health["ticks"] >= 3
    request = urllib.request.Request(f"{world.aws.endpoint}/_localaws/clock/step?ticks=2", method="POST")
    with urllib.request.urlopen(request) as r:
        assert json.loads(r.read())["ticks"] >= health["ticks"] + 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_local_aws_serves_on_local_aws_port_until_stopped():
    port = _free_port()
    env = dict(os.environ, LOCAL_AWS_PORT=str(port), LOCAL_AWS_TICK="0.1", PYTHONPATH=str(TESTS))
    proc = subprocess.Popen([sys.executable, "-m", "localaws"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = json.loads(proc.stdout.readline())
        assert line["endpoint"] == f"http://127.0.0.1:{port}" and line["tick"] == 0.1
        with urllib.request.urlopen(f"{line['endpoint']}/_localaws/health") as r:
            assert json.loads(r.read())["ok"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_local_aws_manual_stops_the_clock_until_a_step_moves_it():
    port = _free_port()
    env = dict(os.environ, LOCAL_AWS_PORT=str(port), LOCAL_AWS_TICK="0.05", LOCAL_AWS_MANUAL="1",
               PYTHONPATH=str(TESTS))
    proc = subprocess.Popen([sys.executable, "-m", "localaws"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        endpoint = json.loads(proc.stdout.readline())["endpoint"]
        time.sleep(0.3)  # six ticks of a running clock
        with urllib.request.urlopen(f"{endpoint}/_localaws/health") as r:
            health = json.loads(r.read())
        assert health["manual"] is True and health["ticks"] == 0, health
        request = urllib.request.Request(f"{endpoint}/_localaws/clock/step?ticks=3", method="POST")
        with urllib.request.urlopen(request) as r:
            assert json.loads(r.read())["ticks"] == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_the_world_script_keeps_its_contract_and_dies_with_its_stdin():
    proc = subprocess.Popen([sys.executable, str(TESTS / "world" / "moto_world.py")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=dict(os.environ, LOCAL_AWS_TICK="0.1"))
    line = json.loads(proc.stdout.readline())
    assert set(line) == {"endpoint", "vpc", "subnet", "security_group"}
    assert line["subnet"].startswith("subnet-") and line["security_group"].startswith("sg-")
    proc.stdin.close()
    assert proc.wait(timeout=20) == 0


def test_a_bare_family_describes_its_newest_active_revision(world):
    first = world.task_definition("v1")
    second = world.task_definition("v2")
    assert rev(world.ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["taskDefinitionArn"]) == "web:2"
    world.ecs.deregister_task_definition(taskDefinition=second)
    described = world.ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]
    assert described["taskDefinitionArn"] == first, "moto alone answers the deregistered web:2"
    assert world.ecs.describe_task_definition(taskDefinition="web:2")["taskDefinition"]["status"] == "INACTIVE"


def test_list_task_definitions_filters_by_prefix_and_status_and_sorts_as_ecs_does(world):
    for tag in ("v1", "v2", "v3"):
        world.task_definition(tag)
    world.task_definition("v1", family="web-worker")
    world.ecs.deregister_task_definition(taskDefinition="web:2")
    names = lambda **kw: [rev(a) for a in world.ecs.list_task_definitions(**kw)["taskDefinitionArns"]]  # noqa: E731
    assert names(familyPrefix="web") == ["web:1", "web:3", "web-worker:1"], "ASC by family, then revision"
    assert names(familyPrefix="web", sort="DESC") == ["web-worker:1", "web:3", "web:1"]
    assert names(familyPrefix="web", status="INACTIVE") == ["web:2"]


def test_a_deployment_alarm_already_in_alarm_at_the_start_is_not_watched(world):
    # "If an alarm is in the ALARM state at the beginning of a deployment, Amazon ECS will not monitor alarms
    # for the duration of that deployment" (ECS guide, deployment-alarm-failure.html).
    _alarm(world)
    world.cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="firing before the deploy")
    world.service(config={"alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}})
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2"))
    world.step(4)
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:2")]
    sd = world.service_deployment(world.describe()["currentServiceDeployment"])
    assert sd["status"] == "SUCCESSFUL" and sd["alarms"]["triggeredAlarmNames"] == []
