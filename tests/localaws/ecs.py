"""ECS rollouts that live, on the local AWS's clock.

Every UpdateService that changes the task definition (or forces a new deployment) starts a *deployment*
(``deployments[]``, id ``ecs-svc/<N>``) and a *service deployment* (ListServiceDeployments, with a
service revision ``.../service-revision/<cluster>/<service>/<N>`` sharing ``<N>``), as ECS does since
October 2024. How it moves depends on ``deploymentConfiguration.strategy``:

ROLLING (the default). One tick after UpdateService the service deployment is IN_PROGRESS and the new
PRIMARY deployment launches its tasks (PENDING); a tick later they run; the next tick the deployment is
COMPLETED and the older deployments are drained (their tasks stopped) and dropped. With deployment alarms
enabled the deployment first stays IN_PROGRESS for a monitoring window (``bakeTimeInMinutes``, else one
minute) while the alarms are watched.

An image whose tag contains ``broken`` never starts: each of its tasks stops a tick after it was launched
("Essential container in task exited", the essential container's exit code 1), ``failedTasks`` counts up,
and it is launched again. With ``deploymentCircuitBreaker.enable`` the deployment is FAILED once
``failedTasks`` reaches ECS's threshold (half the desired count, at least 3, at most 200) and, with
``rollback``, a new PRIMARY deployment of the last COMPLETED deployment's task definition rolls the
service back. Without the breaker the failed tasks accumulate. Deployment alarms
(``deploymentConfiguration.alarms``) in ALARM (CloudWatch SetAlarmState) fail and roll back the same way.

BLUE_GREEN, LINEAR and CANARY. The service deployment walks the lifecycle stages PRE_SCALE_UP,
SCALE_UP (green tasks start; ``broken`` ones never do: they stop and are launched again, and the deployment
stays in SCALE_UP unless the circuit breaker applies, see below, or the stage reaches 24 hours),
POST_SCALE_UP, TEST_TRAFFIC_SHIFT (test traffic to green), POST_TEST_TRAFFIC_SHIFT,
PRODUCTION_TRAFFIC_SHIFT (BLUE_GREEN: 100 % at once; CANARY: ``canaryPercent`` then, after
``canaryBakeTimeInMinutes``, 100 %; LINEAR: ``stepPercent`` more every ``stepBakeTimeInMinutes``),
POST_PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME (``bakeTimeInMinutes``) and CLEAN_UP (blue drained), then
SUCCESSFUL. Lifecycle hooks run at their stages (PRE_PRODUCTION_TRAFFIC_SHIFT and
PRODUCTION_TRAFFIC_SHIFT at every traffic step): an AWS_LAMBDA hook is invoked at the local Lambda
endpoint with the documented payload and answers ``hookStatus`` SUCCEEDED, IN_PROGRESS (invoked again
after ``callBackDelay``) or FAILED; a PAUSE hook waits in AWAITING_ACTION for ContinueServiceDeployment.
A failed or timed-out hook, an alarm, StopServiceDeployment(ROLLBACK) or ContinueServiceDeployment(ROLLBACK)
rolls back: ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS (hooks on TEST_TRAFFIC_SHIFT and
PRODUCTION_TRAFFIC_SHIFT invoked again with blue at 100), ROLLBACK_SUCCESSFUL (or ROLLBACK_FAILED when such
a hook fails).

Deployment alarms already in ALARM when a deployment starts are not watched for it (any strategy).

Switches (``Config``, one environment variable each) for what the AWS sources leave open:
``LOCAL_AWS_STALE_CURRENT_DEPLOYMENT`` (UpdateService's answer still names the previous service deployment),
``LOCAL_AWS_NATIVE_CIRCUIT_BREAKER`` (the circuit breaker also fails, and with ``rollback`` rolls back, native
deployments whose green tasks never start; off, native services report it DISABLED),
``LOCAL_AWS_DROP_FAILED_HOOKS`` (a rollback's ``lifecycleHookDetails`` no longer list the hook that failed).

A service on the CODE_DEPLOY controller gets a blue task set at creation and refuses UpdateService with a
task definition; CodeDeploy (``codedeploy.py``) moves it.
"""

from __future__ import annotations

import hashlib
import math
import random
import string
import uuid
from typing import TYPE_CHECKING, Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.core.exceptions import ServiceException
from moto.core.utils import utcnow
from moto.ecr.models import ecr_backends
from moto.ecs.exceptions import ServiceNotFoundException
from moto.ecs.models import ecs_backends

if TYPE_CHECKING:
    from .server import LocalAws

ROLLING, BLUE_GREEN, LINEAR, CANARY = "ROLLING", "BLUE_GREEN", "LINEAR", "CANARY"
NATIVE = (BLUE_GREEN, LINEAR, CANARY)
TERMINAL = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."
STOPPED_TASKS_KEPT = 100


class EcsError(ServiceException):
    pass


def is_broken(image: str | None) -> bool:
    """Whether an image reference's tag contains ``broken`` (a digest reference has no tag)."""
    if not image or "@" in image:
        return False
    last = image.rsplit("/", 1)[-1]
    return ":" in last and "broken" in last.split(":", 1)[1]


def family_revision(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def same_revision(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and family_revision(a) == family_revision(b)  # type: ignore[arg-type]


def circuit_breaker_threshold(desired: int) -> int:
    return max(3, min(200, math.ceil(desired / 2)))


def _random_id(n: int) -> str:
    return "".join(random.choice(string.ascii_letters + string.digits) for _ in range(n))


class TaskSetView(dict):
    """A task set as moto's DescribeTaskSets reads it: by attribute (``task_set_arn``) as well as by key."""

    def __getattr__(self, name: str) -> Any:
        head, *rest = name.split("_")
        try:
            return self[head + "".join(w.title() for w in rest)]
        except KeyError:
            raise AttributeError(name) from None


class LiveTask:
    """A task as DescribeTasks reports it (moto's serializer reads these attributes)."""

    def __init__(self, engine: "EcsEngine", st: "ServiceState", dep: "Deployment"):
        service = st.service
        td = engine.task_definition(dep.task_definition)
        self.id = uuid.uuid4().hex
        self.cluster_arn = service.cluster_arn
        self.cluster_name = service.cluster_name
        self.task_arn = (
            f"arn:aws:ecs:{engine.region}:{engine.account}:task/{service.cluster_name}/{self.id}"
        )
        self.task_definition_arn = dep.task_definition
        self.last_status = "PENDING"
        self.desired_status = "RUNNING"
        self.started_by = dep.id
        self.group = f"service:{service.name}"
        self.launch_type = service.launch_type
        self.platform_version = "1.4.0" if service.launch_type == "FARGATE" else None
        self.platform_family = "Linux" if service.launch_type == "FARGATE" else None
        self.cpu = getattr(td, "cpu", None)
        self.memory = getattr(td, "memory", None)
        self.availability_zone = f"{engine.region}a"
        self.connectivity = "CONNECTED"
        now = utcnow()
        self.created_at = now
        self.connectivity_at = now
        self.started_at = None
        self.stopping_at = None
        self.stopped_at = None
        self.execution_stopped_at = None
        self.stopped_reason = None
        self.stop_code = None
        self.health_status = "UNKNOWN"
        self.version = 1
        self.tags: list[dict[str, str]] = []
        self.attachments: list[dict[str, Any]] = []
        self.launched_tick = engine.aws.ticks
        self.broken = False
        self.containers = []
        for c in getattr(td, "container_definitions", []) or []:
            image = c.get("image")
            essential = c.get("essential", True)
            if essential and is_broken(image):
                self.broken = True
            self.containers.append(
                {
                    "containerArn": f"arn:aws:ecs:{engine.region}:{engine.account}:container/"
                    f"{service.cluster_name}/{self.id}/{uuid.uuid4()}",
                    "taskArn": self.task_arn,
                    "name": c.get("name"),
                    "image": image,
                    "imageDigest": engine.image_digest(image),
                    "lastStatus": "PENDING",
                    "healthStatus": "UNKNOWN",
                    "cpu": str(c.get("cpu", 0)),
                    "_essential": essential,
                }
            )

    def advance(self) -> None:  # moto's DescribeTasks calls this on its own tasks
        pass

    def run(self) -> None:
        self.last_status = "RUNNING"
        self.started_at = utcnow()
        self.health_status = "HEALTHY"
        self.version += 1
        for c in self.containers:
            c["lastStatus"] = "RUNNING"

    def stop(self, reason: str, code: str, failed: bool = False) -> None:
        now = utcnow()
        self.last_status = "STOPPED"
        self.desired_status = "STOPPED"
        self.stopped_reason = reason
        self.stop_code = code
        self.stopping_at = now
        self.stopped_at = now
        self.execution_stopped_at = now
        self.version += 1
        for c in self.containers:
            c["lastStatus"] = "STOPPED"
            if failed and c["_essential"] and is_broken(c["image"]):
                c["exitCode"] = 1
                c["reason"] = None
            elif self.started_at is not None or failed:
                c["exitCode"] = 143 if failed else 0

    @property
    def live(self) -> bool:
        return self.last_status in ("PENDING", "RUNNING")


class Revision:
    """A service revision: what one deployment runs."""

    def __init__(self, engine: "EcsEngine", st: "ServiceState", number: int, task_definition: str):
        service = st.service
        td = engine.task_definition(task_definition)
        self.number = number
        self.arn = (
            f"arn:aws:ecs:{engine.region}:{engine.account}:service-revision/"
            f"{service.cluster_name}/{service.name}/{number}"
        )
        self.task_definition = task_definition
        self.api = {
            "serviceRevisionArn": self.arn,
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "taskDefinition": task_definition,
            "launchType": service.launch_type,
            "platformVersion": service.platform_version or ("LATEST" if service.launch_type == "FARGATE" else None),
            "platformFamily": "Linux" if service.launch_type == "FARGATE" else None,
            "loadBalancers": list(service.load_balancers or []),
            "serviceRegistries": list(service.service_registries or []),
            "networkConfiguration": service.network_configuration or None,
            "containerImages": [
                {"containerName": c.get("name"), "image": c.get("image"),
                 "imageDigest": engine.image_digest(c.get("image"))}
                for c in getattr(td, "container_definitions", []) or []
            ],
            "guardDutyEnabled": False,
            "createdAt": utcnow(),
            "resolvedConfiguration": {
                "loadBalancers": [
                    {
                        "targetGroupArn": lb.get("targetGroupArn"),
                        "productionListenerRule": (lb.get("advancedConfiguration") or {}).get(
                            "productionListenerRule"
                        ),
                    }
                    for lb in service.load_balancers or []
                    if lb.get("targetGroupArn")
                ]
            },
        }


class Deployment:
    """One entry of ``service.deployments``."""

    def __init__(self, engine: "EcsEngine", st: "ServiceState", task_definition: str, desired: int,
                 reason: str | None = None):
        self.number = random.randint(10**18, 9 * 10**18)
        self.id = f"ecs-svc/{self.number}"
        self.revision = Revision(engine, st, self.number, task_definition)
        st.revisions[self.revision.arn] = self.revision
        engine.revisions[self.revision.arn] = self.revision
        self.task_definition = task_definition
        self.status = "PRIMARY"
        self.rollout_state = "IN_PROGRESS"
        self.rollout_state_reason = reason or f"ECS deployment {self.id} in progress."
        self.desired = desired
        self.failed_tasks = 0
        self.launching = False
        self.tasks: list[LiveTask] = []
        self.created_at = utcnow()
        self.updated_at = self.created_at
        self.service = st.service

    @property
    def running(self) -> int:
        return sum(1 for t in self.tasks if t.last_status == "RUNNING")

    @property
    def pending(self) -> int:
        return sum(1 for t in self.tasks if t.last_status == "PENDING")

    def touch(self) -> None:
        self.updated_at = utcnow()

    def api(self) -> dict:
        s = self.service
        return {
            "id": self.id,
            "status": self.status,
            "taskDefinition": self.task_definition,
            "desiredCount": self.desired,
            "pendingCount": self.pending,
            "runningCount": self.running,
            "failedTasks": self.failed_tasks,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "launchType": s.launch_type,
            "platformVersion": s.platform_version or ("1.4.0" if s.launch_type == "FARGATE" else None),
            "platformFamily": "Linux" if s.launch_type == "FARGATE" else None,
            "networkConfiguration": s.network_configuration or None,
            "rolloutState": self.rollout_state,
            "rolloutStateReason": self.rollout_state_reason,
        }

    def summary(self, production_weight: float | None = None, test_weight: float | None = None) -> dict:
        out: dict[str, Any] = {
            "arn": self.revision.arn,
            "requestedTaskCount": self.desired,
            "runningTaskCount": self.running,
            "pendingTaskCount": self.pending,
        }
        if production_weight is not None:
            out["requestedProductionTrafficWeight"] = float(production_weight)
        if test_weight is not None:
            out["requestedTestTrafficWeight"] = float(test_weight)
        return out


class HookRun:
    """One lifecycle hook at one stage (one traffic step) of one service deployment."""

    def __init__(self, aws: "LocalAws", hook: dict, stage: str, details: dict | None):
        self.hook = hook
        self.hook_id = str(uuid.uuid4())
        self.execution_id = str(uuid.uuid4())
        self.stage = stage
        self.target_type = hook.get("targetType") or "AWS_LAMBDA"
        self.target_arn = hook.get("hookTargetArn")
        timeout = hook.get("timeoutConfiguration") or {}
        self.timeout_action = timeout.get("action") or "ROLLBACK"
        minutes = timeout.get("timeoutInMinutes") or 1440
        self.expires_clock = aws.now + aws.minutes(minutes)
        self.expires_at = utcnow() + _timedelta(aws.minutes(minutes))
        self.status = "AWAITING_ACTION" if self.target_type == "PAUSE" else "IN_PROGRESS"
        self.details = dict(details if details is not None else (hook.get("hookDetails") or {}))
        self.future: Any = None
        self.next_at = aws.now
        self.action: str | None = None  # from ContinueServiceDeployment
        self.invocations = 0

    def api(self) -> dict:
        out = {
            "hookId": self.hook_id,
            "targetType": self.target_type,
            "status": self.status,
            "expiresAt": self.expires_at,
            "timeoutAction": self.timeout_action,
        }
        if self.target_arn:
            out["targetArn"] = self.target_arn
        return out


def _timedelta(seconds: float):
    from datetime import timedelta

    return timedelta(seconds=seconds)


class ServiceDeployment:
    def __init__(self, engine: "EcsEngine", st: "ServiceState", source: list[Deployment], target: Deployment,
                 config: dict | None, status: str = "PENDING"):
        service = st.service
        self.st = st
        self.arn = (
            f"arn:aws:ecs:{engine.region}:{engine.account}:service-deployment/"
            f"{service.cluster_name}/{service.name}/{_random_id(21)}"
        )
        self.source = source
        self.target = target
        self.config = dict(config or {})
        self.strategy = self.config.get("strategy") or ROLLING
        self.status = status
        self.status_reason: str | None = None
        self.stage: str | None = None
        now = utcnow()
        self.created_at = now
        self.started_at = None if status == "PENDING" else now
        self.finished_at = None
        self.stopped_at = None
        self.updated_at = now
        self.rollback: dict | None = None
        cb = self.config.get("deploymentCircuitBreaker") or {}
        # Whether the breaker applies to native strategies is unsettled (Config.native_circuit_breaker).
        self.cb_enabled = bool(cb.get("enable")) and (
            self.strategy == ROLLING or engine.aws.config.native_circuit_breaker
        )
        self.cb_rollback = bool(cb.get("rollback"))
        self.cb_status = "MONITORING" if self.cb_enabled else "DISABLED"
        alarms = self.config.get("alarms") or {}
        self.alarm_names: list[str] = list(alarms.get("alarmNames") or [])
        self.alarms_enabled = bool(alarms.get("enable")) and bool(self.alarm_names)
        self.alarms_rollback = bool(alarms.get("rollback"))
        self.alarms_status = "MONITORING" if self.alarms_enabled else "DISABLED"
        self.triggered_alarms: list[str] = []
        # Alarms already in ALARM when the deployment started: not watched for it (see start_deployment).
        self.alarms_in_alarm_at_start: list[str] = []
        # Native strategies.
        self.production_weight = 0.0
        self.test_weight = 0.0
        self.reached_test_shift = False
        self.reached_production_shift = False
        self.hook_stage: str | None = None
        self.hook_runs: list[HookRun] = []
        # The hooks that failed or timed out and caused the rollback, still listed during and after it
        # (unless Config.drop_failed_hooks).
        self.failed_hook_runs: list[HookRun] = []
        self.stage_since: float = 0.0  # the clock when the current lifecycle stage began
        self.hook_memory: dict[int, dict] = {}  # hookDetails returned by a hook, per hook index
        self.steps = self._traffic_steps()
        self.step_index = 0
        self.step_phase = "pre"
        self.wait_until: float | None = None
        self.steady_since: float | None = None
        self.rollback_dep: Deployment | None = None
        self.rollback_stages: list[str] = []  # traffic stages whose hooks run again during a rollback

    def _traffic_steps(self) -> list[tuple[float, float]]:
        """(green's production weight, minutes to bake after it) for each production traffic step."""
        if self.strategy == CANARY:
            c = self.config.get("canaryConfiguration") or {}
            percent = float(c.get("canaryPercent", 5.0))
            bake = float(c.get("canaryBakeTimeInMinutes", 10))
            return [(percent, bake), (100.0, 0.0)] if percent < 100 else [(100.0, 0.0)]
        if self.strategy == LINEAR:
            c = self.config.get("linearConfiguration") or {}
            step = float(c.get("stepPercent", 10.0))
            bake = float(c.get("stepBakeTimeInMinutes", 6))
            steps, weight = [], 0.0
            while weight + step < 100.0 - 1e-9:
                weight = round(weight + step, 1)
                steps.append((weight, bake))
            steps.append((100.0, 0.0))
            return steps
        return [(100.0, 0.0)]

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def touch(self) -> None:
        self.updated_at = utcnow()

    def brief(self) -> dict:
        return {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.st.service.arn,
            "clusterArn": self.st.service.cluster_arn,
            "startedAt": self.started_at,
            "createdAt": self.created_at,
            "finishedAt": self.finished_at,
            "targetServiceRevisionArn": self.target.revision.arn,
            "status": self.status,
            "statusReason": self.status_reason,
        }

    def api(self) -> dict:
        native = self.strategy in NATIVE
        out: dict[str, Any] = {
            "serviceDeploymentArn": self.arn,
            "serviceArn": self.st.service.arn,
            "clusterArn": self.st.service.cluster_arn,
            "createdAt": self.created_at,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "stoppedAt": self.stopped_at,
            "updatedAt": self.updated_at,
            "sourceServiceRevisions": [
                d.summary(100.0 - self.production_weight if native else None,
                          100.0 - self.test_weight if native else None)
                for d in self.source
            ],
            "targetServiceRevision": self.target.summary(
                self.production_weight if native else None, self.test_weight if native else None
            ),
            "status": self.status,
            "statusReason": self.status_reason,
            "deploymentConfiguration": self.config,
            "rollback": self.rollback,
            "deploymentCircuitBreaker": {
                "status": self.cb_status,
                "failureCount": self.target.failed_tasks,
                "threshold": circuit_breaker_threshold(self.target.desired),
            },
            "alarms": {
                "status": self.alarms_status,
                "alarmNames": self.alarm_names,
                "triggeredAlarmNames": self.triggered_alarms,
            },
        }
        if native:
            out["lifecycleStage"] = self.stage
            out["lifecycleHookDetails"] = [r.api() for r in self.failed_hook_runs + self.hook_runs]
        return out


class ServiceState:
    def __init__(self, service: Any):
        self.service = service
        self.deps: list[Deployment] = []
        self.sds: list[ServiceDeployment] = []
        self.revisions: dict[str, Revision] = {}
        self.last_completed: Deployment | None = None
        self.events: list[dict] = []
        self.task_sets: list[dict] = []
        self.impaired_reported: set[str] = set()

    @property
    def primary(self) -> Deployment | None:
        return next((d for d in self.deps if d.status == "PRIMARY"), None)

    @property
    def name(self) -> str:
        return self.service.name

    def all_tasks(self) -> list[LiveTask]:
        tasks = [t for d in self.deps for t in d.tasks]
        for ts in self.task_sets:
            tasks.extend(ts["_tasks"])
        return tasks


class EcsEngine:
    def __init__(self, aws: "LocalAws", account: str, region: str):
        self.aws = aws
        self.account = account
        self.region = region
        self.services: dict[str, ServiceState] = {}  # by service ARN
        self.service_deployments: dict[str, ServiceDeployment] = {}
        self.revisions: dict[str, Revision] = {}
        self._graveyard: list[LiveTask] = []

    @property
    def backend(self) -> Any:
        return ecs_backends[self.account][self.region]

    # ---- lookups ----

    def task_definition(self, arn: str) -> Any:
        try:
            return self.backend.describe_task_definition(arn)
        except Exception:
            return None

    def image_digest(self, image: str | None) -> str | None:
        if not image:
            return None
        if "@" in image:
            return image.split("@", 1)[1]
        repo_part, _, tag = image.rpartition(":")
        if "/" in tag or not repo_part:
            repo_part, tag = image, "latest"
        host, _, repository = repo_part.partition("/")
        if ".dkr.ecr." in host:
            account = host.split(".", 1)[0]
            region = host.split(".dkr.ecr.", 1)[1].split(".", 1)[0]
            try:
                repo = ecr_backends[account][region].repositories.get(repository)
                for img in repo.images if repo else []:
                    if tag in (img.image_tags or []) or img.image_tag == tag:
                        return img.image_digest
            except Exception:
                pass
        return "sha256:" + hashlib.sha256(image.encode()).hexdigest()

    def state(self, service: Any) -> ServiceState:
        st = self.services.get(service.arn)
        if st is None or st.service is not service:
            st = ServiceState(service)
            self.services[service.arn] = st
        return st

    def find_service(self, cluster: str | None, service: str) -> Any:
        return self.backend._get_service(cluster or "default", service.split("/")[-1])

    def add_event(self, st: ServiceState, message: str) -> None:
        st.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": utcnow(),
                             "message": f"(service {st.name}) {message}"})
        del st.events[100:]

    def emit_deployment(self, st: ServiceState, dep: Deployment, name: str, reason: str) -> None:
        event_type = "ERROR" if name == "SERVICE_DEPLOYMENT_FAILED" else "INFO"
        self.aws.bus.emit(
            "aws.ecs",
            "ECS Deployment State Change",
            [st.service.arn],
            {
                "eventType": event_type,
                "eventName": name,
                "deploymentId": dep.id,
                "updatedAt": utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "reason": reason,
            },
            self.region,
            self.account,
        )

    def emit_service_action(self, st: ServiceState, name: str, event_type: str = "INFO", **extra: Any) -> None:
        detail = {
            "eventType": event_type,
            "eventName": name,
            "clusterArn": st.service.cluster_arn,
            "createdAt": utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        detail.update(extra)
        self.aws.bus.emit("aws.ecs", "ECS Service Action", [st.service.arn], detail, self.region, self.account)

    # ---- CreateService / UpdateService ----

    def check_create_service(self, params: dict) -> None:
        strategy = (params.get("deploymentConfiguration") or {}).get("strategy")
        if strategy not in (None, ROLLING, *NATIVE):
            raise EcsError("InvalidParameterException", f"Invalid deployment strategy: {strategy}")

    def on_create_service(self, service: Any, params: dict) -> None:
        st = ServiceState(service)
        self.services[service.arn] = st
        controller = (service.deployment_controller or {}).get("type", "ECS")
        config = {"maximumPercent": 200, "minimumHealthyPercent": 100}
        if controller == "ECS":
            config["deploymentCircuitBreaker"] = {"enable": False, "rollback": False}
        config.update(params.get("deploymentConfiguration") or {})
        service.deployment_configuration = config
        service.created_at = utcnow()
        service.created_by = f"arn:aws:iam::{self.account}:root"
        service.scheduling_strategy = service.scheduling_strategy or "REPLICA"
        if controller == "ECS" and service.task_definition:
            dep = Deployment(self, st, service.task_definition, service.desired_count)
            st.deps = [dep]
            healthy = not self._broken(service.task_definition)
            sd = ServiceDeployment(self, st, [], dep, config, status="IN_PROGRESS")
            sd.strategy = ROLLING  # a new service's first deployment starts its tasks directly
            sd.cb_enabled = bool((config.get("deploymentCircuitBreaker") or {}).get("enable"))
            sd.cb_status = "MONITORING" if sd.cb_enabled else "DISABLED"
            st.sds.append(sd)
            self.service_deployments[sd.arn] = sd
            dep.launching = True
            if healthy:
                # A new service's first deployment is COMPLETED with its tasks running (moto's
                # MOTO_ECS_SERVICE_RUNNING, which existing tests rely on).
                for _ in range(dep.desired):
                    task = self._launch(st, dep)
                    task.run()
                self._complete(st, sd)
            else:
                self.emit_deployment(st, dep, "SERVICE_DEPLOYMENT_IN_PROGRESS", dep.rollout_state_reason)
        elif controller == "CODE_DEPLOY" and service.task_definition:
            ts = self.new_task_set(st, service.task_definition, "PRIMARY", external_id=None)
            for t in ts["_tasks"]:
                t.run()
            service.deployments = []
        self.sync(st)

    def _broken(self, task_definition: str) -> bool:
        td = self.task_definition(task_definition)
        return any(
            c.get("essential", True) and is_broken(c.get("image"))
            for c in (getattr(td, "container_definitions", None) or [])
        )

    def before_update_service(self, params: dict) -> dict:
        service = self.find_service(params.get("cluster"), params.get("service", ""))
        controller = (service.deployment_controller or {}).get("type", "ECS")
        if controller == "CODE_DEPLOY" and params.get("taskDefinition"):
            raise EcsError(
                "InvalidParameterException",
                "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
                "Use AWS CodeDeploy to trigger a new deployment.",
            )
        if controller == "EXTERNAL" and params.get("taskDefinition"):
            raise EcsError(
                "InvalidParameterException",
                "Unable to update task definition on services with a EXTERNAL deployment controller.",
            )
        strategy = (params.get("deploymentConfiguration") or {}).get("strategy")
        if strategy not in (None, ROLLING, *NATIVE):
            raise EcsError("InvalidParameterException", f"Invalid deployment strategy: {strategy}")
        return {"task_definition": service.task_definition, "desired": service.desired_count,
                "config": dict(getattr(service, "deployment_configuration", None) or {})}

    def on_update_service(self, service: Any, params: dict, before: dict) -> None:
        st = self.state(service)
        if params.get("deploymentConfiguration") is not None:
            merged = dict(params["deploymentConfiguration"])
            service.deployment_configuration = merged
        controller = (service.deployment_controller or {}).get("type", "ECS")
        if controller != "ECS":
            self.sync(st)
            return
        new_td = service.task_definition
        changed = params.get("taskDefinition") and not same_revision(new_td, before["task_definition"])
        started = None
        if changed or params.get("forceNewDeployment"):
            started = self.start_deployment(st, new_td)
        elif service.desired_count != before["desired"] and st.primary:
            st.primary.desired = service.desired_count
            st.primary.touch()
        self.sync(st)
        if started is not None and self.aws.config.stale_current_deployment and len(st.sds) >= 2:
            # Unsettled (Config.stale_current_deployment): the answer, and DescribeServices until the next
            # tick, still name the service deployment before.
            service.current_service_deployment = st.sds[-2].arn

    def start_deployment(self, st: ServiceState, task_definition: str) -> ServiceDeployment:
        service = st.service
        config = dict(getattr(service, "deployment_configuration", None) or {})
        previous = st.primary
        for sd in st.sds:
            if not sd.terminal:
                sd.status = "STOPPED"
                sd.status_reason = "Service deployment stopped: a newer service deployment started."
                sd.stopped_at = sd.finished_at = utcnow()
                sd.touch()
                sd.target.launching = False
        dep = Deployment(self, st, task_definition, service.desired_count)
        for d in st.deps:
            d.status = "ACTIVE"
            d.touch()
        st.deps.insert(0, dep)
        source = [d for d in st.deps[1:] if d.rollout_state == "COMPLETED"] or (
            [previous] if previous else []
        )
        sd = ServiceDeployment(self, st, source, dep, config)
        # "If an alarm is in the ALARM state at the beginning of a deployment, Amazon ECS will not monitor
        # alarms for the duration of that deployment" (ECS guide, deployment-alarm-failure.html). The page is
        # about the ECS controller; native strategies are assumed to follow it. What `alarms.status` then
        # reads is not documented: DISABLED ("Amazon ECS is not using alarms", botocore
        # ServiceDeploymentAlarms.status) is this emulator's choice, and the deployer does not rely on it.
        already = self._alarms_in_alarm(sd)
        if already:
            sd.alarms_in_alarm_at_start = already
            sd.alarms_enabled = False
            sd.alarms_status = "DISABLED"
        st.sds.append(sd)
        self.service_deployments[sd.arn] = sd
        self.emit_deployment(st, dep, "SERVICE_DEPLOYMENT_IN_PROGRESS", dep.rollout_state_reason)
        return sd

    # ---- tasks ----

    def _launch(self, st: ServiceState, dep: Deployment) -> LiveTask:
        task = LiveTask(self, st, dep)
        dep.tasks.append(task)
        self.backend.tasks.setdefault(st.service.cluster_name, {})[task.task_arn] = task
        return task

    def _stop_task(self, st: ServiceState, task: LiveTask, reason: str, code: str, failed: bool = False) -> None:
        task.stop(reason, code, failed)
        self._graveyard.append(task)
        # Stopped tasks stay visible for a while, as in ECS; the oldest go.
        while len(self._graveyard) > STOPPED_TASKS_KEPT * max(1, len(self.services)):
            old = self._graveyard.pop(0)
            self.backend.tasks.get(old.cluster_name, {}).pop(old.task_arn, None)

    def _drain(self, st: ServiceState, dep: Deployment, by: Deployment) -> None:
        stopped = [t for t in dep.tasks if t.live]
        for t in stopped:
            self._stop_task(st, t, f"Scaling activity initiated by (deployment {by.id})", "ServiceSchedulerInitiated")
        dep.tasks = [t for t in dep.tasks if t.live]
        if stopped:
            self.add_event(st, f"has stopped {len(stopped)} running tasks: "
                               + " ".join(f"(task {t.id})." if i == len(stopped) - 1 else f"(task {t.id})"
                                          for i, t in enumerate(stopped)))

    def reconcile(self, st: ServiceState) -> None:
        tick = self.aws.ticks
        for dep in st.deps:
            for task in list(dep.tasks):
                if task.last_status != "PENDING" or task.launched_tick >= tick:
                    continue
                if task.broken:
                    self._stop_task(st, task, "Essential container in task exited", "EssentialContainerExited",
                                    failed=True)
                    dep.failed_tasks += 1
                    dep.touch()
                    self.add_event(st, f"has stopped 1 running tasks: (task {task.id}).")
                    if dep.failed_tasks >= 3 and dep.id not in st.impaired_reported:
                        st.impaired_reported.add(dep.id)
                        self.add_event(st, "is unable to consistently start tasks successfully. For more "
                                           "information, see the Troubleshooting section of the Amazon ECS "
                                           "Developer Guide.")
                        self.emit_service_action(st, "SERVICE_TASK_START_IMPAIRED", "WARN")
                else:
                    task.run()
                    dep.touch()
            dep.tasks = [t for t in dep.tasks if t.live]
            if dep.launching:
                live = len(dep.tasks)
                if live < dep.desired:
                    launched = [self._launch(st, dep) for _ in range(dep.desired - live)]
                    dep.touch()
                    self.add_event(st, f"has started {len(launched)} tasks: "
                                       + " ".join(f"(task {t.id})" for t in launched) + ".")
                elif live > dep.desired:
                    extra = dep.tasks[dep.desired:]
                    for t in extra:
                        self._stop_task(st, t, "Scaling activity initiated by (service)", "ServiceSchedulerInitiated")
                    dep.tasks = dep.tasks[: dep.desired]
                    dep.touch()
        for ts in st.task_sets:
            for task in ts["_tasks"]:
                if task.last_status == "PENDING" and task.launched_tick < tick:
                    if task.broken:
                        self._stop_task(st, task, "Essential container in task exited", "EssentialContainerExited",
                                        failed=True)
                        ts["_failed"] += 1
                    else:
                        task.run()
            ts["_tasks"] = [t for t in ts["_tasks"] if t.live]
            if ts["status"] != "DRAINING" and ts.get("_launching", True):
                while len(ts["_tasks"]) < ts["computedDesiredCount"]:
                    ts["_tasks"].append(self._launch_for_set(st, ts))

    # ---- CODE_DEPLOY task sets (moved by codedeploy.py) ----

    def new_task_set(self, st: ServiceState, task_definition: str, status: str, external_id: str | None) -> dict:
        service = st.service
        number = random.randint(10**18, 9 * 10**18)
        now = utcnow()
        ts = {
            "id": f"ecs-svc/{number}",
            "taskSetArn": f"arn:aws:ecs:{self.region}:{self.account}:task-set/{service.cluster_name}/"
            f"{service.name}/ecs-svc/{number}",
            "serviceArn": service.arn,
            "clusterArn": service.cluster_arn,
            "startedBy": "CodeDeploy" if external_id else None,
            "externalId": external_id,
            "status": status,
            "taskDefinition": task_definition,
            "computedDesiredCount": service.desired_count,
            "pendingCount": 0,
            "runningCount": 0,
            "createdAt": now,
            "updatedAt": now,
            "launchType": service.launch_type,
            "platformVersion": service.platform_version or "LATEST",
            "networkConfiguration": service.network_configuration or None,
            "loadBalancers": list(service.load_balancers or []),
            "scale": {"value": 100.0, "unit": "PERCENT"},
            "stabilityStatus": "STABILIZING",
            "stabilityStatusAt": now,
            "_tasks": [],
            "_failed": 0,
            "_number": number,
        }
        st.task_sets.append(ts)
        for _ in range(service.desired_count):
            ts["_tasks"].append(self._launch_for_set(st, ts))
        return ts

    def _launch_for_set(self, st: ServiceState, ts: dict) -> LiveTask:
        class _Dep:  # what LiveTask reads from a deployment
            id = ts["id"]
            task_definition = ts["taskDefinition"]

        task = LiveTask(self, st, _Dep())  # type: ignore[arg-type]
        if ts.get("startedBy"):
            task.started_by = ts["startedBy"]
        self.backend.tasks.setdefault(st.service.cluster_name, {})[task.task_arn] = task
        return task

    def remove_task_set(self, st: ServiceState, ts: dict) -> None:
        for t in ts["_tasks"]:
            self._stop_task(st, t, "Task set deleted", "ServiceSchedulerInitiated")
        ts["_tasks"] = []
        if ts in st.task_sets:
            st.task_sets.remove(ts)

    # ---- the view moto serializes ----

    def sync(self, st: ServiceState) -> None:
        service = st.service
        service.deployments = [d.api() for d in st.deps] if st.deps or not st.task_sets else []
        tasks = st.all_tasks()
        service.running_count = sum(1 for t in tasks if t.last_status == "RUNNING")
        service.pending_count = sum(1 for t in tasks if t.last_status == "PENDING")
        service.events = list(st.events)
        if st.sds:
            service.current_service_deployment = st.sds[-1].arn
        service.current_service_revisions = [
            {"arn": d.revision.arn, "requestedTaskCount": d.desired, "runningTaskCount": d.running,
             "pendingTaskCount": d.pending}
            for d in st.deps
        ]
        for ts in st.task_sets:
            ts["runningCount"] = sum(1 for t in ts["_tasks"] if t.last_status == "RUNNING")
            ts["pendingCount"] = sum(1 for t in ts["_tasks"] if t.last_status == "PENDING")
            steady = ts["runningCount"] == ts["computedDesiredCount"] and ts["pendingCount"] == 0
            status = "STEADY_STATE" if steady else "STABILIZING"
            if ts["stabilityStatus"] != status:
                ts["stabilityStatus"], ts["stabilityStatusAt"] = status, utcnow()
        service.task_sets = [TaskSetView({k: v for k, v in ts.items() if not k.startswith("_")}) for ts in st.task_sets]

    # ---- the clock ----

    def step(self) -> None:
        for st in list(self.services.values()):
            if st.service.status != "ACTIVE":
                continue
            for sd in list(st.sds):
                if not sd.terminal:
                    if sd.strategy in NATIVE:
                        self._step_native(st, sd)
                    else:
                        self._step_rolling(st, sd)
            self.reconcile(st)
            self.sync(st)

    def _alarms_in_alarm(self, sd: ServiceDeployment) -> list[str]:
        if not sd.alarms_enabled:
            return []
        alarms = cloudwatch_backends[self.account][self.region].alarms
        return [n for n in sd.alarm_names if n in alarms and alarms[n].state_value == "ALARM"]

    # ---- rolling ----

    def _step_rolling(self, st: ServiceState, sd: ServiceDeployment) -> None:
        target = sd.target
        if sd.status == "PENDING":
            sd.status, sd.started_at = "IN_PROGRESS", utcnow()
            target.launching = True
            sd.touch()
            return
        if sd.status == "IN_PROGRESS":
            if sd.cb_enabled and target.failed_tasks >= circuit_breaker_threshold(target.desired):
                sd.cb_status = "TRIGGERED"
                self._fail_rolling(st, sd, CIRCUIT_BREAKER_REASON, sd.cb_rollback)
                return
            triggered = self._alarms_in_alarm(sd)
            if triggered:
                sd.alarms_status, sd.triggered_alarms = "TRIGGERED", triggered
                reason = f"ECS deployment alarms triggered: {', '.join(triggered)}."
                self._fail_rolling(st, sd, reason, sd.alarms_rollback)
                return
            if target.running >= target.desired and target.pending == 0:
                if sd.alarms_enabled:
                    if sd.steady_since is None:
                        sd.steady_since = self.aws.now
                    window = self.aws.minutes(sd.config.get("bakeTimeInMinutes") or 1)
                    if self.aws.now - sd.steady_since < window:
                        return
                    sd.alarms_status = "MONITORING_COMPLETE"
                self._complete(st, sd)
            return
        if sd.status == "ROLLBACK_REQUESTED":
            self._start_rolling_rollback(st, sd, (sd.rollback or {}).get("reason") or "Rollback requested.")
            return
        if sd.status == "ROLLBACK_IN_PROGRESS":
            rb = sd.rollback_dep
            if rb is not None and rb.running >= rb.desired and rb.pending == 0:
                self._complete_deployment(st, rb)
                sd.status = "ROLLBACK_SUCCESSFUL"
                sd.finished_at = utcnow()
                sd.touch()
            return
        if sd.status == "STOP_REQUESTED":
            self._stop(st, sd)

    def _complete_deployment(self, st: ServiceState, dep: Deployment) -> None:
        for other in [d for d in st.deps if d is not dep]:
            self._drain(st, other, dep)
            st.deps.remove(other)
        dep.status = "PRIMARY"
        dep.rollout_state = "COMPLETED"
        dep.rollout_state_reason = f"ECS deployment {dep.id} completed."
        dep.touch()
        st.last_completed = dep
        st.service.task_definition = dep.task_definition
        self.add_event(st, f"(deployment {dep.id}) deployment completed.")
        self.add_event(st, "has reached a steady state.")
        self.emit_deployment(st, dep, "SERVICE_DEPLOYMENT_COMPLETED", dep.rollout_state_reason)
        self.emit_service_action(st, "SERVICE_STEADY_STATE")

    def _complete(self, st: ServiceState, sd: ServiceDeployment) -> None:
        self._complete_deployment(st, sd.target)
        if sd.cb_enabled:
            sd.cb_status = "MONITORING_COMPLETE"
        sd.status = "SUCCESSFUL"
        sd.finished_at = utcnow()
        sd.touch()

    def _fail_rolling(self, st: ServiceState, sd: ServiceDeployment, reason: str, rollback: bool) -> None:
        target = sd.target
        target.rollout_state = "FAILED"
        target.rollout_state_reason = reason
        target.launching = False
        target.touch()
        short = reason.split(": ", 1)[-1].rstrip(".") if reason == CIRCUIT_BREAKER_REASON else reason.rstrip(".")
        self.add_event(st, f"(deployment {target.id}) deployment failed: {short}.")
        self.emit_deployment(st, target, "SERVICE_DEPLOYMENT_FAILED", reason)
        if rollback:
            self._start_rolling_rollback(st, sd, reason)
        else:
            sd.status = "STOPPED"
            sd.status_reason = reason
            sd.stopped_at = sd.finished_at = utcnow()
            sd.touch()

    def _start_rolling_rollback(self, st: ServiceState, sd: ServiceDeployment, reason: str) -> None:
        back_to = st.last_completed if st.last_completed is not sd.target else None
        if back_to is None and sd.source:
            back_to = sd.source[0]
        if back_to is None:
            sd.status = "ROLLBACK_FAILED"
            sd.status_reason = f"{reason} There is no previous deployment to roll back to."
            sd.finished_at = utcnow()
            sd.touch()
            return
        target = sd.target
        if target.rollout_state == "IN_PROGRESS":
            target.rollout_state = "FAILED"
            target.rollout_state_reason = reason
            target.launching = False
            self.emit_deployment(st, target, "SERVICE_DEPLOYMENT_FAILED", reason)
        rb = Deployment(
            self, st, back_to.task_definition, st.service.desired_count,
            reason=f"ECS deployment circuit breaker: rolling back to deploymentId {back_to.id}."
            if reason == CIRCUIT_BREAKER_REASON else f"Rolling back to deploymentId {back_to.id}.",
        )
        rb.launching = True
        for d in st.deps:
            d.status = "ACTIVE"
            d.touch()
        st.deps.insert(0, rb)
        st.service.task_definition = back_to.task_definition
        sd.rollback_dep = rb
        sd.status = "ROLLBACK_IN_PROGRESS"
        sd.status_reason = reason
        sd.rollback = {"reason": reason, "startedAt": utcnow(), "serviceRevisionArn": back_to.revision.arn}
        sd.touch()
        self.add_event(st, f"rolling back to deployment {back_to.id}.")
        self.emit_deployment(st, rb, "SERVICE_DEPLOYMENT_IN_PROGRESS", rb.rollout_state_reason)

    def _stop(self, st: ServiceState, sd: ServiceDeployment) -> None:
        sd.target.launching = sd.target.rollout_state == "COMPLETED"
        if sd.target.rollout_state == "IN_PROGRESS":
            sd.target.rollout_state = "FAILED"
            sd.target.rollout_state_reason = "Service deployment stopped."
        sd.status = "STOPPED"
        sd.status_reason = sd.status_reason or "Service deployment stopped by request."
        sd.stopped_at = sd.finished_at = utcnow()
        sd.touch()

    # ---- BLUE_GREEN, LINEAR, CANARY ----

    def _step_native(self, st: ServiceState, sd: ServiceDeployment) -> None:
        now = self.aws.now
        target = sd.target
        if sd.status == "PENDING":
            sd.status, sd.started_at = "IN_PROGRESS", utcnow()
            sd.stage = "PRE_SCALE_UP"
            sd.stage_since = now
            sd.touch()
            return
        if sd.status == "STOP_REQUESTED":
            self._stop(st, sd)
            return
        if sd.status == "ROLLBACK_REQUESTED":
            sd.status = "ROLLBACK_IN_PROGRESS"
            sd.production_weight = 0.0
            sd.test_weight = 0.0
            target.launching = False
            target.rollout_state = "FAILED"
            target.rollout_state_reason = sd.status_reason
            self.emit_deployment(st, target, "SERVICE_DEPLOYMENT_FAILED", sd.status_reason or "rolled back")
            stages = []
            if sd.reached_test_shift:
                stages.append("TEST_TRAFFIC_SHIFT")
            if sd.reached_production_shift:
                stages.append("PRODUCTION_TRAFFIC_SHIFT")
            sd.hook_stage = None
            if not self.aws.config.drop_failed_hooks:
                sd.failed_hook_runs = [r for r in sd.hook_runs if r.status in ("FAILED", "TIMED_OUT")]
            sd.hook_runs = []
            sd.rollback_stages = stages
            sd.touch()
            return
        if sd.status == "ROLLBACK_IN_PROGRESS":
            stages = sd.rollback_stages
            while stages:
                outcome = self._run_hooks(st, sd, stages[0], rollback=True)
                if outcome == "waiting":
                    return
                if outcome != "done":
                    sd.status = "ROLLBACK_FAILED"
                    sd.status_reason = f"Rollback failed: {outcome}"
                    sd.finished_at = utcnow()
                    sd.touch()
                    return
                stages.pop(0)
                sd.hook_stage = None
            self._drain(st, target, target)
            if target in st.deps:
                st.deps.remove(target)
            blue = sd.source[0] if sd.source else None
            if blue is not None:
                blue.status = "PRIMARY"
                blue.touch()
                st.service.task_definition = blue.task_definition
                st.last_completed = blue
            sd.status = "ROLLBACK_SUCCESSFUL"
            sd.finished_at = utcnow()
            sd.touch()
            self.add_event(st, f"(service deployment {sd.arn.rsplit('/', 1)[-1]}) rolled back: {sd.status_reason}")
            return
        if sd.status != "IN_PROGRESS":
            return

        if now - sd.stage_since >= self.aws.minutes(24 * 60):
            # "Each lifecycle stage can last up to 24 hours ... The system times out, fails the deployment,
            # and then initiates a rollback after a stage reaches 24 hours." (ECS guide,
            # blue-green-deployment-how-it-works.html). The reason text is this emulator's.
            self._request_rollback(sd, f"Service deployment rolled back: the {sd.stage} stage reached 24 hours.")
            return

        if sd.stage in ("PRODUCTION_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "SCALE_UP",
                        "POST_SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"):
            triggered = self._alarms_in_alarm(sd)
            if triggered:
                sd.alarms_status, sd.triggered_alarms = "TRIGGERED", triggered
                self._request_rollback(sd, f"Service deployment rolled back because alarms were triggered: "
                                           f"{', '.join(triggered)}.")
                return

        def hooks_then(stage: str, next_stage: str) -> None:
            outcome = self._run_hooks(st, sd, stage)
            if outcome == "done":
                self._enter(sd, next_stage)
            elif outcome != "waiting":
                self._request_rollback(sd, outcome)

        stage = sd.stage
        if stage == "PRE_SCALE_UP":
            hooks_then("PRE_SCALE_UP", "SCALE_UP")
            if sd.stage == "SCALE_UP":
                target.launching = True
        elif stage == "SCALE_UP":
            # Green tasks that never start fail the deployment only through the circuit breaker, when it is
            # on and applies to native strategies (Config.native_circuit_breaker); no source describes any
            # other automatic failure before the 24-hour stage limit above (FIDELITY.md H1).
            if sd.cb_enabled and target.failed_tasks >= circuit_breaker_threshold(target.desired):
                sd.cb_status = "TRIGGERED"
                reason = CIRCUIT_BREAKER_REASON
                if sd.cb_rollback:
                    self._request_rollback(sd, reason)
                else:
                    target.launching = False
                    sd.status, sd.status_reason = "STOPPED", reason
                    sd.stopped_at = sd.finished_at = utcnow()
                    sd.touch()
            elif target.running >= target.desired and target.pending == 0:
                self._enter(sd, "POST_SCALE_UP")
        elif stage == "POST_SCALE_UP":
            hooks_then("POST_SCALE_UP", "TEST_TRAFFIC_SHIFT")
            if sd.stage == "TEST_TRAFFIC_SHIFT":
                sd.test_weight = 100.0
                sd.reached_test_shift = True
        elif stage == "TEST_TRAFFIC_SHIFT":
            hooks_then("TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT")
        elif stage == "POST_TEST_TRAFFIC_SHIFT":
            hooks_then("POST_TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT")
            if sd.stage == "PRODUCTION_TRAFFIC_SHIFT":
                sd.step_index, sd.step_phase = 0, "pre"
        elif stage == "PRODUCTION_TRAFFIC_SHIFT":
            weight, bake = sd.steps[sd.step_index]
            if sd.step_phase == "pre":
                outcome = self._run_hooks(st, sd, "PRE_PRODUCTION_TRAFFIC_SHIFT", step=sd.step_index)
                if outcome == "done":
                    sd.production_weight = weight
                    sd.reached_production_shift = True
                    sd.step_phase = "shift"
                    sd.touch()
                elif outcome != "waiting":
                    self._request_rollback(sd, outcome)
            elif sd.step_phase == "shift":
                outcome = self._run_hooks(st, sd, "PRODUCTION_TRAFFIC_SHIFT", step=sd.step_index)
                if outcome == "done":
                    if sd.step_index == len(sd.steps) - 1:
                        self._enter(sd, "POST_PRODUCTION_TRAFFIC_SHIFT")
                    else:
                        sd.step_phase = "bake"
                        sd.wait_until = now + self.aws.minutes(bake)
                elif outcome != "waiting":
                    self._request_rollback(sd, outcome)
            elif sd.step_phase == "bake" and now >= (sd.wait_until or 0):
                sd.step_index += 1
                sd.step_phase = "pre"
                sd.hook_stage = None
                sd.touch()
        elif stage == "POST_PRODUCTION_TRAFFIC_SHIFT":
            hooks_then("POST_PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME")
            if sd.stage == "BAKE_TIME":
                sd.wait_until = now + self.aws.minutes(sd.config.get("bakeTimeInMinutes") or 0)
        elif stage == "BAKE_TIME":
            if now >= (sd.wait_until or 0):
                self._enter(sd, "CLEAN_UP")
        elif stage == "CLEAN_UP":
            sd.test_weight = 0.0
            for blue in list(sd.source):
                if blue in st.deps:
                    self._drain(st, blue, target)
                    st.deps.remove(blue)
            self._complete_deployment(st, target)
            if sd.alarms_enabled:
                sd.alarms_status = "MONITORING_COMPLETE"
            sd.status = "SUCCESSFUL"
            sd.finished_at = utcnow()
            sd.touch()

    def _enter(self, sd: ServiceDeployment, stage: str) -> None:
        sd.stage = stage
        sd.stage_since = self.aws.now
        sd.hook_stage = None
        sd.hook_runs = []
        sd.touch()

    def _request_rollback(self, sd: ServiceDeployment, reason: str) -> None:
        sd.status = "ROLLBACK_REQUESTED"
        sd.status_reason = reason
        blue = sd.source[0] if sd.source else None
        sd.rollback = {"reason": reason, "startedAt": utcnow(),
                       "serviceRevisionArn": blue.revision.arn if blue else None}
        sd.touch()

    def _weights(self, sd: ServiceDeployment, stage: str, rollback: bool) -> tuple[dict, dict]:
        green = sd.target.revision.arn
        blue = sd.source[0].revision.arn if sd.source else None

        def pair(w: float) -> dict:
            out = {green: w}
            if blue:
                out[blue] = 100.0 - w
            return out

        if rollback:
            zero = pair(0.0)
            return (zero, {}) if stage == "TEST_TRAFFIC_SHIFT" else ({}, zero)
        if stage == "TEST_TRAFFIC_SHIFT":
            return pair(sd.test_weight), {}
        if stage in ("PRE_PRODUCTION_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"):
            return {}, pair(sd.production_weight)
        return {}, {}

    def _run_hooks(self, st: ServiceState, sd: ServiceDeployment, stage: str, step: int | None = None,
                   rollback: bool = False) -> str:
        """Runs the hooks registered on ``stage`` one after the other: "done", "waiting", or why they failed."""
        key = f"{stage}/{step}/{rollback}"
        hooks = [h for h in sd.config.get("lifecycleHooks") or [] if stage in (h.get("lifecycleStages") or [])]
        if rollback:
            hooks = [h for h in hooks if (h.get("targetType") or "AWS_LAMBDA") == "AWS_LAMBDA"]
        if sd.hook_stage != key:
            sd.hook_stage = key
            sd.hook_runs = []
            for h in hooks:
                index = (sd.config.get("lifecycleHooks") or []).index(h)
                sd.hook_runs.append(HookRun(self.aws, h, stage, sd.hook_memory.get(index)))
            sd.touch()
        for run in sd.hook_runs:
            if run.status == "SUCCEEDED" or (run.status == "TIMED_OUT" and run.timeout_action == "CONTINUE"):
                continue
            if run.status == "FAILED":
                return f"Lifecycle hook {run.target_arn or run.hook_id} failed at {stage}."
            if self.aws.now >= run.expires_clock:
                run.status = "TIMED_OUT"
                sd.touch()
                if run.timeout_action == "CONTINUE":
                    continue
                return f"Lifecycle hook {run.target_arn or run.hook_id} timed out at {stage}."
            if run.target_type == "PAUSE":
                if run.action == "CONTINUE":
                    run.status = "SUCCEEDED"
                    sd.touch()
                    continue
                if run.action == "ROLLBACK":
                    run.status = "FAILED"
                    sd.touch()
                    return f"Rollback requested for lifecycle hook {run.hook_id} at {stage}."
                return "waiting"
            if run.future is None:
                if self.aws.now + 1e-9 >= run.next_at:
                    test_w, prod_w = self._weights(sd, stage, rollback)
                    payload = {
                        "executionId": run.execution_id,
                        "lifecycleStage": stage,
                        "resourceArn": sd.arn,
                        "executionDetails": {
                            "serviceArn": st.service.arn,
                            "targetServiceRevisionArn": sd.target.revision.arn,
                            "testTrafficWeights": test_w,
                            "productionTrafficWeights": prod_w,
                        },
                        "hookDetails": run.details,
                    }
                    run.invocations += 1
                    run.future = self.aws.invoker.invoke(run.target_arn or "", payload)
                return "waiting"
            if not run.future.done():
                return "waiting"
            ok, answer = run.future.result()
            run.future = None
            index = (sd.config.get("lifecycleHooks") or []).index(run.hook)
            if not ok:
                run.status = "FAILED"
                sd.touch()
                return f"Lifecycle hook {run.target_arn} failed at {stage}: {answer}"
            status = answer.get("hookStatus") if isinstance(answer, dict) else None
            if isinstance(answer, dict) and isinstance(answer.get("hookDetails"), dict):
                run.details = {**run.details, **answer["hookDetails"]}
                sd.hook_memory[index] = run.details
            if status == "SUCCEEDED":
                run.status = "SUCCEEDED"
                sd.touch()
                continue
            if status == "IN_PROGRESS":
                delay = answer.get("callBackDelay", 30)
                run.next_at = self.aws.now + self.aws.seconds(float(delay))
                return "waiting"
            run.status = "FAILED"
            sd.touch()
            if status is None:
                return f"Lifecycle hook {run.target_arn} failed at {stage}: HookStatus must not be null."
            return f"Lifecycle hook {run.target_arn} returned hookStatus {status} at {stage}."
        return "done"

    # ---- the service-deployments API ----

    def _sd(self, arn: str | None) -> ServiceDeployment:
        sd = self.service_deployments.get(arn or "")
        if sd is None:
            raise EcsError("ServiceDeploymentNotFoundException", f"The service deployment {arn} does not exist.")
        return sd

    def list_service_deployments(self, p: dict) -> dict:
        try:
            service = self.find_service(p.get("cluster"), p.get("service", ""))
        except ServiceNotFoundException:
            raise
        st = self.state(service)
        sds = list(reversed(st.sds))
        if p.get("status"):
            sds = [sd for sd in sds if sd.status in p["status"]]
        created = p.get("createdAt") or {}
        if created.get("after") is not None:
            sds = [sd for sd in sds if sd.created_at.timestamp() >= float(created["after"])]
        if created.get("before") is not None:
            sds = [sd for sd in sds if sd.created_at.timestamp() <= float(created["before"])]
        start = int(p.get("nextToken") or 0)
        size = int(p.get("maxResults") or 20)
        page = sds[start : start + size]
        out: dict[str, Any] = {"serviceDeployments": [sd.brief() for sd in page]}
        if start + size < len(sds):
            out["nextToken"] = str(start + size)
        return out

    def describe_service_deployments(self, p: dict) -> dict:
        arns = p.get("serviceDeploymentArns") or []
        if len(arns) > 20:
            raise EcsError("InvalidParameterException", "serviceDeploymentArns can have at most 20 items.")
        found, failures = [], []
        for arn in arns:
            sd = self.service_deployments.get(arn)
            if sd is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(sd.api())
        return {"serviceDeployments": found, "failures": failures}

    def describe_service_revisions(self, p: dict) -> dict:
        arns = p.get("serviceRevisionArns") or []
        if len(arns) > 20:
            raise EcsError("InvalidParameterException", "serviceRevisionArns can have at most 20 items.")
        found, failures = [], []
        for arn in arns:
            rev = self.revisions.get(arn)
            if rev is None:
                failures.append({"arn": arn, "reason": "MISSING"})
            else:
                found.append(rev.api)
        return {"serviceRevisions": found, "failures": failures}

    def stop_service_deployment(self, p: dict) -> dict:
        sd = self._sd(p.get("serviceDeploymentArn"))
        stop_type = p.get("stopType") or "ROLLBACK"
        if stop_type not in ("ROLLBACK", "ABORT"):
            raise EcsError("InvalidParameterException", f"Invalid stopType: {stop_type}")
        if sd.terminal:
            raise EcsError(
                "ConflictException",
                f"The service deployment {sd.arn} is in the {sd.status} state and cannot be stopped.",
            )
        if sd.status in ("PENDING", "IN_PROGRESS"):
            if stop_type == "ROLLBACK":
                reason = "Service deployment rolled back because of a StopServiceDeployment request."
                if sd.strategy in NATIVE:
                    self._request_rollback(sd, reason)
                else:
                    sd.status = "ROLLBACK_REQUESTED"
                    sd.status_reason = reason
                    sd.rollback = {"reason": reason, "startedAt": utcnow(),
                                   "serviceRevisionArn": sd.source[0].revision.arn if sd.source else None}
                    sd.touch()
            else:
                sd.status = "STOP_REQUESTED"
                sd.status_reason = "Service deployment stopped because of a StopServiceDeployment request."
                sd.touch()
        self.sync(sd.st)
        return {"serviceDeploymentArn": sd.arn}

    def continue_service_deployment(self, p: dict) -> dict:
        sd = self._sd(p.get("serviceDeploymentArn"))
        action = p.get("action") or "CONTINUE"
        if action not in ("CONTINUE", "ROLLBACK"):
            raise EcsError("InvalidParameterException", f"Invalid action: {action}")
        if sd.terminal:
            raise EcsError(
                "ConflictException",
                f"The service deployment {sd.arn} is in the {sd.status} state and cannot be continued.",
            )
        hook_id = p.get("hookId")
        run = next((r for r in sd.hook_runs if r.hook_id == hook_id), None)
        if run is None or run.status != "AWAITING_ACTION":
            raise EcsError(
                "InvalidParameterException",
                f"The service deployment {sd.arn} has no lifecycle hook {hook_id} awaiting action.",
            )
        run.action = action
        sd.touch()
        return {"serviceDeploymentArn": sd.arn}

    # ---- ListTaskDefinitions as ECS answers it ----

    def list_task_definitions(self, p: dict) -> list[str]:
        """``familyPrefix`` matches families that start with it (moto: only the family itself), ``status``
        (default ACTIVE), ``sort`` ASC (default) or DESC by family, then revision (moto: registration order,
        unsorted). One page: the local AWS never has more than fits."""
        prefix = p.get("familyPrefix") or ""
        status = p.get("status") or "ACTIVE"
        found = [
            (family, revision, td.arn)
            for family, revisions in self.backend.task_definitions.items()
            if family.startswith(prefix)
            for revision, td in revisions.items()
            if td.status == status
        ]
        found.sort(key=lambda f: (f[0], f[1]), reverse=(p.get("sort") or "ASC") == "DESC")
        return [arn for _, _, arn in found]

    # ---- ListTasks that knows services ----

    def list_tasks(self, p: dict) -> list[str]:
        cluster = self.backend._get_cluster(p.get("cluster") or "default")
        service_name = (p.get("serviceName") or "").split("/")[-1]
        desired = p.get("desiredStatus") or "RUNNING"
        family = p.get("family")
        started_by = p.get("startedBy")
        out = []
        for task in self.backend.tasks.get(cluster.name, {}).values():
            if service_name and getattr(task, "group", None) != f"service:{service_name}":
                continue
            if desired and task.desired_status != desired:
                continue
            if started_by and task.started_by != started_by:
                continue
            if family and family_revision(task.task_definition_arn).split(":")[0] != family:
                continue
            out.append(task.task_arn)
        return out
