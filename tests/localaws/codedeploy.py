"""CodeDeploy blue/green for ECS, on the local AWS's clock.

moto keeps applications, deployment groups and deployments; this engine gives a deployment its life.
CreateDeployment checks the AppSpec (a JSON or YAML ``AppSpecContent`` with a ``TargetService`` naming a
``TaskDefinition`` and ``LoadBalancerInfo``; a malformed one is an ``InvalidRevisionException``), ids look
like ``d-XXXXXXXXX``, and one tick later the deployment is InProgress and walks the ECS lifecycle events:

BeforeInstall (hook), Install (the green task set starts; a task definition that does not exist, a
container name or port that is not the service's load balancer's, fail it with ECS_UPDATE_ERROR; a
``broken`` image never starts and fails it), AfterInstall (hook), AllowTestTraffic, AfterAllowTestTraffic
(hook), then Ready when the group's ``deploymentReadyOption.actionOnTimeout`` is STOP_DEPLOYMENT (until
ContinueDeployment(READY_WAIT), or Stopped when ``waitTimeInMinutes`` runs out), BeforeAllowTraffic
(hook), AllowTraffic (traffic shifted per the deployment configuration: the five ECS built-ins or a custom
TimeBasedCanary/TimeBasedLinear/AllAtOnce one), AfterAllowTraffic (hook); then, when the group keeps blue
for ``terminationWaitTimeInMinutes``, a termination wait (ContinueDeployment(TERMINATION_WAIT) ends it);
then Succeeded, with the service on the new task definition.

A hook is a Lambda function invoked (asynchronously) at the local Lambda endpoint with
``{"DeploymentId", "LifecycleEventHookExecutionId"}``; its lifecycle event waits for
PutLifecycleEventHookExecutionStatus (Succeeded or Failed), one (clock) hour at most. A failure, a
deployment alarm in ALARM or StopDeployment ends the deployment Failed or Stopped; with auto-rollback
configured for that event (on the deployment, else on the group; StopDeployment's
``autoRollbackEnabled`` decides for itself) a rollback deployment (``creator = codeDeployRollback``,
``rollbackInfo`` on both) puts the traffic and the service back on blue.
"""

from __future__ import annotations

import json
import random
import string
import uuid
from typing import TYPE_CHECKING, Any

import yaml
from moto.cloudwatch.models import cloudwatch_backends
from moto.codedeploy.exceptions import CodeDeployException
from moto.codedeploy.models import codedeploy_backends
from moto.core.utils import utcnow


if TYPE_CHECKING:
    from .server import LocalAws

EVENTS = ["BeforeInstall", "Install", "AfterInstall", "AllowTestTraffic", "AfterAllowTestTraffic",
          "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
HOOK_EVENTS = {"BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"}
IN_FLIGHT = ("Created", "Queued", "InProgress", "Ready", "Baking")
HOOK_TIMEOUT_MINUTES = 60


def _linear(percent: int, minutes: int) -> dict:
    return {"type": "TimeBasedLinear", "timeBasedLinear": {"linearPercentage": percent, "linearInterval": minutes}}


def _canary(percent: int, minutes: int) -> dict:
    return {"type": "TimeBasedCanary", "timeBasedCanary": {"canaryPercentage": percent, "canaryInterval": minutes}}


BUILT_IN = {
    "CodeDeployDefault.ECSAllAtOnce": ("ECS", {"trafficRoutingConfig": {"type": "AllAtOnce"}}),
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes": ("ECS", {"trafficRoutingConfig": _linear(10, 1)}),
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes": ("ECS", {"trafficRoutingConfig": _linear(10, 3)}),
    "CodeDeployDefault.ECSCanary10Percent5Minutes": ("ECS", {"trafficRoutingConfig": _canary(10, 5)}),
    "CodeDeployDefault.ECSCanary10Percent15Minutes": ("ECS", {"trafficRoutingConfig": _canary(10, 15)}),
    "CodeDeployDefault.AllAtOnce": ("Server", {"minimumHealthyHosts": {"type": "FLEET_PERCENT", "value": 0}}),
    "CodeDeployDefault.HalfAtATime": ("Server", {"minimumHealthyHosts": {"type": "FLEET_PERCENT", "value": 50}}),
    "CodeDeployDefault.OneAtATime": ("Server", {"minimumHealthyHosts": {"type": "HOST_COUNT", "value": 1}}),
    "CodeDeployDefault.LambdaAllAtOnce": ("Lambda", {"trafficRoutingConfig": {"type": "AllAtOnce"}}),
}


def _error(code: str, message: str) -> CodeDeployException:
    return CodeDeployException(code, message)


def _deployment_id() -> str:
    return "d-" + "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(9))


def parse_appspec(content: str | None) -> dict:
    """The AppSpec's TargetService and hooks, or InvalidRevisionException saying what is wrong."""
    if not content:
        raise _error("InvalidRevisionException", "The AppSpec content is empty.")
    try:
        spec = json.loads(content)
    except ValueError:
        try:
            spec = yaml.safe_load(content)
        except yaml.YAMLError as e:
            raise _error("InvalidRevisionException", f"The AppSpec content is neither JSON nor YAML: {e}")
    if not isinstance(spec, dict):
        raise _error("InvalidRevisionException", "The AppSpec content is not a mapping.")
    target = None
    for resource in spec.get("Resources") or []:
        for value in (resource or {}).values():
            if isinstance(value, dict) and value.get("Type") == "AWS::ECS::Service":
                target = value.get("Properties") or {}
    if target is None:
        raise _error("InvalidRevisionException",
                     "The AppSpec has no Resources entry of Type AWS::ECS::Service (TargetService).")
    task_definition = target.get("TaskDefinition")
    lb = target.get("LoadBalancerInfo") or {}
    if not task_definition:
        raise _error("InvalidRevisionException", "The AppSpec's TargetService has no TaskDefinition.")
    if not lb.get("ContainerName") or lb.get("ContainerPort") is None:
        raise _error("InvalidRevisionException",
                     "The AppSpec's TargetService needs LoadBalancerInfo with ContainerName and ContainerPort.")
    hooks: dict[str, str] = {}
    for entry in spec.get("Hooks") or []:
        for name, fn in (entry or {}).items():
            if name not in HOOK_EVENTS:
                raise _error("InvalidRevisionException", f"{name} is not an ECS AppSpec hook.")
            hooks[name] = fn
    return {"task_definition": task_definition, "container": lb["ContainerName"],
            "port": int(lb["ContainerPort"]), "hooks": hooks}


class CdDeployment:
    def __init__(self, engine: "CodeDeployEngine", info: Any, spec: dict, creator: str = "user",
                 rollback_of: "CdDeployment | None" = None):
        self.engine = engine
        self.info = info
        self.id = info.deployment_id
        self.group = info.deployment_group
        self.spec = spec
        self.creator = creator
        self.rollback_of = rollback_of
        self._status = "Created"
        info.status = "Created"
        self.error: dict | None = None
        self.rollback_info: dict | None = None
        self.events = [{"lifecycleEventName": n, "status": "Pending"} for n in EVENTS]
        self.index = 0
        self.executions: dict[str, dict] = {}  # hook execution id -> {"event", "status"}
        self.green: dict | None = None
        self.blue: dict | None = None
        self.weight = 0.0  # production traffic on green
        self.test_on_green = False
        self.steps: list[tuple[float, float]] = []
        self.wait_until: float | None = None
        self.ready_until: float | None = None
        self.termination_until: float | None = None
        self.termination_started = False
        self.continued_ready = False
        self.hook_deadline: float | None = None
        self.hook_future: Any = None
        self.start_time = None
        self.complete_time = None
        self.status_messages: list[str] = []
        info.localaws_overlay = self.overlay

    @property
    def status(self) -> str:
        return self._status

    @status.setter
    def status(self, value: str) -> None:
        self._status = value
        self.info.status = value  # moto's ListDeployments filters on it

    # ---- what GetDeployment shows on top of moto's fields ----

    def target_status(self) -> str:
        return {"Created": "Pending", "Queued": "Pending", "InProgress": "InProgress", "Baking": "InProgress",
                "Ready": "Ready", "Succeeded": "Succeeded", "Failed": "Failed", "Stopped": "Failed"}[self.status]

    def overlay(self) -> dict:
        overview = {k: 0 for k in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")}
        overview[self.target_status()] = 1
        out: dict[str, Any] = {
            "deploymentId": self.id,
            "status": self.status,
            "deploymentOverview": overview,
            "creator": self.creator,
            "startTime": self.start_time,
            "completeTime": self.complete_time,
            "instanceTerminationWaitTimeStarted": self.termination_started,
            "deploymentStatusMessages": self.status_messages,
            "deploymentConfigName": self.engine.config_name(self.info),
            "errorInformation": self.error or {},
            "rollbackInfo": self.rollback_info or {},
        }
        return out

    def target_id(self) -> str:
        ecs = (self.group.ecs_services or [{}])[0]
        return f"{ecs.get('clusterName')}:{ecs.get('serviceName')}"

    def target(self) -> dict:
        st = self.engine.ecs_state(self)
        task_sets = []
        groups = ((self.group.load_balancer_info or {}).get("targetGroupPairInfoList") or [{}])[0].get("targetGroups") or []
        for ts, label, weight in ((self.blue, "Blue", 100.0 - self.weight), (self.green, "Green", self.weight)):
            if ts is None:
                continue
            index = 0 if label == "Blue" else 1
            task_sets.append({
                "identifer": ts["id"],
                "desiredCount": ts["computedDesiredCount"],
                "pendingCount": sum(1 for t in ts["_tasks"] if t.last_status == "PENDING"),
                "runningCount": sum(1 for t in ts["_tasks"] if t.last_status == "RUNNING"),
                "status": ts["status"],
                "trafficWeight": weight,
                "targetGroup": groups[index] if index < len(groups) else {},
                "taskSetLabel": label,
            })
        return {
            "deploymentTargetType": "ECSTarget",
            "ecsTarget": {
                "deploymentId": self.id,
                "targetId": self.target_id(),
                "targetArn": st.service.arn if st else None,
                "lastUpdatedAt": utcnow(),
                "lifecycleEvents": [{k: v for k, v in e.items() if not k.startswith("_")} for e in self.events],
                "status": self.target_status(),
                "taskSetsInfo": task_sets,
            },
        }

    @property
    def finished(self) -> bool:
        return self.status not in IN_FLIGHT


class CodeDeployEngine:
    def __init__(self, aws: "LocalAws", account: str, region: str):
        self.aws = aws
        self.account = account
        self.region = region
        self.deployments: dict[str, CdDeployment] = {}
        self.configs: dict[str, tuple[str, dict, Any, str]] = {}  # name -> (platform, config, created, id)

    @property
    def backend(self) -> Any:
        return codedeploy_backends[self.account][self.region]

    def _emit(self, d: CdDeployment, state: str) -> None:
        self.aws.bus.emit(
            "aws.codedeploy",
            "CodeDeploy Deployment State-change Notification",
            [f"arn:aws:codedeploy:{self.region}:{self.account}:deploymentgroup:{d.info.application_name}/"
             f"{d.info.deployment_group_name}",
             f"arn:aws:codedeploy:{self.region}:{self.account}:application:{d.info.application_name}"],
            {"account": self.account, "region": self.region, "deploymentId": d.id,
             "instanceGroupId": d.group.deployment_group_id, "deploymentGroup": d.info.deployment_group_name,
             "state": state, "application": d.info.application_name},
            self.region,
            self.account,
        )

    # ---- configurations ----

    def config_name(self, info: Any) -> str:
        name = str(info.deployment_config_name) if info.deployment_config_name else None
        if info.application.compute_platform == "ECS" and name in (None, "CodeDeployDefault.OneAtATime"):
            return "CodeDeployDefault.ECSAllAtOnce"
        return name or "CodeDeployDefault.OneAtATime"

    def _config(self, name: str) -> tuple[str, dict]:
        if name in BUILT_IN:
            return BUILT_IN[name]
        if name in self.configs:
            platform, config, _, _ = self.configs[name]
            return platform, config
        raise _error("DeploymentConfigDoesNotExistException", f"The deployment config {name} does not exist.")

    def get_deployment_config(self, p: dict) -> dict:
        name = p.get("deploymentConfigName")
        if not name:
            raise _error("DeploymentConfigNameRequiredException", "A deployment config name is required.")
        platform, config = self._config(name)
        created = self.configs[name][2] if name in self.configs else None
        info = {"deploymentConfigName": name, "computePlatform": platform, **config,
                "deploymentConfigId": self.configs[name][3] if name in self.configs else
                str(uuid.uuid5(uuid.NAMESPACE_URL, name))}
        if created:
            info["createTime"] = created
        return {"deploymentConfigInfo": info}

    def create_deployment_config(self, p: dict) -> dict:
        name = p.get("deploymentConfigName")
        if not name:
            raise _error("DeploymentConfigNameRequiredException", "A deployment config name is required.")
        if name in self.configs or name in BUILT_IN:
            raise _error("DeploymentConfigAlreadyExistsException", f"The deployment config {name} already exists.")
        platform = p.get("computePlatform") or "Server"
        config: dict[str, Any] = {}
        routing = p.get("trafficRoutingConfig")
        if platform in ("ECS", "Lambda"):
            if not routing or routing.get("type") not in ("AllAtOnce", "TimeBasedCanary", "TimeBasedLinear"):
                raise _error("InvalidTrafficRoutingConfigurationException",
                             "An ECS deployment config needs trafficRoutingConfig of type AllAtOnce, "
                             "TimeBasedCanary or TimeBasedLinear.")
            part = routing.get("timeBasedCanary") or routing.get("timeBasedLinear") or {}
            if routing["type"] != "AllAtOnce":
                percent = part.get("canaryPercentage", part.get("linearPercentage"))
                interval = part.get("canaryInterval", part.get("linearInterval"))
                if not isinstance(percent, int) or not 1 <= percent <= 99 or not isinstance(interval, int) or interval < 0:
                    raise _error("InvalidTrafficRoutingConfigurationException",
                                 "The traffic routing percentage must be 1-99 and the interval whole minutes.")
            config["trafficRoutingConfig"] = routing
        elif p.get("minimumHealthyHosts"):
            config["minimumHealthyHosts"] = p["minimumHealthyHosts"]
        config_id = str(uuid.uuid4())
        self.configs[name] = (platform, config, utcnow(), config_id)
        return {"deploymentConfigId": config_id}

    def delete_deployment_config(self, p: dict) -> dict:
        name = p.get("deploymentConfigName") or ""
        if name in BUILT_IN:
            raise _error("InvalidOperationException", f"{name} is a default configuration and cannot be deleted.")
        self.configs.pop(name, None)
        return {}

    def list_deployment_configs(self, p: dict) -> dict:
        return {"deploymentConfigsList": sorted(list(BUILT_IN) + list(self.configs))}

    def on_create_deployment_group(self, params: dict) -> None:
        app = self.backend.applications.get(params.get("applicationName"))
        group = self.backend.deployment_groups.get(params.get("applicationName"), {}).get(
            params.get("deploymentGroupName"))
        if app is not None and group is not None and app.compute_platform == "ECS" and not params.get(
                "deploymentConfigName"):
            group.deployment_config_name = "CodeDeployDefault.ECSAllAtOnce"

    # ---- CreateDeployment ----

    def check_create_deployment(self, p: dict) -> None:
        app = self.backend.applications.get(p.get("applicationName"))
        if app is None or app.compute_platform != "ECS":
            return  # moto answers for the application; non-ECS deployments keep moto's behaviour
        revision = p.get("revision") or {}
        if revision.get("revisionType") != "AppSpecContent":
            raise _error("InvalidRevisionException", "An ECS deployment needs revisionType AppSpecContent.")
        parse_appspec((revision.get("appSpecContent") or {}).get("content"))
        if p.get("deploymentConfigName"):
            platform, _ = self._config(p["deploymentConfigName"])
            if platform != "ECS":
                raise _error("InvalidDeploymentConfigNameException",
                             f"{p['deploymentConfigName']} is not a deployment config for the ECS compute platform.")
        for d in self.deployments.values():
            if (d.info.application_name, d.info.deployment_group_name) == (
                    p.get("applicationName"), p.get("deploymentGroupName")) and not d.finished:
                raise _error("DeploymentLimitExceededException",
                             f"The Deployment Group '{p.get('deploymentGroupName')}' already has an active "
                             f"Deployment '{d.id}'")

    def on_create_deployment(self, moto_id: str, p: dict, creator: str = "user",
                             rollback_of: CdDeployment | None = None) -> str:
        info = self.backend.deployments.pop(moto_id)
        info.deployment_id = _deployment_id()
        self.backend.deployments[info.deployment_id] = info
        if info.application.compute_platform != "ECS":
            return info.deployment_id
        info.creator = creator
        content = ((p.get("revision") or {}).get("appSpecContent") or {}).get("content")
        d = CdDeployment(self, info, parse_appspec(content), creator, rollback_of)
        self.deployments[d.id] = d
        return d.id

    # ---- helpers ----

    def ecs_state(self, d: CdDeployment) -> Any:
        ecs = (d.group.ecs_services or [{}])[0]
        engine = self.aws.ecs(self.account, self.region)
        try:
            service = engine.find_service(ecs.get("clusterName"), ecs.get("serviceName") or "")
        except Exception:
            return None
        return engine.state(service)

    def _deployment(self, deployment_id: str | None) -> CdDeployment:
        if not deployment_id:
            raise _error("DeploymentIdRequiredException", "A deployment id is required.")
        d = self.deployments.get(deployment_id)
        if d is None:
            if deployment_id in self.backend.deployments:
                raise _error("UnsupportedActionForDeploymentTypeException",
                             "This operation is supported for ECS deployments only here.")
            raise _error("DeploymentDoesNotExistException",
                         f"The deployment {deployment_id} does not exist with the user or AWS account.")
        return d

    def _auto_rollback(self, d: CdDeployment, event: str) -> bool:
        config = d.info.auto_rollback_configuration or d.group.auto_rollback_configuration or {}
        return bool(config.get("enabled")) and event in (config.get("events") or [])

    def _alarms(self, d: CdDeployment) -> list[str]:
        config = d.info.override_alarm_configuration or d.group.alarm_configuration
        if config is None:
            return []
        if isinstance(config, dict):
            enabled, alarms = config.get("enabled"), config.get("alarms") or []
        else:
            enabled, alarms = config.enabled, config.alarms
        if not enabled:
            return []
        names = [a.get("name") for a in alarms if isinstance(a, dict)]
        cw = cloudwatch_backends[self.account][self.region].alarms
        return [n for n in names if n in cw and cw[n].state_value == "ALARM"]

    # ---- the clock ----

    def step(self) -> None:
        for d in list(self.deployments.values()):
            if not d.finished:
                try:
                    self._step(d)
                finally:
                    st = self.ecs_state(d)
                    if st is not None:
                        self.aws.ecs(self.account, self.region).sync(st)

    def _step(self, d: CdDeployment) -> None:
        now = self.aws.now
        if d.status == "Created":
            d.status = "InProgress"
            d.start_time = utcnow()
            self._emit(d, "START")
            return
        if d.status == "Ready":
            if d.continued_ready:
                d.status = "InProgress"
                d.index += 1
                self._emit(d, "RESUME")
            elif d.ready_until is not None and now >= d.ready_until:
                self._end(d, "Stopped", "TIMEOUT",
                          "The deployment timed out while waiting for traffic to be rerouted.", "DEPLOYMENT_FAILURE")
            return
        if d.creator != "codeDeployRollback":
            triggered = self._alarms(d)
            if triggered:
                self._end(d, "Stopped", "ALARM_ACTIVE",
                          f"One or more alarms have been activated: {', '.join(triggered)}.", "DEPLOYMENT_STOP_ON_ALARM")
                return
        if d.termination_started:
            if d.termination_until is None or now >= d.termination_until:
                self._succeed(d)
            return
        if d.index >= len(d.events):
            self._after_traffic(d)
            return
        ev = d.events[d.index]
        name = ev["lifecycleEventName"]
        if ev["status"] == "Pending":
            ev["status"], ev["startTime"] = "InProgress", utcnow()
            self._start_event(d, ev)
        elif ev["status"] == "InProgress":
            self._progress_event(d, ev)
        if d.finished or ev["status"] == "InProgress":
            return
        if ev["status"] in ("Succeeded", "Skipped"):
            ev.setdefault("endTime", utcnow())
            if name == "AfterAllowTestTraffic" and d.creator != "codeDeployRollback" and self._waits_for_ready(d):
                d.status = "Ready"
                minutes = ((d.group.blue_green_deployment_configuration or {}).get("deploymentReadyOption") or {}
                           ).get("waitTimeInMinutes")
                d.ready_until = now + self.aws.minutes(minutes) if minutes else None
                self._emit(d, "READY")
                return
            d.index += 1

    def _waits_for_ready(self, d: CdDeployment) -> bool:
        option = (d.group.blue_green_deployment_configuration or {}).get("deploymentReadyOption") or {}
        return option.get("actionOnTimeout") == "STOP_DEPLOYMENT" and not d.continued_ready

    def _start_event(self, d: CdDeployment, ev: dict) -> None:
        name = ev["lifecycleEventName"]
        if name in HOOK_EVENTS:
            fn = d.spec["hooks"].get(name)
            if not fn or d.creator == "codeDeployRollback":
                ev["status"] = "Skipped"
                return
            execution = str(uuid.uuid4())
            d.executions[execution] = {"event": name, "status": "InProgress"}
            ev["_execution"] = execution
            d.hook_deadline = self.aws.now + self.aws.minutes(HOOK_TIMEOUT_MINUTES)
            d.hook_future = self.aws.invoker.invoke(
                fn, {"DeploymentId": d.id, "LifecycleEventHookExecutionId": execution}, asynchronous=True)
            return
        st = self.ecs_state(d)
        if name == "Install" and ev.get("_skip_install"):
            ev["status"] = "Succeeded"  # a rollback reinstalls nothing: blue is still there
        elif name == "Install":
            problem = self._check_target(d, st)
            if problem:
                code, message = problem
                self._fail_event(d, ev, message)
                self._end(d, "Failed", code, message, "DEPLOYMENT_FAILURE")
                return
            engine = self.aws.ecs(self.account, self.region)
            d.blue = next((ts for ts in st.task_sets if ts["status"] == "PRIMARY"), None)
            d.green = engine.new_task_set(st, d.spec["task_definition_arn"], "ACTIVE", external_id=d.id)
            d.green["scale"] = {"value": 100.0, "unit": "PERCENT"}
        elif name == "AllowTestTraffic":
            d.test_on_green = True
            ev["status"] = "Succeeded"
        elif name == "AllowTraffic":
            d.steps = self._traffic_steps(d)
            weight, minutes = d.steps.pop(0)
            d.weight = weight
            d.wait_until = self.aws.now + self.aws.minutes(minutes)
            if not d.steps:
                self._traffic_done(d, ev)

    def _check_target(self, d: CdDeployment, st: Any) -> tuple[str, str] | None:
        ecs = (d.group.ecs_services or [{}])[0]
        if st is None:
            return ("INVALID_ECS_SERVICE",
                    f"The ECS service {ecs.get('serviceName')} in cluster {ecs.get('clusterName')} does not exist.")
        service = st.service
        if (service.deployment_controller or {}).get("type") != "CODE_DEPLOY":
            return ("INVALID_ECS_SERVICE",
                    f"The ECS service {service.name} does not use the CODE_DEPLOY deployment controller.")
        engine = self.aws.ecs(self.account, self.region)
        td = engine.task_definition(d.spec["task_definition"])
        if td is None:
            return ("ECS_UPDATE_ERROR", f"The ECS service cannot be updated: the task definition "
                                        f"{d.spec['task_definition']} does not exist.")
        d.spec["task_definition_arn"] = td.arn
        lbs = service.load_balancers or []
        if not lbs:
            return ("ELASTIC_LOAD_BALANCING_INVALID", f"The ECS service {service.name} has no load balancer.")
        lb = lbs[0]
        if (lb.get("containerName"), lb.get("containerPort")) != (d.spec["container"], d.spec["port"]):
            return ("ECS_UPDATE_ERROR",
                    f"The AppSpec's LoadBalancerInfo (container {d.spec['container']}, port {d.spec['port']}) does "
                    f"not match the service's load balancer (container {lb.get('containerName')}, port "
                    f"{lb.get('containerPort')}).")
        container = next((c for c in td.container_definitions if c.get("name") == d.spec["container"]), None)
        ports = [m.get("containerPort") for m in (container or {}).get("portMappings") or []]
        if container is None or d.spec["port"] not in ports:
            return ("ECS_UPDATE_ERROR",
                    f"The container {d.spec['container']} did not have a container port {d.spec['port']} defined.")
        return None

    def _traffic_steps(self, d: CdDeployment) -> list[tuple[float, float]]:
        _, config = self._config(self.config_name(d.info))
        routing = config.get("trafficRoutingConfig") or {"type": "AllAtOnce"}
        if d.creator == "codeDeployRollback" or routing["type"] == "AllAtOnce":
            return [(100.0, 0.0)]
        if routing["type"] == "TimeBasedCanary":
            c = routing["timeBasedCanary"]
            return [(float(c["canaryPercentage"]), float(c["canaryInterval"])), (100.0, 0.0)]
        c = routing["timeBasedLinear"]
        steps, weight = [], 0.0
        while weight + c["linearPercentage"] < 100:
            weight += c["linearPercentage"]
            steps.append((float(weight), float(c["linearInterval"])))
        return steps + [(100.0, 0.0)]

    def _traffic_done(self, d: CdDeployment, ev: dict) -> None:
        ev["status"] = "Succeeded"
        if d.green is not None:
            d.green["status"] = "PRIMARY"
        if d.blue is not None:
            d.blue["status"] = "ACTIVE"

    def _progress_event(self, d: CdDeployment, ev: dict) -> None:
        name = ev["lifecycleEventName"]
        now = self.aws.now
        if name in HOOK_EVENTS:
            execution = d.executions.get(ev.get("_execution", ""), {})
            if d.hook_future is not None and d.hook_future.done():
                ok, answer = d.hook_future.result()
                d.hook_future = None
                if not ok:
                    execution["status"] = "Failed"
                    execution["message"] = str(answer)
            if execution.get("status") == "Succeeded":
                ev["status"], ev["endTime"] = "Succeeded", utcnow()
            elif execution.get("status") == "Failed":
                message = execution.get("message") or f"The {name} lifecycle event hook reported Failed."
                self._fail_event(d, ev, message)
                self._end(d, "Failed", "HOOK_EXECUTION_FAILURE",
                          f"The deployment failed because a lifecycle event hook failed ({name}): {message}",
                          "DEPLOYMENT_FAILURE")
            elif d.hook_deadline is not None and now >= d.hook_deadline:
                execution["status"] = "Failed"
                self._fail_event(d, ev, f"The {name} hook did not report a status in {HOOK_TIMEOUT_MINUTES} minutes.")
                self._end(d, "Failed", "TIMEOUT", f"The {name} lifecycle event hook timed out.", "DEPLOYMENT_FAILURE")
            return
        if name == "Install":
            green = d.green
            if green is None:
                return
            if green["_failed"] >= 3:
                message = (f"The replacement task set's tasks failed to start ({green['_failed']} stopped: "
                           "Essential container in task exited).")
                self._fail_event(d, ev, message)
                self._end(d, "Failed", "ECS_UPDATE_ERROR", message, "DEPLOYMENT_FAILURE")
                return
            running = sum(1 for t in green["_tasks"] if t.last_status == "RUNNING")
            if running >= green["computedDesiredCount"]:
                ev["status"], ev["endTime"] = "Succeeded", utcnow()
        elif name == "AllowTraffic":
            if d.wait_until is not None and now >= d.wait_until:
                weight, minutes = d.steps.pop(0)
                d.weight = weight
                d.wait_until = now + self.aws.minutes(minutes)
                if not d.steps:
                    self._traffic_done(d, ev)

    def _fail_event(self, d: CdDeployment, ev: dict, message: str) -> None:
        ev["status"], ev["endTime"] = "Failed", utcnow()
        ev["diagnostics"] = {"errorCode": "ScriptFailed" if ev["lifecycleEventName"] in HOOK_EVENTS else "UnknownError",
                             "scriptName": ev["lifecycleEventName"], "message": message, "logTail": ""}

    def _after_traffic(self, d: CdDeployment) -> None:
        option = (d.group.blue_green_deployment_configuration or {}).get("terminateBlueInstancesOnDeploymentSuccess") or {}
        minutes = option.get("terminationWaitTimeInMinutes") or 0
        if d.creator != "codeDeployRollback" and option.get("action", "TERMINATE") == "TERMINATE" and minutes:
            d.termination_started = True
            d.termination_until = self.aws.now + self.aws.minutes(minutes)
            return
        self._succeed(d)

    def _succeed(self, d: CdDeployment) -> None:
        st = self.ecs_state(d)
        engine = self.aws.ecs(self.account, self.region)
        option = (d.group.blue_green_deployment_configuration or {}).get("terminateBlueInstancesOnDeploymentSuccess") or {}
        if d.blue is not None and option.get("action", "TERMINATE") == "TERMINATE":
            engine.remove_task_set(st, d.blue)
            d.blue = None
        if d.green is not None and st is not None:
            d.green["status"] = "PRIMARY"
            st.service.task_definition = d.green["taskDefinition"]
        d.weight = 100.0
        d.status = "Succeeded"
        d.complete_time = utcnow()
        self._emit(d, "SUCCESS")
        if d.rollback_of is not None:
            d.rollback_of.weight = 0.0

    def _end(self, d: CdDeployment, status: str, code: str, message: str, rollback_event: str,
             rollback: bool | None = None) -> None:
        """Failed or Stopped: the error, the remaining events skipped, and a rollback deployment if asked for."""
        d.status = status
        d.error = {"code": code, "message": message}
        d.complete_time = utcnow()
        for ev in d.events:
            if ev["status"] in ("Pending", "InProgress"):
                ev["status"] = "Skipped" if ev["status"] == "Pending" else "Failed"
        self._emit(d, "STOP" if status == "Stopped" else "FAILURE")
        if rollback is None:
            rollback = self._auto_rollback(d, rollback_event)
        if rollback and d.green is not None:
            self._roll_back(d)
        elif d.green is not None and d.weight == 0:
            # Nothing reached the new task set: it goes, and blue keeps serving.
            st = self.ecs_state(d)
            if st is not None:
                self.aws.ecs(self.account, self.region).remove_task_set(st, d.green)
            d.green = None

    def _roll_back(self, d: CdDeployment) -> None:
        st = self.ecs_state(d)
        blue_td = d.blue["taskDefinition"] if d.blue else (st.service.task_definition if st else None)
        spec = {
            "version": 0.0,
            "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
                "TaskDefinition": blue_td,
                "LoadBalancerInfo": {"ContainerName": d.spec["container"], "ContainerPort": d.spec["port"]}}}}],
        }
        content = json.dumps(spec)
        revision = {"revisionType": "AppSpecContent", "appSpecContent": {"content": content}}
        moto_id = self.backend.create_deployment(
            d.info.application_name, d.info.deployment_group_name, revision,
            deployment_config_name=self.config_name(d.info),
            description=f"Rollback of deployment {d.id}")
        rb_id = self.on_create_deployment(moto_id, {"revision": revision}, creator="codeDeployRollback",
                                          rollback_of=d)
        rb = self.deployments[rb_id]
        # The rollback deployment takes over both task sets: green goes, blue serves all traffic again.
        rb.blue, rb.green = d.green, d.blue
        rb.weight = 0.0
        rb.spec["task_definition_arn"] = blue_td
        rb.events = [{"lifecycleEventName": n, "status": "Pending"} for n in EVENTS]
        d.rollback_info = {"rollbackDeploymentId": rb_id,
                           "rollbackMessage": f"Deployment {d.id} was rolled back by deployment {rb_id}."}
        rb.rollback_info = {"rollbackTriggeringDeploymentId": d.id,
                            "rollbackMessage": f"Rollback of deployment {d.id}."}
        rb.status_messages = [f"Rollback of deployment {d.id}"]
        # A rollback reinstalls nothing: blue is still there.
        rb.events[1]["_skip_install"] = True

    # ---- the API ----

    def stop_deployment(self, p: dict) -> dict:
        d = self._deployment(p.get("deploymentId"))
        if d.finished:
            raise _error("DeploymentAlreadyCompletedException", f"The deployment {d.id} has already completed.")
        rollback = p.get("autoRollbackEnabled")
        if rollback is None:
            rollback = self._auto_rollback(d, "DEPLOYMENT_STOP_ON_REQUEST")
        self._end(d, "Stopped", "MANUAL_STOP", "The deployment was stopped by the user.", "DEPLOYMENT_STOP_ON_REQUEST",
                  rollback=bool(rollback))
        if d.rollback_info:
            return {"status": "Pending", "statusMessage": "Stop request is pending; a rollback deployment "
                                                          f"{d.rollback_info['rollbackDeploymentId']} started."}
        return {"status": "Succeeded", "statusMessage": f"The deployment {d.id} was stopped."}

    def continue_deployment(self, p: dict) -> dict:
        d = self._deployment(p.get("deploymentId"))
        wait = p.get("deploymentWaitType") or "READY_WAIT"
        if wait not in ("READY_WAIT", "TERMINATION_WAIT"):
            raise _error("InvalidDeploymentWaitTypeException", f"Invalid deployment wait type: {wait}")
        if d.finished:
            raise _error("DeploymentAlreadyCompletedException", f"The deployment {d.id} has already completed.")
        if wait == "READY_WAIT":
            if d.status != "Ready":
                raise _error("DeploymentIsNotInReadyStateException",
                             f"The deployment {d.id} is not in the Ready state.")
            d.continued_ready = True
        else:
            if not d.termination_started:
                raise _error("InvalidDeploymentStatusException",
                             f"The deployment {d.id} is not waiting for the original task set to terminate.")
            d.termination_until = self.aws.now
        return {}

    def put_lifecycle_event_hook_execution_status(self, p: dict) -> dict:
        d = self._deployment(p.get("deploymentId"))
        execution_id = p.get("lifecycleEventHookExecutionId")
        execution = d.executions.get(execution_id or "")
        if execution is None:
            raise _error("InvalidLifecycleEventHookExecutionIdException",
                         f"The lifecycle event hook execution id {execution_id} is not valid for {d.id}.")
        status = p.get("status")
        if status not in ("Succeeded", "Failed"):
            raise _error("InvalidLifecycleEventHookExecutionStatusException",
                         f"The status {status} is not valid: only Succeeded and Failed can be reported.")
        if execution["status"] != "InProgress" or d.finished:
            raise _error("LifecycleEventAlreadyCompletedException",
                         f"The lifecycle event {execution['event']} of {d.id} has already completed.")
        execution["status"] = status
        return {"lifecycleEventHookExecutionId": execution_id}

    def _started(self, p: dict) -> CdDeployment:
        d = self._deployment(p.get("deploymentId"))
        if d.status == "Created":
            raise _error("DeploymentNotStartedException", f"The deployment {d.id} has not started.")
        return d

    def get_deployment_target(self, p: dict) -> dict:
        d = self._started(p)
        target_id = p.get("targetId")
        if not target_id:
            raise _error("DeploymentTargetIdRequiredException", "A target id is required.")
        if target_id != d.target_id():
            raise _error("DeploymentTargetDoesNotExistException", f"The target {target_id} does not exist.")
        return {"deploymentTarget": d.target()}

    def batch_get_deployment_targets(self, p: dict) -> dict:
        d = self._started(p)
        ids = p.get("targetIds") or []
        if len(ids) > 25:
            raise _error("DeploymentTargetListSizeExceededException", "At most 25 target ids.")
        for target_id in ids:
            if target_id != d.target_id():
                raise _error("DeploymentTargetDoesNotExistException", f"The target {target_id} does not exist.")
        return {"deploymentTargets": [d.target() for _ in ids]}

    def list_deployment_targets(self, p: dict) -> dict:
        d = self._started(p)
        statuses = ((p.get("targetFilters") or {}).get("TargetStatus")) or []
        if statuses and d.target_status() not in statuses:
            return {"targetIds": []}
        return {"targetIds": [d.target_id()]}
