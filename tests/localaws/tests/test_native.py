"""ECS-native BLUE_GREEN, LINEAR and CANARY service deployments: stages, weights, bakes, hooks, rollbacks."""

from __future__ import annotations

import botocore.exceptions
import pytest

HOOK = "arn:aws:lambda:us-east-1:123456789012:function:{}"
ROLE = "arn:aws:iam::123456789012:role/ecs-hooks"


def blue_green(bake: int = 1, hooks: list | None = None, **extra) -> dict:
    return {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": bake, "lifecycleHooks": hooks or [], **extra}


def hook(name: str, *stages: str, **extra) -> dict:
    return {"hookTargetArn": HOOK.format(name), "roleArn": ROLE, "lifecycleStages": list(stages), **extra}


def deploy(world, tag: str = "v2") -> str:
    world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition(tag))
    return world.describe()["currentServiceDeployment"]


def walk(world, arn: str, ticks: int, until=lambda sd: False) -> list[tuple]:
    """(status, lifecycleStage, green's production weight) after each tick, consecutive repeats dropped."""
    seen: list[tuple] = []
    for _ in range(ticks):
        world.step()
        sd = world.service_deployment(arn)
        state = (sd["status"], sd.get("lifecycleStage"), sd["targetServiceRevision"].get("requestedProductionTrafficWeight"))
        if not seen or seen[-1] != state:
            seen.append(state)
        if sd["status"] in ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED") or until(sd):
            break
    return seen


def test_blue_green_walks_every_stage_bakes_on_the_clock_and_invokes_its_hooks(start_local, fake_lambda):
    world = start_local(lambda_endpoint=fake_lambda.endpoint)
    fake_lambda.on("check", lambda event: {"hookStatus": "SUCCEEDED"})
    hooks = [hook("check", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT",
                  hookDetails={"suite": "smoke"})]
    created = world.service(config=blue_green(bake=2, hooks=hooks))
    assert created["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"
    arn = deploy(world)
    sd = world.service_deployment(arn)
    assert sd["status"] == "PENDING" and sd["deploymentConfiguration"]["bakeTimeInMinutes"] == 2
    seen = walk(world, arn, 60)
    stages = [s[1] for s in seen if s[0] == "IN_PROGRESS"]
    assert stages == ["PRE_SCALE_UP", "SCALE_UP", "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT",
                      "PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT",
                      "BAKE_TIME", "CLEAN_UP"], seen
    assert ("IN_PROGRESS", "BAKE_TIME", 100.0) in seen
    assert seen[-1][0] == "SUCCESSFUL"

    calls = fake_lambda.payloads("check")
    assert [c["lifecycleStage"] for c in calls] == ["POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"]
    sd = world.service_deployment(arn)
    green, blue = sd["targetServiceRevision"]["arn"], sd["sourceServiceRevisions"][0]["arn"]
    for c in calls:
        assert c["resourceArn"] == arn and c["hookDetails"] == {"suite": "smoke"} and c["executionId"]
        assert c["executionDetails"]["serviceArn"] == "arn:aws:ecs:us-east-1:123456789012:service/demo/web"
        assert c["executionDetails"]["targetServiceRevisionArn"] == green
    assert calls[0]["executionDetails"]["testTrafficWeights"] == {}
    assert calls[1]["executionDetails"]["testTrafficWeights"] == {green: 100.0, blue: 0.0}
    assert calls[2]["executionDetails"]["productionTrafficWeights"] == {green: 100.0, blue: 0.0}
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:2")]
    assert world.describe()["runningCount"] == 2


def test_the_bake_lasts_its_minutes(start_local):
    world = start_local(minute=4.0)
    world.service(config=blue_green(bake=3))
    arn = deploy(world)
    ticks_in_bake = 0
    for _ in range(40):
        world.step()
        sd = world.service_deployment(arn)
        if sd.get("lifecycleStage") == "BAKE_TIME" and sd["status"] == "IN_PROGRESS":
            ticks_in_bake += 1
        if sd["status"] == "SUCCESSFUL":
            break
    assert ticks_in_bake == 12, "3 minutes of 4 ticks each"


def test_a_hook_answering_in_progress_is_invoked_again_after_its_callback_delay_with_its_details(start_local, fake_lambda):
    world = start_local(lambda_endpoint=fake_lambda.endpoint)
    answers = iter([
        {"hookStatus": "IN_PROGRESS", "callBackDelay": 36, "hookDetails": {"attempt": 1}},
        {"hookStatus": "SUCCEEDED"},
    ])
    fake_lambda.on("wait", lambda event: next(answers))
    world.service(config=blue_green(hooks=[hook("wait", "POST_SCALE_UP", hookDetails={"env": "prod"})]))
    arn = deploy(world)
    ticks = {}
    for tick in range(1, 30):
        world.step()
        if len(fake_lambda.payloads("wait")) not in ticks.values():
            ticks[tick] = len(fake_lambda.payloads("wait"))
        if world.service_deployment(arn)["lifecycleStage"] == "TEST_TRAFFIC_SHIFT":
            break
    first, second = [t for t, n in ticks.items() if n in (1, 2)]
    # The answer is read at the next tick, then 36 s pass on a clock where a minute is 5 ticks: 3 ticks.
    assert second - first == 1 + 3
    first_call, second_call = fake_lambda.payloads("wait")
    assert first_call["hookDetails"] == {"env": "prod"}
    assert second_call["hookDetails"] == {"env": "prod", "attempt": 1}, "returned hookDetails are merged in"
    assert first_call["executionId"] == second_call["executionId"]


def test_a_failing_hook_rolls_back_and_the_test_traffic_hooks_see_blue_at_100(start_local, fake_lambda):
    world = start_local(lambda_endpoint=fake_lambda.endpoint)
    fake_lambda.on("traffic", lambda event: {"hookStatus": "SUCCEEDED"})
    fake_lambda.on("smoke", lambda event: {"hookStatus": "FAILED"})
    world.service(config=blue_green(hooks=[hook("traffic", "TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"),
                                           hook("smoke", "POST_TEST_TRAFFIC_SHIFT")]))
    arn = deploy(world, "v2")
    seen = walk(world, arn, 40)
    statuses = [s[0] for s in seen]
    assert statuses[-3:] == ["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"], seen
    assert ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", 0.0) in seen
    sd = world.service_deployment(arn)
    green, blue = sd["targetServiceRevision"]["arn"], sd["sourceServiceRevisions"][0]["arn"]
    assert sd["rollback"]["reason"] == f"Lifecycle hook {HOOK.format('smoke')} returned hookStatus FAILED at POST_TEST_TRAFFIC_SHIFT."
    assert sd["rollback"]["serviceRevisionArn"] == blue
    traffic = fake_lambda.payloads("traffic")
    assert [c["lifecycleStage"] for c in traffic] == ["TEST_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT"], "once, then on rollback"
    assert traffic[1]["executionDetails"]["testTrafficWeights"] == {green: 0.0, blue: 100.0}
    assert traffic[1]["executionDetails"]["targetServiceRevisionArn"] == green
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:1")]
    assert world.describe()["taskDefinition"].endswith("web:1")
    failed = [e["detail"] for e in world.events(**{"detail-type": "ECS Deployment State Change"})
              if e["detail"]["eventName"] == "SERVICE_DEPLOYMENT_FAILED"]
    assert len(failed) == 1 and failed[0]["reason"] == sd["rollback"]["reason"]


def test_a_hook_that_raises_or_answers_no_status_counts_as_failed(start_local, fake_lambda):
    world = start_local(lambda_endpoint=fake_lambda.endpoint)

    def boom(event):
        raise RuntimeError("no database")

    fake_lambda.on("empty", lambda event: {})
    fake_lambda.on("boom", boom)
    world.service(config=blue_green(hooks=[hook("empty", "PRE_SCALE_UP")]))
    arn = deploy(world)
    walk(world, arn, 20)
    sd = world.service_deployment(arn)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    assert sd["rollback"]["reason"].endswith("HookStatus must not be null.")
    world.ecs.update_service(cluster="demo", service="web",
                             deploymentConfiguration=blue_green(hooks=[hook("boom", "PRE_SCALE_UP")]))
    arn = deploy(world, "v3")
    walk(world, arn, 20)
    sd = world.service_deployment(arn)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL" and "no database" in sd["rollback"]["reason"]


def test_a_pause_hook_waits_for_continue_service_deployment(start_local):
    world = start_local()
    world.service(config=blue_green(hooks=[{"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}]))
    arn = deploy(world)
    walk(world, arn, 30, until=lambda sd: sd.get("lifecycleStage") == "POST_TEST_TRAFFIC_SHIFT")
    world.step(10)
    sd = world.service_deployment(arn)
    assert (sd["status"], sd["lifecycleStage"]) == ("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT")
    (paused,) = sd["lifecycleHookDetails"]
    assert paused["status"] == "AWAITING_ACTION" and paused["targetType"] == "PAUSE"
    assert paused["expiresAt"] and paused["timeoutAction"] == "ROLLBACK"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="not-a-hook")
    assert err.value.response["Error"]["Code"] == "InvalidParameterException"
    world.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=paused["hookId"], action="CONTINUE")
    assert walk(world, arn, 40)[-1][0] == "SUCCESSFUL"
    with pytest.raises(botocore.exceptions.ClientError) as err:
        world.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=paused["hookId"])
    assert err.value.response["Error"]["Code"] == "ConflictException"

    arn = deploy(world, "v3")
    walk(world, arn, 30, until=lambda sd: sd.get("lifecycleStage") == "POST_TEST_TRAFFIC_SHIFT")
    world.step()
    hook_id = world.service_deployment(arn)["lifecycleHookDetails"][0]["hookId"]
    world.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id, action="ROLLBACK")
    assert walk(world, arn, 20)[-1][0] == "ROLLBACK_SUCCESSFUL"
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:2")]


def test_a_paused_hook_that_times_out_takes_its_timeout_action(start_local):
    world = start_local()
    pause = {"targetType": "PAUSE", "lifecycleStages": ["POST_SCALE_UP"],
             "timeoutConfiguration": {"timeoutInMinutes": 1, "action": "CONTINUE"}}
    world.service(config=blue_green(hooks=[pause]))
    arn = deploy(world)
    assert walk(world, arn, 60)[-1][0] == "SUCCESSFUL"
    pause["timeoutConfiguration"]["action"] = "ROLLBACK"
    world.ecs.update_service(cluster="demo", service="web", deploymentConfiguration=blue_green(hooks=[pause]))
    arn = deploy(world, "v3")
    walk(world, arn, 60)
    sd = world.service_deployment(arn)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL" and "timed out at POST_SCALE_UP" in sd["rollback"]["reason"]


def test_canary_shifts_its_percent_bakes_then_shifts_the_rest(start_local, fake_lambda):
    world = start_local(lambda_endpoint=fake_lambda.endpoint)
    fake_lambda.on("shift", lambda event: {"hookStatus": "SUCCEEDED"})
    config = {"strategy": "CANARY", "bakeTimeInMinutes": 0,
              "canaryConfiguration": {"canaryPercent": 10.0, "canaryBakeTimeInMinutes": 2},
              "lifecycleHooks": [hook("shift", "PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")]}
    world.service(config={"strategy": "ROLLING"})
    world.ecs.update_service(cluster="demo", service="web", deploymentConfiguration=config)
    assert world.describe()["deploymentConfiguration"]["strategy"] == "CANARY", "kept from UpdateService"
    arn = deploy(world)
    seen = walk(world, arn, 60)
    weights = [w for status, stage, w in seen if stage == "PRODUCTION_TRAFFIC_SHIFT"]
    assert weights == [0.0, 10.0, 100.0], seen
    calls = fake_lambda.payloads("shift")
    assert [(c["lifecycleStage"], max(c["executionDetails"]["productionTrafficWeights"].values(), default=None),
             c["executionDetails"]["productionTrafficWeights"].get(c["executionDetails"]["targetServiceRevisionArn"]))
            for c in calls] == [
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", 100.0, 0.0),
        ("PRODUCTION_TRAFFIC_SHIFT", 90.0, 10.0),
        ("PRE_PRODUCTION_TRAFFIC_SHIFT", 90.0, 10.0),
        ("PRODUCTION_TRAFFIC_SHIFT", 100.0, 100.0),
    ]
    assert seen[-1][0] == "SUCCESSFUL"
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:2")]


def test_linear_shifts_step_by_step(start_local):
    world = start_local()
    world.service(config={"strategy": "LINEAR", "linearConfiguration": {"stepPercent": 25.0, "stepBakeTimeInMinutes": 1}})
    arn = deploy(world)
    seen = walk(world, arn, 80)
    assert [w for _, stage, w in seen if stage == "PRODUCTION_TRAFFIC_SHIFT"] == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert seen[-1][0] == "SUCCESSFUL"


def test_a_broken_image_without_the_breaker_stays_in_scale_up_and_is_not_rolled_back(world):
    # No source describes ECS failing a native deployment by itself before the 24-hour stage limit.
    world.service(config=blue_green(deploymentCircuitBreaker={"enable": True, "rollback": True}))
    arn = deploy(world, "v2-broken")
    seen = walk(world, arn, 30)
    assert seen[-1] == ("IN_PROGRESS", "SCALE_UP", 0.0), seen
    sd = world.service_deployment(arn)
    assert sd["deploymentCircuitBreaker"]["status"] == "DISABLED", "the breaker does not apply (the API's word)"
    assert sd.get("rollback") is None
    dep_id = next(d["id"] for d in world.describe()["deployments"] if d["taskDefinition"].endswith("web:2"))
    stopped = world.ecs.list_tasks(cluster="demo", serviceName="web", desiredStatus="STOPPED")["taskArns"]
    tasks = world.ecs.describe_tasks(cluster="demo", tasks=stopped)["tasks"]
    ours = [t for t in tasks if t["startedBy"] == dep_id]
    assert len(ours) >= 3 and all(t["stopCode"] == "EssentialContainerExited" for t in ours), ours


def test_with_the_native_circuit_breaker_switch_a_broken_image_is_rolled_back_by_the_breaker(start_local):
    world = start_local(native_circuit_breaker=True)
    world.service(config=blue_green(deploymentCircuitBreaker={"enable": True, "rollback": True}))
    arn = deploy(world, "v2-broken")
    seen = walk(world, arn, 30)
    assert ("IN_PROGRESS", "SCALE_UP", 0.0) in seen
    assert [s[0] for s in seen][-3:] == ["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    sd = world.service_deployment(arn)
    assert sd["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert sd["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:1")]
    # Without the breaker enabled on the service, the switch changes nothing.
    world.service(name="api", config=blue_green())
    world.ecs.update_service(cluster="demo", service="api", taskDefinition=world.task_definition("v2-broken"))
    other = world.describe("api")["currentServiceDeployment"]
    assert walk(world, other, 20)[-1] == ("IN_PROGRESS", "SCALE_UP", 0.0)


def test_a_stage_that_reaches_24_hours_fails_and_rolls_back(start_local):
    world = start_local(minute=0.002)  # 24 hours last under 3 ticks
    world.service(config=blue_green())
    arn = deploy(world, "v2-broken")
    seen = walk(world, arn, 30)
    assert [s[0] for s in seen][-3:] == ["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"], seen
    assert "24 hours" in world.service_deployment(arn)["rollback"]["reason"]


@pytest.mark.parametrize("stale", [False, True])
def test_update_service_names_the_new_service_deployment_unless_told_it_is_stale(start_local, stale):
    world = start_local(stale_current_deployment=stale)
    world.service(config=blue_green())
    before = world.describe()["currentServiceDeployment"]
    answer = world.ecs.update_service(cluster="demo", service="web", taskDefinition=world.task_definition("v2"))
    newest = world.ecs.list_service_deployments(cluster="demo", service="web")["serviceDeployments"][0]
    assert newest["serviceDeploymentArn"] != before
    named = answer["service"]["currentServiceDeployment"]
    assert named == (before if stale else newest["serviceDeploymentArn"]), stale
    world.step()
    assert world.describe()["currentServiceDeployment"] == newest["serviceDeploymentArn"], "a tick later"


def test_an_alarm_in_alarm_at_the_start_is_not_watched(world):
    world.cw.put_metric_alarm(AlarmName="p99", MetricName="TargetResponseTime", Namespace="AWS/ApplicationELB",
                              Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=1,
                              ComparisonOperator="GreaterThanThreshold")
    world.cw.set_alarm_state(AlarmName="p99", StateValue="ALARM", StateReason="already firing")
    world.service(config=blue_green(bake=1, alarms={"alarmNames": ["p99"], "enable": True, "rollback": True}))
    arn = deploy(world)
    seen = walk(world, arn, 60)
    assert seen[-1][0] == "SUCCESSFUL", seen
    assert world.service_deployment(arn)["alarms"]["triggeredAlarmNames"] == []


@pytest.mark.parametrize("drop", [False, True])
def test_the_failed_hook_stays_listed_through_the_rollback_unless_dropped(start_local, fake_lambda, drop):
    world = start_local(lambda_endpoint=fake_lambda.endpoint, drop_failed_hooks=drop)
    fake_lambda.on("smoke", lambda event: {"hookStatus": "FAILED"})
    world.service(config=blue_green(hooks=[hook("smoke", "POST_TEST_TRAFFIC_SHIFT")]))
    arn = deploy(world, "v2")
    walk(world, arn, 40)
    sd = world.service_deployment(arn)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    failed = [h for h in sd["lifecycleHookDetails"] if h["status"] == "FAILED"]
    assert [h["targetArn"] for h in failed] == ([] if drop else [HOOK.format("smoke")])


def test_stop_service_deployment_during_the_bake_rolls_back_and_later_conflicts(world):
    world.service(config=blue_green(bake=30))
    arn = deploy(world)
    walk(world, arn, 40, until=lambda sd: sd.get("lifecycleStage") == "BAKE_TIME")
    assert world.service_deployment(arn)["targetServiceRevision"]["requestedProductionTrafficWeight"] == 100.0
    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    seen = walk(world, arn, 10)
    assert [s[0] for s in seen] == ["ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    sd = world.service_deployment(arn)
    assert sd["targetServiceRevision"]["requestedProductionTrafficWeight"] == 0.0
    assert sd["sourceServiceRevisions"][0]["requestedProductionTrafficWeight"] == 100.0
    assert world.deployments() == [("PRIMARY", "COMPLETED", "web:1")]
    for call in (lambda: world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK"),
                 lambda: world.ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId="x")):
        with pytest.raises(botocore.exceptions.ClientError) as err:
            call()
        assert err.value.response["Error"]["Code"] == "ConflictException"


def test_stop_service_deployment_abort_stops_it(world):
    world.service(config=blue_green(bake=30))
    arn = deploy(world)
    world.step(2)
    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ABORT")
    assert world.service_deployment(arn)["status"] == "STOP_REQUESTED"
    world.step()
    sd = world.service_deployment(arn)
    assert sd["status"] == "STOPPED" and sd["stoppedAt"]


def test_an_alarm_during_the_bake_rolls_back(world):
    world.cw.put_metric_alarm(AlarmName="p99", MetricName="TargetResponseTime", Namespace="AWS/ApplicationELB",
                              Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=1,
                              ComparisonOperator="GreaterThanThreshold")
    world.service(config=blue_green(bake=30, alarms={"alarmNames": ["p99"], "enable": True, "rollback": True}))
    arn = deploy(world)
    walk(world, arn, 40, until=lambda sd: sd.get("lifecycleStage") == "BAKE_TIME")
    world.cw.set_alarm_state(AlarmName="p99", StateValue="ALARM", StateReason="slow")
    seen = walk(world, arn, 10)
    assert [s[0] for s in seen] == ["ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL"]
    sd = world.service_deployment(arn)
    assert sd["alarms"]["triggeredAlarmNames"] == ["p99"] and "p99" in sd["rollback"]["reason"]


def test_a_rollback_hook_that_fails_leaves_rollback_failed(start_local, fake_lambda):
    world = start_local(lambda_endpoint=fake_lambda.endpoint)
    calls = []

    def traffic(event):
        calls.append(event)
        return {"hookStatus": "SUCCEEDED" if len(calls) == 1 else "FAILED"}

    fake_lambda.on("traffic", traffic)
    world.service(config=blue_green(bake=30, hooks=[hook("traffic", "TEST_TRAFFIC_SHIFT")]))
    arn = deploy(world)
    walk(world, arn, 40, until=lambda sd: sd.get("lifecycleStage") == "BAKE_TIME")
    world.ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType="ROLLBACK")
    assert walk(world, arn, 10)[-1][0] == "ROLLBACK_FAILED"
    assert world.service_deployment(arn)["statusReason"].startswith("Rollback failed")


def test_without_a_lambda_endpoint_a_lambda_hook_fails_and_rolls_back(world):
    world.service(config=blue_green(hooks=[hook("nowhere", "PRE_SCALE_UP")]))
    arn = deploy(world)
    walk(world, arn, 10)
    sd = world.service_deployment(arn)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL" and "LOCAL_AWS_LAMBDA_ENDPOINT" in sd["rollback"]["reason"]
