"""CodeDeploy blue/green for ECS: deployments that live, AppSpec checks and hooks, traffic, rollbacks."""

from __future__ import annotations

import json
import re

import botocore.exceptions
import pytest

APP, GROUP = "AppECS-demo-web", "DgpECS-demo-web"
TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{}/0123456789abcdef"
LISTENER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/0123456789abcdef/{}"
HOOK = "arn:aws:lambda:us-east-1:123456789012:function:{}"


def setup(world, ready: int | None = None, termination: int = 0, rollback_events: list | None = None,
          config: str | None = None, alarms: list | None = None) -> None:
    world.service(controller="CODE_DEPLOY",
                  load_balancers=[{"targetGroupArn": TG.format("blue"), "containerName": "app", "containerPort": 8080}])
    world.codedeploy.create_application(applicationName=APP, computePlatform="ECS")
    bg = {"terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE",
                                                         "terminationWaitTimeInMinutes": termination},
          "deploymentReadyOption": {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": ready}
          if ready is not None else {"actionOnTimeout": "CONTINUE_DEPLOYMENT"}}
    kwargs = {}
    if config:
        kwargs["deploymentConfigName"] = config
    if alarms:
        kwargs["alarmConfiguration"] = {"enabled": True, "alarms": [{"name": a} for a in alarms]}
    world.codedeploy.create_deployment_group(
        applicationName=APP, deploymentGroupName=GROUP, serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy",
        deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        ecsServices=[{"clusterName": "demo", "serviceName": "web"}],
        loadBalancerInfo={"targetGroupPairInfoList": [{
            "targetGroups": [{"name": "blue"}, {"name": "green"}],
            "prodTrafficRoute": {"listenerArns": [LISTENER.format("prod")]},
            "testTrafficRoute": {"listenerArns": [LISTENER.format("test")]}}]},
        blueGreenDeploymentConfiguration=bg,
        autoRollbackConfiguration={"enabled": bool(rollback_events), "events": rollback_events or []},
        **kwargs,
    )


def appspec(td: str, container: str = "app", port: int = 8080, hooks: dict | None = None) -> str:
    spec = {"version": 0.0, "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
        "TaskDefinition": td, "LoadBalancerInfo": {"ContainerName": container, "ContainerPort": port}}}}]}
    if hooks:
        spec["Hooks"] = [{k: v} for k, v in hooks.items()]
    return json.dumps(spec)


def create(world, content: str, **kwargs) -> str:
    return world.codedeploy.create_deployment(
        applicationName=APP, deploymentGroupName=GROUP,
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}}, **kwargs,
    )["deploymentId"]


def info(world, deployment_id: str) -> dict:
    return world.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]


def target(world, deployment_id: str) -> dict:
    return world.codedeploy.get_deployment_target(deploymentId=deployment_id, targetId="demo:web")[
        "deploymentTarget"]["ecsTarget"]


def run(world, deployment_id: str, ticks: int, until=lambda i: False) -> list[str]:
    """The deployment's statuses after each tick, consecutive repeats dropped."""
    seen: list[str] = []
    for _ in range(ticks):
        world.step()
        i = info(world, deployment_id)
        if not seen or seen[-1] != i["status"]:
            seen.append(i["status"])
        if i["status"] in ("Succeeded", "Failed", "Stopped") or until(i):
            break
    return seen


def green_weight(world, deployment_id: str) -> float:
    sets = {s["taskSetLabel"]: s for s in target(world, deployment_id)["taskSetsInfo"]}
    return sets["Green"]["trafficWeight"]


def reporting_hook(world, status: str = "Succeeded"):
    """A hook function that reports `status` through PutLifecycleEventHookExecutionStatus, as a real one must."""
    def handler(event):
        world.codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=event["DeploymentId"], lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
            status=status)
        return None
    return handler


def test_a_deployment_lives_through_its_hooks_and_puts_the_service_on_green(start_local, fake_lambda):
    world = start_local(lambda_endpoint=fake_lambda.endpoint)
    setup(world)
    fake_lambda.on("hook", reporting_hook(world))
    td = world.task_definition("v2")
    deployment = create(world, appspec(td, hooks={"BeforeInstall": HOOK.format("hook"),
                                                   "AfterAllowTestTraffic": HOOK.format("hook"),
                                                   "AfterAllowTraffic": HOOK.format("hook")}))
    assert re.fullmatch(r"d-[A-Z0-9]{9}", deployment)
    assert info(world, deployment)["status"] == "Created"
    assert run(world, deployment, 40) == ["InProgress", "Succeeded"]
    i = info(world, deployment)
    assert i["deploymentConfigName"] == "CodeDeployDefault.ECSAllAtOnce"
    assert i["deploymentOverview"]["Succeeded"] == 1 and i["creator"] == "user"
    calls = fake_lambda.payloads("hook")
    assert len(calls) == 3
    assert all(set(c) == {"DeploymentId", "LifecycleEventHookExecutionId"} and c["DeploymentId"] == deployment
               for c in calls)
    assert len({c["LifecycleEventHookExecutionId"] for c in calls}) == 3
    t = target(world, deployment)
    assert t["status"] == "Succeeded" and t["targetArn"].endswith(":service/demo/web")
    assert [(e["lifecycleEventName"], e["status"]) for e in t["lifecycleEvents"]] == [
        ("BeforeInstall", "Succeeded"), ("Install", "Succeeded"), ("AfterInstall", "Skipped"),
        ("AllowTestTraffic", "Succeeded"), ("AfterAllowTestTraffic", "Succeeded"), ("BeforeAllowTraffic", "Skipped"),
        ("AllowTraffic", "Succeeded"), ("AfterAllowTraffic", "Succeeded")]
    assert [(s["taskSetLabel"], s["trafficWeight"], s["status"]) for s in t["taskSetsInfo"]] == [("Green", 100.0, "PRIMARY")]
    assert world.codedeploy.list_deployment_targets(deploymentId=deployment)["targetIds"] == ["demo:web"]
    svc = world.describe()
    assert svc["taskDefinition"] == td
    assert [(s["status"], s["taskDefinition"], s["runningCount"]) for s in svc["taskSets"]] == [("PRIMARY", td, 2)]
    states = [e["detail"]["state"] for e in world.events(source="aws.codedeploy")]
    assert states == ["START", "SUCCESS"]
    assert world.codedeploy.list_deployments(applicationName=APP, deploymentGroupName=GROUP,
                                             includeOnlyStatuses=["Succeeded"])["deployments"] == [deployment]


def test_a_code_deploy_service_refuses_update_service_with_a_task_definition(world):
    setup(world)
    created = world.describe()
    assert created["deploymentController"] == {"type": "CODE_DEPLOY"}
    assert [s["status"] for s in created["taskSets"]] == ["PRIMARY"], "the blue task set exists from creation"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2"))
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    assert err.value.response["Error"]["Message"] == (
        "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
        "Use AWS CodeDeploy to trigger a new deployment.")
    world.ecs.update_service(cluster="demo", service="web", desiredCount=3)  # the desired count may change


def test_a_group_that_waits_for_a_reroute_sits_in_ready_until_continue_deployment(start_local):
    world = start_local()
    setup(world, ready=30)
    deployment = create(world, appspec(world.task_definition("v2")))
    assert run(world, deployment, 30, until=lambda i: i["status"] == "Ready") == ["InProgress", "Ready"]
    world.step(5)
    i = info(world, deployment)
    assert i["status"] == "Ready" and i["deploymentOverview"]["Ready"] == 1
    assert target(world, deployment)["status"] == "Ready"
    assert green_weight(world, deployment) == 0.0
    states = [e["detail"]["state"] for e in world.events(source="aws.codedeploy")]
    assert states == ["START", "READY"]
    world.codedeploy.continue_deployment(deploymentId=deployment, deploymentWaitType="READY_WAIT")
    assert run(world, deployment, 20) == ["InProgress", "Succeeded"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.codedeploy.continue_deployment(deploymentId=deployment, deploymentWaitType="READY_WAIT")
    assert err.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"


def test_a_ready_wait_that_runs_out_stops_the_deployment(start_local):
    world = start_local()
    setup(world, ready=1)
    deployment = create(world, appspec(world.task_definition("v2")))
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.codedeploy.continue_deployment(deploymentId=deployment)
    assert err.value.response["Error"]["Code"] == "DeploymentIsNotInReadyStateException"
    assert run(world, deployment, 40) == ["InProgress", "Ready", "Stopped"]
    assert info(world, deployment)["errorInformation"]["code"] == "TIMEOUT"
    assert world.describe()["taskDefinition"].endswith("web:1")
    assert [s["status"] for s in world.describe()["taskSets"]] == ["PRIMARY"], "green is gone"


def test_deployment_configurations_built_in_and_custom_shift_traffic_on_the_clock(world):
    builtin = world.codedeploy.get_deployment_config(deploymentConfigName="CodeDeployDefault.ECSLinear10PercentEvery1Minutes")
    assert builtin["deploymentConfigInfo"]["trafficRoutingConfig"] == {
        "type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 10, "linearInterval": 1}}
    assert builtin["deploymentConfigInfo"]["computePlatform"] == "ECS"
    world.codedeploy.create_deployment_config(
        deploymentConfigName="Canary20Percent2Minutes", computePlatform="ECS",
        trafficRoutingConfig={"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": 20, "canaryInterval": 2}})
    custom = world.codedeploy.get_deployment_config(deploymentConfigName="Canary20Percent2Minutes")["deploymentConfigInfo"]
    assert custom["trafficRoutingConfig"]["timeBasedCanary"] == {"canaryPercentage": 20, "canaryInterval": 2}
    assert "Canary20Percent2Minutes" in world.codedeploy.list_deployment_configs()["deploymentConfigsList"]
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.codedeploy.get_deployment_config(deploymentConfigName="Nope")
    assert err.value.response["Error"]["Code"] == "DeploymentConfigDoesNotExistException"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.codedeploy.create_deployment_config(deploymentConfigName="Bad", computePlatform="ECS",
                                                  trafficRoutingConfig={"type": "TimeBasedCanary", "timeBasedCanary": {
                                                      "canaryPercentage": 100, "canaryInterval": 1}})
    assert err.value.response["Error"]["Code"] == "InvalidTrafficRoutingConfigurationException"

    setup(world, config="Canary20Percent2Minutes")
    deployment = create(world, appspec(world.task_definition("v2")))
    weights = []
    for _ in range(40):
        world.step()
        if info(world, deployment)["status"] == "Succeeded":
            break
        if any(e["lifecycleEventName"] == "Install" and e["status"] == "Succeeded"
               for e in target(world, deployment)["lifecycleEvents"]):
            weights.append(green_weight(world, deployment))
    assert info(world, deployment)["status"] == "Succeeded"
    assert info(world, deployment)["deploymentConfigName"] == "Canary20Percent2Minutes"
    shifted = [w for w in weights if w]
    assert shifted.count(20.0) == 10, "20 % for 2 minutes of 5 ticks"
    assert sorted(set(weights)) == [0.0, 20.0, 100.0]

    world.codedeploy.create_deployment_config(
        deploymentConfigName="Linear25Every1", computePlatform="ECS",
        trafficRoutingConfig={"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": 25, "linearInterval": 1}})
    deployment = create(world, appspec(world.task_definition("v3")), deploymentConfigName="Linear25Every1")
    weights = set()
    for _ in range(60):
        world.step()
        if info(world, deployment)["status"] == "Succeeded":
            break
        weights.add(green_weight(world, deployment) if info(world, deployment)["status"] == "InProgress"
                    and len(target(world, deployment)["taskSetsInfo"]) == 2 else None)
    assert {25.0, 50.0, 75.0} <= weights and not weights - {None, 0.0, 25.0, 50.0, 75.0, 100.0}
    assert world.describe()["taskDefinition"].endswith("web:3")


def test_a_failed_hook_fails_the_deployment_and_auto_rollback_creates_the_rollback_deployment(start_local, fake_lambda):
    world = start_local(lambda_endpoint=fake_lambda.endpoint)
    setup(world, rollback_events=["DEPLOYMENT_FAILURE"])
    fake_lambda.on("smoke", reporting_hook(world, "Failed"))
    blue = world.describe()["taskDefinition"]
    deployment = create(world, appspec(world.task_definition("v2"), hooks={"AfterAllowTestTraffic": HOOK.format("smoke")}))
    assert run(world, deployment, 30) == ["InProgress", "Failed"]
    i = info(world, deployment)
    assert i["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    rollback_id = i["rollbackInfo"]["rollbackDeploymentId"]
    events = {e["lifecycleEventName"]: e for e in target(world, deployment)["lifecycleEvents"]}
    assert events["AfterAllowTestTraffic"]["status"] == "Failed"
    assert events["AfterAllowTestTraffic"]["diagnostics"]["errorCode"] == "ScriptFailed"
    assert events["AllowTraffic"]["status"] == "Skipped"
    rb = info(world, rollback_id)
    assert rb["creator"] == "codeDeployRollback"
    assert rb["rollbackInfo"]["rollbackTriggeringDeploymentId"] == deployment
    assert run(world, rollback_id, 20)[-1] == "Succeeded"
    svc = world.describe()
    assert svc["taskDefinition"] == blue
    assert [(s["status"], s["taskDefinition"]) for s in svc["taskSets"]] == [("PRIMARY", blue)]
    states = [(e["detail"]["deploymentId"], e["detail"]["state"]) for e in world.events(source="aws.codedeploy")]
    assert states == [(deployment, "START"), (deployment, "FAILURE"), (rollback_id, "START"), (rollback_id, "SUCCESS")]


def test_stop_deployment_with_rollback_after_the_shift_and_continue_termination_wait(start_local):
    world = start_local()
    setup(world, termination=60)
    blue = world.describe()["taskDefinition"]
    deployment = create(world, appspec(world.task_definition("v2")))
    run(world, deployment, 30, until=lambda i: i["instanceTerminationWaitTimeStarted"])
    assert info(world, deployment)["status"] == "InProgress"
    assert green_weight(world, deployment) == 100.0
    answer = world.codedeploy.stop_deployment(deploymentId=deployment, autoRollbackEnabled=True)
    assert answer["status"] == "Pending"
    i = info(world, deployment)
    assert i["status"] == "Stopped" and i["errorInformation"]["code"] == "MANUAL_STOP"
    rollback_id = i["rollbackInfo"]["rollbackDeploymentId"]
    assert run(world, rollback_id, 20)[-1] == "Succeeded"
    assert world.describe()["taskDefinition"] == blue
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.codedeploy.stop_deployment(deploymentId=deployment)
    assert err.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"

    deployment = create(world, appspec(world.task_definition("v3")))
    run(world, deployment, 30, until=lambda i: i["instanceTerminationWaitTimeStarted"])
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.codedeploy.continue_deployment(deploymentId=deployment, deploymentWaitType="READY_WAIT")
    assert err.value.response["Error"]["Code"] == "DeploymentIsNotInReadyStateException"
    world.codedeploy.continue_deployment(deploymentId=deployment, deploymentWaitType="TERMINATION_WAIT")
    assert run(world, deployment, 3) == ["Succeeded"]
    assert world.describe()["taskDefinition"].endswith("web:3")


def test_a_broken_image_fails_install_and_without_rollback_blue_keeps_serving(world):
    setup(world)
    deployment = create(world, appspec(world.task_definition("v2-broken")))
    assert run(world, deployment, 30) == ["InProgress", "Failed"]
    i = info(world, deployment)
    assert i["errorInformation"]["code"] == "ECS_UPDATE_ERROR" and "failed to start" in i["errorInformation"]["message"]
    assert i["rollbackInfo"] == {}
    assert world.describe()["taskDefinition"].endswith("web:1")
    assert [s["status"] for s in world.describe()["taskSets"]] == ["PRIMARY"]


def test_appspec_checks(world):
    setup(world)
    for bad in ("not: [yaml", json.dumps({"version": 0.0, "Resources": []}),
                json.dumps({"Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
                    "TaskDefinition": "web:1"}}}]})):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            create(world, bad)
        assert err.value.response["Error"]["Code"] == "InvalidRevisionException"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        create(world, appspec(world.task_definition("v2")), deploymentConfigName="CodeDeployDefault.OneAtATime")
    assert err.value.response["Error"]["Code"] == "InvalidDeploymentConfigNameException"

    deployment = create(world, appspec(world.task_definition("v2"), container="web"))
    with pytest.raises(botocore.exceptions.ClientError) as err:
        create(world, appspec(world.task_definition("v2")))
    assert err.value.response["Error"]["Code"] == "DeploymentLimitExceededException", "one at a time per group"
    assert run(world, deployment, 10) == ["InProgress", "Failed"]
    assert info(world, deployment)["errorInformation"]["message"].startswith(
        "The AppSpec's LoadBalancerInfo (container web, port 8080) does not match")
    missing = create(world, appspec("arn:aws:ecs:us-east-1:123456789012:task-definition/web:99"))
    run(world, missing, 10)
    assert info(world, missing)["errorInformation"] == {
        "code": "ECS_UPDATE_ERROR",
        "message": "The ECS service cannot be updated: the task definition "
                   "arn:aws:ecs:us-east-1:123456789012:task-definition/web:99 does not exist."}
    yaml_spec = ("version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
                 f"        TaskDefinition: \"{world.task_definition('v3')}\"\n"
                 "        LoadBalancerInfo:\n          ContainerName: app\n          ContainerPort: 8080\n")
    assert run(world, create(world, yaml_spec), 20)[-1] == "Succeeded"


def test_put_lifecycle_event_hook_execution_status_refuses_what_codedeploy_refuses(start_local, fake_lambda):
    world = start_local(lambda_endpoint=fake_lambda.endpoint)
    setup(world)
    seen = []
    fake_lambda.on("slow", lambda event: seen.append(event))
    deployment = create(world, appspec(world.task_definition("v2"), hooks={"BeforeInstall": HOOK.format("slow")}))
    world.step(3)
    assert info(world, deployment)["status"] == "InProgress"
    (event,) = seen
    put = world.codedeploy.put_lifecycle_event_hook_execution_status
    for kwargs, code in (
        ({"lifecycleEventHookExecutionId": "nope", "status": "Succeeded"}, "InvalidLifecycleEventHookExecutionIdException"),
        ({"lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"], "status": "Pending"},
         "InvalidLifecycleEventHookExecutionStatusException"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            put(deploymentId=deployment, **kwargs)
        assert err.value.response["Error"]["Code"] == code
    world.step(5)
    assert target(world, deployment)["lifecycleEvents"][0]["status"] == "InProgress", "waits for the hook's report"
    put(deploymentId=deployment, lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"], status="Succeeded")
    with pytest.raises(botocore.exceptions.ClientError) as err:
        put(deploymentId=deployment, lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
            status="Succeeded")
    assert err.value.response["Error"]["Code"] == "LifecycleEventAlreadyCompletedException"
    assert run(world, deployment, 20)[-1] == "Succeeded"


def test_an_alarm_stops_the_deployment_and_rolls_back(world):
    world.cw.put_metric_alarm(AlarmName="5xx", MetricName="HTTPCode_Target_5XX_Count", Namespace="AWS/ApplicationELB",
                              Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1,
                              ComparisonOperator="GreaterThanOrEqualToThreshold")
    setup(world, termination=60, alarms=["5xx"], rollback_events=["DEPLOYMENT_STOP_ON_ALARM"])
    deployment = create(world, appspec(world.task_definition("v2")))
    run(world, deployment, 30, until=lambda i: i["instanceTerminationWaitTimeStarted"])
    world.cw.set_alarm_state(AlarmName="5xx", StateValue="ALARM", StateReason="errors")
    assert run(world, deployment, 3) == ["Stopped"]
    i = info(world, deployment)
    assert i["errorInformation"]["code"] == "ALARM_ACTIVE"
    assert run(world, i["rollbackInfo"]["rollbackDeploymentId"], 20)[-1] == "Succeeded"
    assert world.describe()["taskDefinition"].endswith("web:1")


def test_events_are_forwarded_to_a_local_function(start_local, fake_lambda):
    fake_lambda.on("deployer", lambda event: {"status": "ignored"})
    world = start_local(lambda_endpoint=fake_lambda.endpoint, events_function="deployer")
    world.service()
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2"))
    world.step(4)
    forwarded = fake_lambda.payloads("deployer")
    assert [e["detail"].get("eventName") for e in forwarded] == [e["detail"].get("eventName") for e in world.events()]
    assert {e["detail-type"] for e in forwarded} == {"ECS Deployment State Change", "ECS Service Action"}
    assert forwarded[-2]["detail"]["eventName"] == "SERVICE_DEPLOYMENT_COMPLETED"


def test_a_broken_image_with_auto_rollback_gets_a_rollback_deployment(world):
    setup(world, rollback_events=["DEPLOYMENT_FAILURE"])
    deployment = create(world, appspec(world.task_definition("v2-broken")))
    assert run(world, deployment, 30) == ["InProgress", "Failed"]
    i = info(world, deployment)
    assert i["errorInformation"]["code"] == "ECS_UPDATE_ERROR"
    rollback_id = i["rollbackInfo"]["rollbackDeploymentId"]
    assert info(world, rollback_id)["creator"] == "codeDeployRollback"
    assert run(world, rollback_id, 20)[-1] == "Succeeded"
    svc = world.describe()
    assert svc["taskDefinition"].endswith("web:1")
    assert [(s["status"], s["taskDefinition"].rsplit("/", 1)[1]) for s in svc["taskSets"]] == [("PRIMARY", "web:1")]


def test_describe_task_sets_shows_blue_and_green_during_a_deployment(world):
    setup(world, termination=60)
    deployment = create(world, appspec(world.task_definition("v2")))
    run(world, deployment, 30, until=lambda i: i["instanceTerminationWaitTimeStarted"])
    sets = world.ecs.describe_task_sets(cluster="demo", service="web")["taskSets"]
    assert sorted((s["status"], s["taskDefinition"].rsplit("/", 1)[1]) for s in sets) == [
        ("ACTIVE", "web:1"), ("PRIMARY", "web:2")]
    green = next(s for s in sets if s["status"] == "PRIMARY")
    assert green["externalId"] == deployment and green["startedBy"] == "CodeDeploy"
    (only,) = world.ecs.describe_task_sets(cluster="demo", service="web", taskSets=[green["taskSetArn"]])["taskSets"]
    assert only["id"] == green["id"] and only["runningCount"] == 2
