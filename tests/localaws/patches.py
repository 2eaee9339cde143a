"""Where the local AWS hooks into moto: new operations on moto's response classes, and wrappers around the
few moto operations whose results must now move (CreateService, UpdateService, ListTasks,
CreateDeployment, ...). Installed once per process; each handler finds the running ``LocalAws``."""

from __future__ import annotations

import json
from typing import Any, Callable

from moto.codedeploy import responses as cd_responses
from moto.codedeploy.responses import CodeDeployResponse
from moto.core.responses import ActionResult, BaseResponse
from moto.ecs.models import EC2ContainerServiceBackend
from moto.ecs.responses import EC2ContainerServiceResponse

from .server import current, not_implemented_body

_installed = False


def _ecs(self: BaseResponse):
    return current().ecs(self.current_account, self.region)


def _cd(self: BaseResponse):
    return current().codedeploy(self.current_account, self.region)


def _params(self: BaseResponse) -> dict:
    try:
        return json.loads(self.body or "{}")
    except ValueError:
        return {}


def _call_action(original: Callable) -> Callable:
    def call_action(self: BaseResponse) -> Any:
        try:
            return original(self)
        except NotImplementedError:
            operation = self._get_action() or "unknown operation"
            return 400, {"Content-Type": "application/x-amz-json-1.1", "status": "400"}, json.dumps(
                not_implemented_body(operation)
            )

    return call_action


def _ecs_op(name: str) -> Callable:
    def handler(self: EC2ContainerServiceResponse) -> ActionResult:
        return ActionResult(getattr(_ecs(self), name)(_params(self)))

    handler.__name__ = name
    return handler


def _cd_op(name: str) -> Callable:
    def handler(self: CodeDeployResponse) -> ActionResult:
        return ActionResult(getattr(_cd(self), name)(_params(self)))

    handler.__name__ = name
    return handler


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True

    BaseResponse.call_action = _call_action(BaseResponse.call_action)  # type: ignore[method-assign]

    # ---- ECS ----
    ecs = EC2ContainerServiceResponse
    original_create_service = ecs.create_service
    original_update_service = ecs.update_service

    def create_service(self: EC2ContainerServiceResponse) -> ActionResult:
        params = _params(self)
        engine = _ecs(self)
        engine.check_create_service(params)
        result = original_create_service(self)
        engine.on_create_service(result.result["service"], params)  # type: ignore[index]
        return result

    def update_service(self: EC2ContainerServiceResponse) -> ActionResult:
        params = _params(self)
        engine = _ecs(self)
        before = engine.before_update_service(params)
        result = original_update_service(self)
        engine.on_update_service(result.result["service"], params, before)  # type: ignore[index]
        return result

    def list_tasks(self: EC2ContainerServiceResponse) -> ActionResult:
        return ActionResult({"taskArns": _ecs(self).list_tasks(_params(self))})

    def list_task_definitions(self: EC2ContainerServiceResponse) -> ActionResult:
        return ActionResult({"taskDefinitionArns": _ecs(self).list_task_definitions(_params(self))})

    # DescribeTaskDefinition of a bare family answers its newest ACTIVE revision, as ECS documents; moto
    # answers the newest of any status, so a deregistered revision would come back.
    backend = EC2ContainerServiceBackend
    original_describe_td = backend.describe_task_definition

    def describe_task_definition(self: EC2ContainerServiceBackend, task_definition_str: str) -> Any:
        name = task_definition_str.split("/")[-1]
        if ":" not in name:
            active = [r for r, td in self.task_definitions.get(name, {}).items() if td.status == "ACTIVE"]
            if active:
                task_definition_str = f"{name}:{max(active)}"
        return original_describe_td(self, task_definition_str)

    backend.describe_task_definition = describe_task_definition  # type: ignore[method-assign]
    ecs.create_service = create_service  # type: ignore[method-assign]
    ecs.update_service = update_service  # type: ignore[method-assign]
    ecs.list_tasks = list_tasks  # type: ignore[method-assign]
    ecs.list_task_definitions = list_task_definitions  # type: ignore[method-assign]
    for name in (
        "list_service_deployments",
        "describe_service_deployments",
        "stop_service_deployment",
        "continue_service_deployment",
        "describe_service_revisions",
    ):
        setattr(ecs, name, _ecs_op(name))

    # ---- CodeDeploy ----
    cd = CodeDeployResponse
    original_create_deployment = cd.create_deployment
    original_create_group = cd.create_deployment_group
    original_info = cd_responses._deployment_info

    def create_deployment(self: CodeDeployResponse) -> ActionResult:
        params = _params(self)
        engine = _cd(self)
        engine.check_create_deployment(params)
        result = original_create_deployment(self)
        moto_id = result.result["deploymentId"]  # type: ignore[index]
        return ActionResult({"deploymentId": engine.on_create_deployment(moto_id, params)})

    def create_deployment_group(self: CodeDeployResponse) -> ActionResult:
        params = _params(self)
        result = original_create_group(self)
        _cd(self).on_create_deployment_group(params)
        return result

    def deployment_info(deployment: Any) -> dict:
        info = original_info(deployment)
        overlay = getattr(deployment, "localaws_overlay", None)
        if overlay is not None:
            info.update(overlay())
        return info

    cd.create_deployment = create_deployment  # type: ignore[method-assign]
    cd.create_deployment_group = create_deployment_group  # type: ignore[method-assign]
    cd_responses._deployment_info = deployment_info
    for name in (
        "stop_deployment",
        "continue_deployment",
        "put_lifecycle_event_hook_execution_status",
        "get_deployment_target",
        "list_deployment_targets",
        "batch_get_deployment_targets",
        "get_deployment_config",
        "create_deployment_config",
        "delete_deployment_config",
        "list_deployment_configs",
    ):
        setattr(cd, name, _cd_op(name))
