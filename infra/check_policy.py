#!/usr/bin/env python3
"""Least-privilege gate for the IAM permissions of the three functions in infra/template.yaml.

The template has three functions, each with its own role, told apart by their build binary
(Metadata.BuildProperties.Binary):

- `deployer` holds the ECS power: ECS on the stack's cluster and service, CodeDeploy on the stack's one
  deployment group and application (and reading deployment configurations), ECR DescribeImages on the stack's
  repository or on the repository ARNs of the `ImageRepositoryArns` parameter (whose AllowedPattern must admit
  one ECR repository ARN per entry, never a wildcard), its deploy lock table, its notification topic, the
  Slack webhook secret, its own logs;
- `front` faces the network and may only invoke the deployer and itself, read its two secrets, write its
  own logs, and put Slack replay records (keys `slack-replay#…`, a `dynamodb:LeadingKeys` condition) in the
  lock table. It must hold no `ecs:`, `ecr:` or `iam:PassRole` action and no `dynamodb:` action but that
  PutItem, which is checked on its own so that the reason is plain when it fails;
- `hook` (the lifecycle hook) may only write its own logs, publish its verdicts on the topic
  HOOK_SNS_TOPIC_ARN names, describe the alarms of the `HookAlarmArns` parameter (one CloudWatch alarm ARN
  per entry, never a wildcard) and report
  PutLifecycleEventHookExecutionStatus to the stack's one CodeDeploy deployment group. It must hold no
  `ecs:`, `ecr:`, `iam:`, `dynamodb:`, `lambda:` or `secretsmanager:` action.

The role ECS assumes to invoke the hook (the one role of the template that no function runs as) may be
assumed by ecs.amazonaws.com only, for this account, and may do nothing but lambda:InvokeFunction on the hook.

For each role it collects every statement that reaches it (the role's inline policies, any
AWS::IAM::Policy / ManagedPolicy / RolePolicy attached to the role, SAM `Policies` on the function, both
branches of an `Fn::If` statement) and fails when an action is not on that role's list below, when an action
is granted on a resource other than the ones it is allowed on, or when a required condition is missing. It
also fails on managed policies (whose statements it cannot see), NotAction / NotResource, a hard-coded
`arn:aws:` partition, two functions sharing a role, and a function it does not know.

It also checks who can invoke what: the deployer has no API event and no Function URL, and only an
EventBridge rule of this template may invoke it through a resource policy; every front-door route but
POST /slack uses the API's IAM authorizer; a public permission on the front door only ever covers its
Function URL; the hook has no Events, no Function URL and no resource policy.

    python infra/check_policy.py [TEMPLATE]              check the template (default: infra/template.yaml)
    python infra/check_policy.py --self-test [TEMPLATE]  prove that broken copies of it are refused

The last line is `policy: N passed, M failed` (or `self-test: ...`); the exit code is 1 on any failure.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from cfnlint.decode import cfn_yaml

DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
POLICY_TYPES = {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"}

PREFIX = "arn:${AWS::Partition}"
SERVICE_ARN = PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:service/${ClusterName}/${ServiceName}"
CLUSTER_ARN = PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:cluster/${ClusterName}"
TASK_ARNS = PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:task/${ClusterName}/*"
TASK_DEFINITION_ARNS = PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:task-definition/*"
# cleanup reads (never updates) every service of the stack's cluster, and the account's EventBridge rules.
CLUSTER_SERVICE_ARNS = PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:service/${ClusterName}/*"
RULE_ARNS = PREFIX + ":events:${AWS::Region}:${AWS::AccountId}:rule/*"
# The stack's service's ECS-native service deployments and service revisions, and none of another service.
SERVICE_DEPLOYMENT_ARNS = PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:service-deployment/${ClusterName}/${ServiceName}/*"
SERVICE_REVISION_ARNS = PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:service-revision/${ClusterName}/${ServiceName}/*"
# CODE_DEPLOY services: the stack's one CodeDeploy deployment group and application, and (read-only) the
# account's deployment configurations.
CODEDEPLOY_ARN = PREFIX + ":codedeploy:${AWS::Region}:${AWS::AccountId}:"
DEPLOYMENT_GROUP_ARN = CODEDEPLOY_ARN + "deploymentgroup:${CodeDeployApplicationName}/${CodeDeployDeploymentGroupName}"
APPLICATION_ARN = CODEDEPLOY_ARN + "application:${CodeDeployApplicationName}"
DEPLOYMENT_CONFIG_ARNS = CODEDEPLOY_ARN + "deploymentconfig:*"
REPOSITORY_ARN = PREFIX + ":ecr:${AWS::Region}:${AWS::AccountId}:repository/${RepositoryName}"
# The repositories the service pulls from when they are not the stack's own: a list parameter whose every
# entry must be one ECR repository ARN (checked by `check_image_repositories`).
IMAGE_REPOSITORIES = "${ImageRepositoryArns}"
IMAGE_REPOSITORIES_PARAMETER = "ImageRepositoryArns"
# What the parameter's AllowedPattern must take, and what it must refuse (CloudFormation matches it against
# each entry of a CommaDelimitedList, whole).
IMAGE_REPOSITORY_SAMPLES_OK = (
    "",
    "arn:aws:ecr:us-west-2:123456789012:repository/web",
    "arn:aws:ecr:us-east-1:999999999999:repository/team/web",
    "arn:aws-cn:ecr:cn-north-1:123456789012:repository/a.b/c_d-e",
    "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/web",
)
IMAGE_REPOSITORY_SAMPLES_REFUSED = (
    "*",
    "arn:aws:ecr:us-west-2:123456789012:repository/*",
    "arn:aws:ecr:us-west-2:123456789012:repository/team/*",
    "arn:aws:ecr:us-west-2:123456789012:repository/we?b",
    "arn:aws:ecr:*:123456789012:repository/web",
    "arn:aws:ecr:us-west-2:*:repository/web",
    "arn:aws:ecr:us-west-2:12345:repository/web",
    "arn:aws:ecr:us-west-2:123456789012:*",
    "arn:aws:s3:::bucket",
    "arn:aws:ecr:us-west-2:123456789012:repository/web\narn:aws:ecr:us-west-2:123456789012:repository/*",
)
FUNCTION_ARN = PREFIX + ":lambda:${AWS::Region}:${AWS::AccountId}:function:"
# The hook's alarms: a list parameter whose every entry must be one CloudWatch alarm ARN.
HOOK_ALARMS = "${HookAlarmArns}"
HOOK_ALARMS_PARAMETER = "HookAlarmArns"
HOOK_ALARM_SAMPLES_OK = (
    "",
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-5xx",
    "arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:TargetTracking-web AlarmHigh-1f2e",
)
HOOK_ALARM_SAMPLES_REFUSED = (
    "*",
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:*",
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-*",
    "arn:aws:cloudwatch:*:123456789012:alarm:web",
    "arn:aws:cloudwatch:us-east-1:*:alarm:web",
    "arn:aws:cloudwatch:us-east-1:123456789012:*",
    "arn:aws:logs:us-east-1:123456789012:log-group:web",
)

# Placeholders in the rules below, resolved per function from the template (see `collect`):
LOG_GROUP_ARN = "${<LOG_GROUP>.Arn}"  # the function's own log group (LoggingConfig.LogGroup)
LOCK_TABLE_ARN = "${<LOCK_TABLE>.Arn}"  # the DynamoDB table DEPLOY_LOCK_TABLE names
TOPIC_ARN = "${<TOPIC>}"  # the SNS topic NOTIFY_SNS_TOPIC_ARN names (Ref of a topic is its ARN)
DEPLOYER_ARN = "${<DEPLOYER>.Arn}"  # the deployer function
SELF_ARN = FUNCTION_ARN + "<SELF_NAME>"  # the front door itself, from its fixed FunctionName


@dataclass(frozen=True)
class Rule:
    resources: frozenset[str]
    conditions: tuple[tuple[str, str, str], ...] = ()  # (operator, key, value), each required


def rule(*resources: str, conditions: tuple[tuple[str, str, str], ...] = ()) -> Rule:
    return Rule(frozenset(resources), conditions)


# Every action the deployer may be granted, lowercased (IAM action names are case-insensitive), with the only
# resources it may be granted on and the conditions that must come with it. Every one is also required.
DEPLOYER_ALLOWED: dict[str, Rule] = {
    "ecs:updateservice": rule(SERVICE_ARN),
    "ecs:describeservices": rule(SERVICE_ARN, CLUSTER_SERVICE_ARNS),
    "ecs:describeclusters": rule(CLUSTER_ARN),
    # ECS has no resource-level permissions for these three: "*" is the only resource IAM accepts.
    "ecs:registertaskdefinition": rule("*"),
    "ecs:describetaskdefinition": rule("*"),
    "ecs:deregistertaskdefinition": rule("*"),
    "ecs:tagresource": rule(
        TASK_DEFINITION_ARNS, conditions=(("StringEquals", "ecs:CreateAction", "RegisterTaskDefinition"),)
    ),
    # ListTasks authorizes on container instances, which Fargate tasks have none of: "*", narrowed to the
    # cluster by the ecs:cluster condition key.
    "ecs:listtasks": rule("*", conditions=(("ArnEquals", "ecs:cluster", CLUSTER_ARN),)),
    "ecs:describetasks": rule(TASK_ARNS),
    # cleanup: the family's revisions (no resource-level permission: "*"), deleting INACTIVE ones, the
    # cluster's other services (ListServices: "*" narrowed to the cluster), and the EventBridge rules whose
    # target is the cluster (ListRuleNamesByTarget names no rule: "*").
    "ecs:listtaskdefinitions": rule("*"),
    "ecs:deletetaskdefinitions": rule(TASK_DEFINITION_ARNS),
    "ecs:listservices": rule("*", conditions=(("ArnEquals", "ecs:cluster", CLUSTER_ARN),)),
    "events:listrulenamesbytarget": rule("*"),
    "events:listtargetsbyrule": rule(RULE_ARNS),
    "ecs:listservicedeployments": rule(SERVICE_ARN),
    "ecs:describeservicedeployments": rule(SERVICE_DEPLOYMENT_ARNS),
    "ecs:stopservicedeployment": rule(SERVICE_DEPLOYMENT_ARNS),
    "ecs:continueservicedeployment": rule(SERVICE_DEPLOYMENT_ARNS),
    "ecs:describeservicerevisions": rule(SERVICE_REVISION_ARNS),
    "codedeploy:getdeploymentgroup": rule(DEPLOYMENT_GROUP_ARN),
    "codedeploy:createdeployment": rule(DEPLOYMENT_GROUP_ARN),
    "codedeploy:listdeployments": rule(DEPLOYMENT_GROUP_ARN),
    "codedeploy:getdeployment": rule(DEPLOYMENT_GROUP_ARN),
    "codedeploy:getdeploymenttarget": rule(DEPLOYMENT_GROUP_ARN),
    "codedeploy:stopdeployment": rule(DEPLOYMENT_GROUP_ARN),
    "codedeploy:continuedeployment": rule(DEPLOYMENT_GROUP_ARN),
    "codedeploy:registerapplicationrevision": rule(APPLICATION_ARN),
    "codedeploy:getdeploymentconfig": rule(DEPLOYMENT_CONFIG_ARNS),
    # CodePipeline has no resource-level permissions for job results and job details: "*" is the only
    # resource IAM accepts. GetJobDetails reads a continued job back to check its continuation token.
    "codepipeline:getjobdetails": rule("*"),
    "codepipeline:putjobsuccessresult": rule("*"),
    "codepipeline:putjobfailureresult": rule("*"),
    "ecr:describeimages": rule(REPOSITORY_ARN, IMAGE_REPOSITORIES),
    "iam:passrole": rule(
        "${TaskRoleArn}",
        "${ExecutionRoleArn}",
        conditions=(("StringEquals", "iam:PassedToService", "ecs-tasks.amazonaws.com"),),
    ),
    "dynamodb:putitem": rule(LOCK_TABLE_ARN),
    "dynamodb:getitem": rule(LOCK_TABLE_ARN),
    "dynamodb:deleteitem": rule(LOCK_TABLE_ARN),
    # The deploy history: read through the lock table's `history` index, and only there.
    "dynamodb:query": rule(LOCK_TABLE_ARN + "/index/history"),
    "sns:publish": rule(TOPIC_ARN),
    "secretsmanager:getsecretvalue": rule("${SlackWebhookSecretArn}"),
    "logs:createlogstream": rule(LOG_GROUP_ARN),
    "logs:putlogevents": rule(LOG_GROUP_ARN),
}

# The front door: invoke the deployer and itself (the Slack continuation), read its two secrets, write logs,
# and remember Slack requests (a conditional PutItem of replay records, never of a lock item).
REPLAY_KEYS = "slack-replay#*"
FRONT_ALLOWED: dict[str, Rule] = {
    "lambda:invokefunction": rule(DEPLOYER_ARN, SELF_ARN),
    "secretsmanager:getsecretvalue": rule("${AuthTokenSecretArn}", "${SlackSigningSecretArn}"),
    "dynamodb:putitem": rule(
        LOCK_TABLE_ARN, conditions=(("ForAllValues:StringLike", "dynamodb:LeadingKeys", REPLAY_KEYS),)
    ),
    "logs:createlogstream": rule(LOG_GROUP_ARN),
    "logs:putlogevents": rule(LOG_GROUP_ARN),
}

# Action prefixes the front door must never hold, whatever the allowed list says, and the only actions
# under them it may hold.
FRONT_FORBIDDEN = ("ecs:", "ecr:", "dynamodb:", "iam:passrole")
FRONT_FORBIDDEN_EXCEPT = ("dynamodb:putitem",)

# The lifecycle hook: its logs, the named alarms, and reports to the stack's deployment group.
HOOK_ALLOWED: dict[str, Rule] = {
    "cloudwatch:describealarms": rule(HOOK_ALARMS),
    "codedeploy:putlifecycleeventhookexecutionstatus": rule(DEPLOYMENT_GROUP_ARN),
    "sns:publish": rule(TOPIC_ARN),
    "logs:createlogstream": rule(LOG_GROUP_ARN),
    "logs:putlogevents": rule(LOG_GROUP_ARN),
}
HOOK_FORBIDDEN = ("ecs:", "ecr:", "iam:", "dynamodb:", "lambda:", "secretsmanager:")


@dataclass(frozen=True)
class RoleSpec:
    binary: str
    allowed: dict[str, Rule]
    forbidden: tuple[str, ...] = ()
    forbidden_except: tuple[str, ...] = ()


SPECS = (
    RoleSpec("deployer", DEPLOYER_ALLOWED),
    RoleSpec("front", FRONT_ALLOWED, FRONT_FORBIDDEN, FRONT_FORBIDDEN_EXCEPT),
    RoleSpec("hook", HOOK_ALLOWED, HOOK_FORBIDDEN),
)


@dataclass
class Report:
    passed: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, ok: bool, message: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failures.append(message)
        return ok


def plain(node: Any) -> Any:
    """The cfn-lint node tree as plain dicts, lists and strings."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def load(path: Path) -> dict:
    return plain(cfn_yaml.load(str(path)))


def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def canonical(value: Any) -> str:
    """A resource or condition value as one comparable string: `!Ref X` is `${X}`, `!GetAtt X.Y` is `${X.Y}`,
    `!Sub "s"` is `s`. Anything else (Fn::Join, Fn::Sub with a variable map, ...) keeps a form no rule has."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if fn == "Ref" and isinstance(arg, str):
            return "${%s}" % arg
        if fn == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            if isinstance(parts, list) and len(parts) == 2 and all(isinstance(p, str) for p in parts):
                return "${%s.%s}" % tuple(parts)
        if fn == "Fn::Sub":
            if isinstance(arg, str):
                return arg
            if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str) and not arg[1]:
                return arg[0]
    return "<unsupported: %s>" % json.dumps(value, sort_keys=True)


def ref_target(value: Any, attribute: str | None = None) -> str | None:
    """The logical id that `value` names through Ref, or through GetAtt of `attribute`."""
    if isinstance(value, dict) and len(value) == 1:
        (fn, arg), = value.items()
        if attribute is None and fn == "Ref" and isinstance(arg, str):
            return arg
        if attribute and fn == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            if isinstance(parts, list) and len(parts) == 2 and parts[1] == attribute:
                return parts[0]
    return None


def names(value: Any) -> str | None:
    """The logical id `value` names through Ref or GetAtt .Arn (how a function or a role is named)."""
    return ref_target(value) or ref_target(value, "Arn")


@dataclass
class Statement:
    where: str
    body: Any


def branches(body: Any, where: str, conditions: dict, report: Report) -> Iterator[Statement]:
    """A statement, or each branch of an `Fn::If` statement (AWS::NoValue contributes nothing)."""
    if isinstance(body, dict) and list(body) == ["Fn::If"]:
        arg = body["Fn::If"]
        if not report.check(
            isinstance(arg, list) and len(arg) == 3 and arg[0] in conditions,
            f"{where}: Fn::If statement {json.dumps(body)} must name a Condition of the template",
        ):
            return
        for branch in arg[1:]:
            if branch == {"Ref": "AWS::NoValue"}:
                continue
            yield from branches(branch, f"{where} (if {arg[0]})", conditions, report)
        return
    yield Statement(where, body)


def functions_by_binary(resources: dict, report: Report) -> dict[str, str]:
    """Logical id of each function this check knows, by its build binary; any other function fails."""
    found: dict[str, str] = {}
    known = {spec.binary for spec in SPECS}
    for name, res in resources.items():
        if not isinstance(res, dict) or res.get("Type") not in FUNCTION_TYPES:
            continue
        binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if not report.check(
            binary in known, f"function {name} (binary {binary!r}) is not one this check knows; its "
            "permissions would be unchecked"
        ) or not report.check(
            binary not in found, f"function {name} builds {binary!r} like {found.get(binary)}; one function each"
        ):
            continue
        found[binary] = name
    for binary in sorted(known):
        report.check(binary in found, f"no function builds the {binary!r} binary")
    return found


def env_of(resources: dict, fn_name: str) -> dict:
    props = resources[fn_name].get("Properties") or {}
    return ((props.get("Environment") or {}).get("Variables")) or {}


def resolve_placeholders(
    spec: RoleSpec, fn_name: str, fns: dict[str, str], resources: dict, report: Report
) -> dict[str, str]:
    """What <LOG_GROUP>, <LOCK_TABLE>, <TOPIC>, <DEPLOYER> and <SELF_NAME> stand for, for this function."""
    props = resources[fn_name].get("Properties") or {}
    env = env_of(resources, fn_name)
    subs: dict[str, str] = {}

    def typed(token: str, target: str | None, rtype: str, what: str) -> None:
        ok = target is not None and (resources.get(target) or {}).get("Type") == rtype
        if report.check(ok, f"{fn_name}: {what} must be !Ref of an {rtype} of this template"):
            subs[token] = target  # type: ignore[assignment]

    typed("LOG_GROUP", ref_target((props.get("LoggingConfig") or {}).get("LogGroup")), "AWS::Logs::LogGroup",
          "LoggingConfig.LogGroup")
    if spec.binary == "deployer":
        typed("LOCK_TABLE", ref_target(env.get("DEPLOY_LOCK_TABLE")), "AWS::DynamoDB::Table",
              "Environment DEPLOY_LOCK_TABLE")
        typed("TOPIC", ref_target(env.get("NOTIFY_SNS_TOPIC_ARN")), "AWS::SNS::Topic",
              "Environment NOTIFY_SNS_TOPIC_ARN")
    if spec.binary == "hook":
        typed("TOPIC", ref_target(env.get("HOOK_SNS_TOPIC_ARN")), "AWS::SNS::Topic", "Environment HOOK_SNS_TOPIC_ARN")
    if spec.binary == "front":
        typed("LOCK_TABLE", ref_target(env.get("SLACK_REPLAY_TABLE")), "AWS::DynamoDB::Table",
              "Environment SLACK_REPLAY_TABLE")
        deployer = fns.get("deployer")
        if report.check(
            deployer is not None and names(env.get("DEPLOYER_FUNCTION")) == deployer,
            f"{fn_name}: Environment DEPLOYER_FUNCTION must name the deployer function ({deployer})",
        ):
            subs["DEPLOYER"] = deployer  # type: ignore[assignment]
        own = canonical(props.get("FunctionName"))
        if report.check(
            bool(props.get("FunctionName")) and not own.startswith("<unsupported"),
            f"{fn_name}: FunctionName must be fixed (a string or !Sub) so its role can name it without a cycle",
        ):
            subs["SELF_NAME"] = own
    return subs


def collect(
    template: dict, spec: RoleSpec, fn_name: str, fns: dict[str, str], report: Report
) -> tuple[str | None, list[Statement], dict[str, str]]:
    """The role of `fn_name`, every statement that reaches it, and the placeholders its rules need."""
    resources = template.get("Resources") or {}
    conditions = template.get("Conditions") or {}
    props = resources[fn_name].get("Properties") or {}
    statements: list[Statement] = []

    # SAM's own Policies on the function: inline statements are checked; anything else is unverifiable.
    for i, policy in enumerate(as_list(props.get("Policies"))):
        doc = policy if isinstance(policy, dict) and "Statement" in policy else None
        if report.check(doc is not None, f"{fn_name}.Policies[{i}]: {json.dumps(policy)} is not an inline "
                        "policy document; its permissions cannot be checked"):
            for s in as_list(doc["Statement"]):
                statements += branches(s, f"{fn_name}.Policies[{i}]", conditions, report)

    subs = resolve_placeholders(spec, fn_name, fns, resources, report)

    role = ref_target(props.get("Role"), "Arn")
    role_res = resources.get(role) if role else None
    if not report.check(
        isinstance(role_res, dict) and role_res.get("Type") == "AWS::IAM::Role",
        f"{fn_name}.Role must be !GetAtt <an AWS::IAM::Role of this template>.Arn, is {props.get('Role')!r}",
    ):
        return None, statements, subs
    role_props = role_res.get("Properties") or {}

    report.check(
        not role_props.get("ManagedPolicyArns"),
        f"{role}.ManagedPolicyArns {role_props.get('ManagedPolicyArns')} grant permissions this check cannot see",
    )
    trust = as_list((role_props.get("AssumeRolePolicyDocument") or {}).get("Statement"))
    principals = [s.get("Principal") for s in trust if isinstance(s, dict)]
    report.check(
        principals == [{"Service": "lambda.amazonaws.com"}],
        f"{role}: only lambda.amazonaws.com may assume the role, trust policy has {principals}",
    )

    for i, policy in enumerate(as_list(role_props.get("Policies"))):
        name = policy.get("PolicyName", i) if isinstance(policy, dict) else i
        doc = policy.get("PolicyDocument") if isinstance(policy, dict) else None
        if report.check(isinstance(doc, dict), f"{role}.Policies[{i}] has no PolicyDocument"):
            for s in as_list(doc.get("Statement")):
                statements += branches(s, f"{role}/{name}", conditions, report)

    # Policies attached to the role from outside it.
    for name, res in resources.items():
        if not isinstance(res, dict) or res.get("Type") not in POLICY_TYPES:
            continue
        p = res.get("Properties") or {}
        attached = [ref_target(r) for r in as_list(p.get("Roles"))] + [ref_target(p.get("RoleName"))]
        if role in attached:
            doc = p.get("PolicyDocument") or {}
            for s in as_list(doc.get("Statement")):
                statements += branches(s, name, conditions, report)
    return role, statements, subs


def forbidden_match(action: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> str | None:
    """The forbidden prefix `action` (a name or a wildcard pattern) could grant, if any; an action named in
    `allowed` exactly is not forbidden (a wildcard that covers it still is)."""
    key = action.lower()
    if key in allowed:
        return None
    literal = re.split(r"[*?]", key, maxsplit=1)[0]
    wildcard = literal != key
    for prefix in forbidden:
        if key.startswith(prefix) or (wildcard and prefix.startswith(literal)):
            return prefix
    return None


def check_statement(
    st: Statement, spec: RoleSpec, role: str, subs: dict[str, str], report: Report, granted: set[str]
) -> None:
    body = st.body
    if not report.check(isinstance(body, dict), f"{st.where}: statement {body!r} is not a mapping"):
        return
    label = f"{st.where} statement {body.get('Sid', '(no Sid)')}"
    for key in ("NotAction", "NotResource", "NotPrincipal"):
        report.check(key not in body, f"{label}: {key} grants everything it does not name; list what is needed")
    if body.get("Effect") == "Deny":
        report.passed += 1  # a Deny only takes away
        return
    report.check(body.get("Effect") == "Allow", f"{label}: Effect is {body.get('Effect')!r}")

    actions = [canonical(a) for a in as_list(body.get("Action"))]
    resources = [canonical(r) for r in as_list(body.get("Resource"))]
    report.check(bool(actions) and bool(resources), f"{label}: no Action or no Resource")
    conditions = body.get("Condition") or {}

    def expected(resource: str) -> str:
        for token, value in subs.items():
            resource = resource.replace("<%s>" % token, value)
        return resource

    for action in actions:
        key = action.lower()
        if spec.forbidden:
            hit = forbidden_match(action, spec.forbidden, spec.forbidden_except)
            report.check(
                hit is None,
                f"{label}: {role} must not hold {action} (the {spec.binary} function has no ECS, ECR or "
                f"IAM power, and in DynamoDB only {', '.join(spec.forbidden_except) or 'nothing'}; "
                f"{hit!r} is forbidden)",
            )
        if not report.check(not re.search(r"[*?]", action), f"{label}: wildcard action {action!r}"):
            continue
        allowed = spec.allowed.get(key)
        if not report.check(
            allowed is not None, f"{label}: action {action!r} is not on the {spec.binary} role's allowed list"
        ):
            continue
        granted.add(key)
        permitted = {expected(r) for r in allowed.resources}
        for resource in resources:
            report.check(
                resource in permitted,
                f"{label}: {action} on {resource!r}; allowed only on {sorted(permitted)}",
            )
        for op, ckey, cvalue in allowed.conditions:
            values = as_list((conditions.get(op) or {}).get(ckey))
            report.check(
                bool(values) and all(canonical(v) == cvalue for v in values),
                f"{label}: {action} needs Condition {op} {ckey} = {cvalue!r}, has {json.dumps(conditions)}",
            )


def check_invoke_paths(template: dict, fns: dict[str, str], report: Report) -> None:
    """Who may invoke the functions: never the network for the deployer; the front door's routes use IAM
    except POST /slack, and its public permissions cover only its Function URL."""
    resources = template.get("Resources") or {}
    deployer, front, hook = fns.get("deployer"), fns.get("front"), fns.get("hook")
    if hook:
        props = resources[hook].get("Properties") or {}
        report.check(not props.get("Events"), f"{hook}: the hook must have no Events; CodeDeploy and ECS invoke it "
                     "with their own roles")
        report.check("FunctionUrlConfig" not in props, f"{hook}: the hook must have no Function URL")
    if deployer:
        props = resources[deployer].get("Properties") or {}
        report.check(not props.get("Events"), f"{deployer}: the deployer must have no Events (no API, no queue); "
                     "EventBridge rules and their permissions are explicit resources")
        report.check("FunctionUrlConfig" not in props, f"{deployer}: the deployer must have no Function URL")
    for name, res in resources.items():
        if not isinstance(res, dict):
            continue
        p = res.get("Properties") or {}
        if res.get("Type") == "AWS::Lambda::Url":
            target = names(p.get("TargetFunctionArn"))
            report.check(target == front and front is not None,
                         f"{name}: a Function URL may only front the front door ({front}), targets {target}")
        if res.get("Type") != "AWS::Lambda::Permission":
            continue
        target = names(p.get("FunctionName"))
        principal = p.get("Principal")
        if target == deployer:
            rule_id = ref_target(p.get("SourceArn"), "Arn")
            report.check(
                principal == "events.amazonaws.com"
                and p.get("Action") == "lambda:InvokeFunction"
                and (resources.get(rule_id) or {}).get("Type") == "AWS::Events::Rule",
                f"{name}: the deployer may only be invoked through a resource policy by an EventBridge rule of "
                f"this template (Principal events.amazonaws.com, SourceArn !GetAtt <rule>.Arn); has "
                f"Principal {principal!r}, SourceArn {p.get('SourceArn')!r}",
            )
        elif target == hook and hook is not None:
            report.check(False, f"{name}: the hook takes no resource policy; CodeDeploy and ECS invoke it with "
                         "their roles (HookInvokeRole for ECS)")
        elif target == front and front is not None:
            # The API's permissions are SAM's (one per route, scoped to it); the only explicit ones are the
            # Function URL's, public but only for requests through the URL.
            report.check(
                principal == "*" and (
                    (p.get("Action") == "lambda:InvokeFunctionUrl" and p.get("FunctionUrlAuthType") == "NONE")
                    or (p.get("Action") == "lambda:InvokeFunction" and p.get("InvokedViaFunctionUrl") is True)
                ),
                f"{name}: an explicit permission on the front door may only cover its Function URL",
            )
        else:
            report.check(False, f"{name}: a permission on {target}, which is neither function this check knows")
    if not front:
        return
    for event_name, event in ((resources[front].get("Properties") or {}).get("Events") or {}).items():
        ep = (event or {}).get("Properties") or {}
        where = f"{front}.Events.{event_name}"
        if not report.check((event or {}).get("Type") == "HttpApi", f"{where}: the front door takes HttpApi "
                            f"events only, has {(event or {}).get('Type')!r}"):
            continue
        api = ref_target(ep.get("ApiId"))
        api_auth = (((resources.get(api) or {}).get("Properties") or {}).get("Auth")) or {}
        report.check(
            (resources.get(api) or {}).get("Type") == "AWS::Serverless::HttpApi"
            and api_auth.get("DefaultAuthorizer") == "AWS_IAM" and api_auth.get("EnableIamAuthorizer") is True,
            f"{where}: its API must be an HttpApi of this template with DefaultAuthorizer AWS_IAM",
        )
        authorizer = (ep.get("Auth") or {}).get("Authorizer", "AWS_IAM")
        route = f"{str(ep.get('Method', '')).upper()} {ep.get('Path')}"
        if route == "POST /slack":
            report.passed += 1  # Slack cannot sign SigV4: the function checks Slack's signature itself
        else:
            report.check(authorizer == "AWS_IAM",
                         f"{where}: {route} uses Authorizer {authorizer!r}; only POST /slack may go without IAM")


def check_image_repositories(template: dict, report: Report) -> None:
    """The list of repositories the deployer may read images from may name repositories only: every entry one
    ECR repository ARN of any account and region, never a wildcard."""
    param = (template.get("Parameters") or {}).get(IMAGE_REPOSITORIES_PARAMETER)
    where = f"parameter {IMAGE_REPOSITORIES_PARAMETER}"
    if not report.check(isinstance(param, dict), f"{where} is missing; ecr:DescribeImages may name it"):
        return
    report.check(param.get("Type") == "CommaDelimitedList", f"{where} must be a CommaDelimitedList")
    pattern = param.get("AllowedPattern")
    if not report.check(isinstance(pattern, str), f"{where} needs an AllowedPattern that admits repository ARNs only"):
        return
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        report.check(False, f"{where}: AllowedPattern {pattern!r} does not compile: {e}")
        return
    for sample in IMAGE_REPOSITORY_SAMPLES_OK:
        report.check(compiled.fullmatch(sample) is not None, f"{where}: AllowedPattern refuses {sample!r}")
    for sample in IMAGE_REPOSITORY_SAMPLES_REFUSED:
        report.check(
            compiled.fullmatch(sample) is None,
            f"{where}: AllowedPattern {pattern!r} admits {sample!r}; it must admit one ECR repository ARN each",
        )


def check_hook_invoke_role(template: dict, fns: dict[str, str], report: Report) -> None:
    """The role ECS assumes to invoke the hook: every role no function runs as must be it, trusted by
    ecs.amazonaws.com of this account only, allowed lambda:InvokeFunction on the hook function only."""
    resources = template.get("Resources") or {}
    hook = fns.get("hook")
    function_roles = {
        ref_target((res.get("Properties") or {}).get("Role"), "Arn")
        for res in resources.values()
        if isinstance(res, dict) and res.get("Type") in FUNCTION_TYPES
    }
    conditions = template.get("Conditions") or {}
    for name, res in resources.items():
        if not isinstance(res, dict) or res.get("Type") != "AWS::IAM::Role" or name in function_roles:
            continue
        props = res.get("Properties") or {}
        report.check(not props.get("ManagedPolicyArns"), f"{name}.ManagedPolicyArns grant permissions this check "
                     "cannot see")
        trust = [s for s in as_list((props.get("AssumeRolePolicyDocument") or {}).get("Statement")) if isinstance(s, dict)]
        report.check(
            [s.get("Principal") for s in trust] == [{"Service": "ecs.amazonaws.com"}]
            and all(((s.get("Condition") or {}).get("StringEquals") or {}).get("aws:SourceAccount")
                    == {"Ref": "AWS::AccountId"} for s in trust),
            f"{name}: a role no function runs as must be the hook's invoke role: only ecs.amazonaws.com of this "
            f"account (aws:SourceAccount) may assume it",
        )
        statements: list[Statement] = []
        for policy in as_list(props.get("Policies")):
            doc = policy.get("PolicyDocument") if isinstance(policy, dict) else None
            for st in as_list((doc or {}).get("Statement")):
                statements += branches(st, f"{name}/{policy.get('PolicyName')}", conditions, report)
        for other, ores in resources.items():
            if isinstance(ores, dict) and ores.get("Type") in POLICY_TYPES:
                p = ores.get("Properties") or {}
                if name in [ref_target(r) for r in as_list(p.get("Roles"))] + [ref_target(p.get("RoleName"))]:
                    report.check(False, f"{other}: a policy attached to {name} from outside it")
        report.check(bool(statements), f"{name}: grants nothing; the hook's invoke role needs lambda:InvokeFunction")
        for st in statements:
            body = st.body if isinstance(st.body, dict) else {}
            for key in ("NotAction", "NotResource"):
                report.check(key not in body, f"{st.where}: {key} grants everything it does not name")
            actions = [canonical(a).lower() for a in as_list(body.get("Action"))]
            resources_ = [names(r) for r in as_list(body.get("Resource"))]
            report.check(
                body.get("Effect") == "Allow" and actions == ["lambda:invokefunction"]
                and bool(resources_) and all(r == hook and hook is not None for r in resources_),
                f"{st.where}: {name} may only invoke the hook function ({hook}); has {body.get('Action')!r} on "
                f"{body.get('Resource')!r}",
            )


def check_list_parameter(template: dict, report: Report, parameter: str, what: str,
                         ok: tuple[str, ...], refused: tuple[str, ...]) -> None:
    """A list parameter an IAM statement names as its resources: each entry must be one `what` ARN."""
    param = (template.get("Parameters") or {}).get(parameter)
    where = f"parameter {parameter}"
    if not report.check(isinstance(param, dict), f"{where} is missing; an IAM statement names it"):
        return
    report.check(param.get("Type") == "CommaDelimitedList", f"{where} must be a CommaDelimitedList")
    pattern = param.get("AllowedPattern")
    if not report.check(isinstance(pattern, str), f"{where} needs an AllowedPattern that admits {what} ARNs only"):
        return
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        report.check(False, f"{where}: AllowedPattern {pattern!r} does not compile: {e}")
        return
    for sample in ok:
        report.check(compiled.fullmatch(sample) is not None, f"{where}: AllowedPattern refuses {sample!r}")
    for sample in refused:
        report.check(
            compiled.fullmatch(sample) is None,
            f"{where}: AllowedPattern {pattern!r} admits {sample!r}; it must admit one {what} ARN each",
        )


def check(template: dict, raw_text: str | None = None) -> Report:
    report = Report()
    text = raw_text if raw_text is not None else json.dumps(template)
    report.check(
        not re.search(r"arn:aws(-[a-z-]+)?:", text),
        "a hard-coded partition (arn:aws...:) is in the template; use ${AWS::Partition}",
    )
    resources = template.get("Resources") or {}
    fns = functions_by_binary(resources, report)
    roles: dict[str, str] = {}
    for spec in SPECS:
        fn_name = fns.get(spec.binary)
        if fn_name is None:
            continue
        role, statements, subs = collect(template, spec, fn_name, fns, report)
        if role is not None:
            report.check(role not in roles.values(),
                         f"{fn_name} shares role {role} with another function; each function needs its own role")
            roles[spec.binary] = role
        granted: set[str] = set()
        for st in statements:
            check_statement(st, spec, role or fn_name, subs, report, granted)
        for action in sorted(spec.allowed):
            report.check(action in granted, f"the {spec.binary} function needs {action} and no statement grants it")
    check_invoke_paths(template, fns, report)
    check_image_repositories(template, report)
    check_hook_invoke_role(template, fns, report)
    if "hook" in fns:
        check_list_parameter(template, report, HOOK_ALARMS_PARAMETER, "CloudWatch alarm", HOOK_ALARM_SAMPLES_OK,
                             HOOK_ALARM_SAMPLES_REFUSED)
    return report


# --- self-test -------------------------------------------------------------------------------------------

def policy_statements(t: dict, role: str = "DeployerRole") -> list:
    return t["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def every_statement(t: dict, role: str = "DeployerRole") -> Iterator[dict]:
    """Each statement of the role's policy, and each branch of a conditional (`Fn::If`) one."""
    for s in policy_statements(t, role):
        if isinstance(s, dict) and list(s) == ["Fn::If"]:
            yield from (b for b in s["Fn::If"][1:] if isinstance(b, dict) and "Action" in b)
        elif isinstance(s, dict):
            yield s


def statement_with(t: dict, action: str, role: str = "DeployerRole") -> dict:
    for s in every_statement(t, role):
        if action in as_list(s.get("Action")):
            return s
    raise KeyError(f"no statement of {role} grants {action}; the self-test no longer matches the template")


def front_statement(t: dict, action: str) -> dict:
    return statement_with(t, action, "FrontRole")


def _add_ecs_star(t: dict) -> None:
    s = statement_with(t, "ecs:UpdateService")
    s["Action"] = as_list(s["Action"]) + ["ecs:*"]


def _widen_update_service(t: dict) -> None:
    statement_with(t, "ecs:UpdateService")["Resource"] = "*"


def _drop_passrole_condition(t: dict) -> None:
    del statement_with(t, "iam:PassRole")["Condition"]


def _add_unknown_action(t: dict) -> None:
    policy_statements(t).append({"Sid": "Extra", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})


def _passrole_on_star(t: dict) -> None:
    statement_with(t, "iam:PassRole")["Resource"] = "*"


def _passrole_other_role(t: dict) -> None:
    s = statement_with(t, "iam:PassRole")
    s["Resource"] = as_list(s["Resource"]) + [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/admin"}]


def _passrole_to_any_service(t: dict) -> None:
    statement_with(t, "iam:PassRole")["Condition"] = {"StringLike": {"iam:PassedToService": "*"}}


def _tag_without_create_action(t: dict) -> None:
    del statement_with(t, "ecs:TagResource")["Condition"]


def _hard_coded_partition(t: dict) -> None:
    statement_with(t, "ecs:DescribeClusters")["Resource"] = {
        "Fn::Sub": "arn:aws:ecs:${AWS::Region}:${AWS::AccountId}:cluster/${ClusterName}"
    }


def _managed_admin(t: dict) -> None:
    t["Resources"]["DeployerRole"]["Properties"]["ManagedPolicyArns"] = [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"}
    ]


def _side_policy(t: dict) -> None:
    t["Resources"]["SidePolicy"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "side",
            "Roles": [{"Ref": "DeployerRole"}],
            "PolicyDocument": {
                "Statement": [{"Effect": "Allow", "Action": "ecs:UpdateService", "Resource": "*"}]
            },
        },
    }


def _not_resource(t: dict) -> None:
    s = statement_with(t, "ecs:DescribeClusters")
    s["NotResource"] = s.pop("Resource")


def _sam_policy_template(t: dict) -> None:
    t["Resources"]["DeployerFunction"]["Properties"]["Policies"] = ["AmazonECS_FullAccess"]


def _drop_register(t: dict) -> None:
    s = statement_with(t, "ecs:RegisterTaskDefinition")
    s["Action"] = [a for a in as_list(s["Action"]) if a != "ecs:RegisterTaskDefinition"]


def _front_update_service(t: dict) -> None:
    policy_statements(t, "FrontRole").append({
        "Sid": "Sneaky", "Effect": "Allow", "Action": "ecs:UpdateService",
        "Resource": {"Fn::Sub": SERVICE_ARN},
    })


def _front_passrole(t: dict) -> None:
    policy_statements(t, "FrontRole").append({
        "Sid": "Sneaky", "Effect": "Allow", "Action": "iam:PassRole", "Resource": {"Ref": "TaskRoleArn"},
    })


def _front_reads_lock(t: dict) -> None:
    policy_statements(t, "FrontRole").append({
        "Sid": "Sneaky", "Effect": "Allow", "Action": "dynamodb:GetItem",
        "Resource": {"Fn::GetAtt": ["LockTable", "Arn"]},
    })


def _front_deletes_locks(t: dict) -> None:
    s = _front_replay_statement(t)
    s["Action"] = as_list(s["Action"]) + ["dynamodb:DeleteItem"]


def _front_replay_statement(t: dict) -> dict:
    for s in policy_statements(t, "FrontRole"):
        if isinstance(s, dict) and list(s) == ["Fn::If"] and s["Fn::If"][1].get("Sid") == "RememberSlackRequests":
            return s["Fn::If"][1]
    raise KeyError("no RememberSlackRequests statement in FrontRole; the self-test no longer matches the template")


def _front_replay_any_key(t: dict) -> None:
    del _front_replay_statement(t)["Condition"]


def _front_replay_lock_keys(t: dict) -> None:
    _front_replay_statement(t)["Condition"] = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["*"]}}


def _front_replay_on_star(t: dict) -> None:
    _front_replay_statement(t)["Resource"] = "*"


def _front_dynamodb_star(t: dict) -> None:
    s = _front_replay_statement(t)
    s["Action"] = as_list(s["Action"]) + ["dynamodb:*"]


def _front_ecr_star(t: dict) -> None:
    s = front_statement(t, "lambda:InvokeFunction")
    s["Action"] = as_list(s["Action"]) + ["ecr:*"]


def _front_side_policy(t: dict) -> None:
    t["Resources"]["FrontSidePolicy"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "side",
            "Roles": [{"Ref": "FrontRole"}],
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "ecs:Describe*", "Resource": "*"}]},
        },
    }


def _deployer_dynamodb_star(t: dict) -> None:
    s = statement_with(t, "dynamodb:PutItem")
    s["Action"] = as_list(s["Action"]) + ["dynamodb:*"]


def _deployer_dynamodb_on_star(t: dict) -> None:
    statement_with(t, "dynamodb:PutItem")["Resource"] = "*"


def _deployer_scans_lock(t: dict) -> None:
    s = statement_with(t, "dynamodb:PutItem")
    s["Action"] = as_list(s["Action"]) + ["dynamodb:Scan"]


def _list_tasks_without_condition(t: dict) -> None:
    del statement_with(t, "ecs:ListTasks")["Condition"]


def _list_tasks_any_cluster(t: dict) -> None:
    statement_with(t, "ecs:ListTasks")["Condition"] = {
        "ArnLike": {"ecs:cluster": {"Fn::Sub": PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:cluster/*"}}
    }


def _stop_any_service_deployment(t: dict) -> None:
    statement_with(t, "ecs:StopServiceDeployment")["Resource"] = {
        "Fn::Sub": PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:service-deployment/${ClusterName}/*"
    }


def _deploy_any_deployment_group(t: dict) -> None:
    statement_with(t, "codedeploy:CreateDeployment")["Resource"] = {
        "Fn::Sub": CODEDEPLOY_ARN + "deploymentgroup:${CodeDeployApplicationName}/*"
    }


def _codedeploy_star(t: dict) -> None:
    s = statement_with(t, "codedeploy:StopDeployment")
    s["Action"] = as_list(s["Action"]) + ["codedeploy:*"]


def _describe_tasks_on_star(t: dict) -> None:
    statement_with(t, "ecs:DescribeTasks")["Resource"] = "*"


def _publish_anywhere(t: dict) -> None:
    statement_with(t, "sns:Publish")["Resource"] = "*"


def _invoke_on_star(t: dict) -> None:
    front_statement(t, "lambda:InvokeFunction")["Resource"] = "*"


def _invoke_other_function(t: dict) -> None:
    front_statement(t, "lambda:InvokeFunction")["Resource"] = {"Fn::Sub": FUNCTION_ARN + "admin"}


def conditional_secret_statement(t: dict, role: str) -> dict:
    """The `then` branch of the role's first conditional statement that reads a secret."""
    for s in policy_statements(t, role):
        if isinstance(s, dict) and list(s) == ["Fn::If"]:
            branch = s["Fn::If"][1]
            if isinstance(branch, dict) and "secretsmanager:GetSecretValue" in as_list(branch.get("Action")):
                return branch
    raise KeyError(f"no conditional secret statement in {role}; the self-test no longer matches the template")


def _front_secret_on_star(t: dict) -> None:
    conditional_secret_statement(t, "FrontRole")["Resource"] = "*"


def _webhook_reads_auth_token(t: dict) -> None:
    conditional_secret_statement(t, "DeployerRole")["Resource"] = {"Ref": "AuthTokenSecretArn"}


def _image_repositories_any_arn(t: dict) -> None:
    t["Parameters"][IMAGE_REPOSITORIES_PARAMETER]["AllowedPattern"] = "^$|^arn:.*$"


def _image_repositories_unchecked(t: dict) -> None:
    del t["Parameters"][IMAGE_REPOSITORIES_PARAMETER]["AllowedPattern"]


def _describe_images_on_star(t: dict) -> None:
    for s in every_statement(t):
        if "ecr:DescribeImages" in as_list(s.get("Action")):
            s["Resource"] = "*"


def _describe_images_in_every_repository(t: dict) -> None:
    statement_with(t, "ecr:DescribeImages")["Resource"] = {
        "Fn::Sub": PREFIX + ":ecr:${AWS::Region}:${AWS::AccountId}:repository/*"
    }


def _shared_role(t: dict) -> None:
    t["Resources"]["FrontFunction"]["Properties"]["Role"] = {"Fn::GetAtt": ["DeployerRole", "Arn"]}


def _third_function(t: dict) -> None:
    t["Resources"]["Extra"] = copy.deepcopy(t["Resources"]["FrontFunction"])
    t["Resources"]["Extra"]["Metadata"]["BuildProperties"]["Binary"] = "demo"


def _public_deployer(t: dict) -> None:
    t["Resources"]["OpenDeployer"] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": ["DeployerFunction", "Arn"]},
                       "Principal": "*"},
    }


def _front_for_another_account(t: dict) -> None:
    t["Resources"]["FrontForOthers"] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "FrontFunction"},
                       "Principal": "111122223333"},
    }


def _deployer_on_the_api(t: dict) -> None:
    t["Resources"]["DeployerFunction"]["Properties"]["Events"] = {
        "Api": {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "HttpApi"}, "Method": "POST", "Path": "/x"}}
    }


def _deploy_route_without_iam(t: dict) -> None:
    t["Resources"]["FrontFunction"]["Properties"]["Events"]["Deploy"]["Properties"]["Auth"] = {"Authorizer": "NONE"}


def _api_without_iam(t: dict) -> None:
    del t["Resources"]["HttpApi"]["Properties"]["Auth"]


def hook_statement(t: dict, sid: str) -> dict:
    for s in policy_statements(t, "HookRole"):
        if isinstance(s, dict) and list(s) == ["Fn::If"] and s["Fn::If"][1].get("Sid") == sid:
            return s["Fn::If"][1]
        if isinstance(s, dict) and s.get("Sid") == sid:
            return s
    raise KeyError(f"no {sid} statement in HookRole; the self-test no longer matches the template")


def _hook_alarms_on_star(t: dict) -> None:
    hook_statement(t, "ReadHookAlarms")["Resource"] = "*"


def _hook_reports_anywhere(t: dict) -> None:
    hook_statement(t, "ReportHookOutcome")["Resource"] = {
        "Fn::Sub": PREFIX + ":codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:*"
    }


def _hook_publishes_anywhere(t: dict) -> None:
    hook_statement(t, "PublishOutcomes")["Resource"] = "*"


def _hook_updates_services(t: dict) -> None:
    policy_statements(t, "HookRole").append({
        "Sid": "Sneaky", "Effect": "Allow", "Action": "ecs:UpdateService", "Resource": {"Fn::Sub": SERVICE_ARN},
    })


def _hook_invokes_deployer(t: dict) -> None:
    policy_statements(t, "HookRole").append({
        "Sid": "Sneaky", "Effect": "Allow", "Action": "lambda:InvokeFunction",
        "Resource": {"Fn::GetAtt": ["DeployerFunction", "Arn"]},
    })


def _hook_stops_deployments(t: dict) -> None:
    s = hook_statement(t, "ReportHookOutcome")
    s["Action"] = as_list(s["Action"]) + ["codedeploy:StopDeployment"]


def _hook_alarms_any(t: dict) -> None:
    t["Parameters"][HOOK_ALARMS_PARAMETER]["AllowedPattern"] = "^$|^arn:.*$"


def _hook_on_the_api(t: dict) -> None:
    t["Resources"]["HookFunction"]["Properties"]["Events"] = {
        "Api": {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "HttpApi"}, "Method": "POST", "Path": "/hook"}}
    }


def _hook_public(t: dict) -> None:
    t["Resources"]["OpenHook"] = {
        "Type": "AWS::Lambda::Permission",
        "Properties": {"Action": "lambda:InvokeFunction", "FunctionName": {"Fn::GetAtt": ["HookFunction", "Arn"]},
                       "Principal": "*"},
    }


def invoke_role_statement(t: dict) -> dict:
    return t["Resources"]["HookInvokeRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]


def _invoke_role_invokes_deployer(t: dict) -> None:
    invoke_role_statement(t)["Resource"] = {"Fn::GetAtt": ["DeployerFunction", "Arn"]}


def _invoke_role_on_star(t: dict) -> None:
    invoke_role_statement(t)["Resource"] = "*"


def _invoke_role_more_actions(t: dict) -> None:
    s = invoke_role_statement(t)
    s["Action"] = as_list(s["Action"]) + ["lambda:UpdateFunctionCode"]


def _invoke_role_trusts_anyone(t: dict) -> None:
    trust = t["Resources"]["HookInvokeRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    trust["Principal"] = {"AWS": "*"}


def _invoke_role_any_account(t: dict) -> None:
    del t["Resources"]["HookInvokeRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]


MUTATIONS: list[tuple[str, Callable[[dict], None], str]] = [
    ("adds ecs:* to the service statement", _add_ecs_star, "wildcard action 'ecs:*'"),
    ("widens ecs:UpdateService to *", _widen_update_service, "ecs:UpdateService on '*'"),
    ("drops the iam:PassRole condition", _drop_passrole_condition, "iam:PassRole needs Condition"),
    ("adds an unknown action", _add_unknown_action, "'s3:GetObject' is not on the deployer role's allowed list"),
    ("grants iam:PassRole on *", _passrole_on_star, "iam:PassRole on '*'"),
    ("passes a third role", _passrole_other_role, "role/admin"),
    ("passes the roles to any service", _passrole_to_any_service, "iam:PassRole needs Condition"),
    ("drops the ecs:CreateAction condition", _tag_without_create_action, "ecs:TagResource needs Condition"),
    ("hard-codes the aws partition", _hard_coded_partition, "hard-coded partition"),
    ("attaches AdministratorAccess", _managed_admin, "ManagedPolicyArns"),
    ("attaches a side policy to the role", _side_policy, "SidePolicy statement (no Sid): ecs:UpdateService"),
    ("uses NotResource", _not_resource, "NotResource"),
    ("adds a SAM policy template", _sam_policy_template, "cannot be checked"),
    ("no longer grants RegisterTaskDefinition", _drop_register, "needs ecs:registertaskdefinition"),
    ("gives the front role ecs:UpdateService", _front_update_service, "FrontRole must not hold ecs:UpdateService"),
    ("gives the front role iam:PassRole", _front_passrole, "FrontRole must not hold iam:PassRole"),
    ("gives the front role the lock table", _front_reads_lock, "FrontRole must not hold dynamodb:GetItem"),
    ("gives the front role ecr:*", _front_ecr_star, "FrontRole must not hold ecr:*"),
    ("lets the front delete lock items", _front_deletes_locks, "FrontRole must not hold dynamodb:DeleteItem"),
    ("lets the front put any key", _front_replay_any_key, "dynamodb:PutItem needs Condition"),
    ("lets the front put lock keys", _front_replay_lock_keys, "dynamodb:PutItem needs Condition"),
    ("lets the front put items in any table", _front_replay_on_star, "dynamodb:PutItem on '*'"),
    ("gives the front role dynamodb:*", _front_dynamodb_star, "FrontRole must not hold dynamodb:*"),
    ("attaches ecs:Describe* to the front role", _front_side_policy, "FrontRole must not hold ecs:Describe*"),
    ("gives the deployer dynamodb:*", _deployer_dynamodb_star, "wildcard action 'dynamodb:*'"),
    ("grants the lock actions on *", _deployer_dynamodb_on_star, "dynamodb:PutItem on '*'"),
    ("lets the deployer Scan", _deployer_scans_lock, "'dynamodb:Scan' is not on the deployer role's allowed list"),
    ("grants ecs:ListTasks without its condition", _list_tasks_without_condition, "ecs:ListTasks needs Condition"),
    ("lists the tasks of any cluster", _list_tasks_any_cluster, "ecs:ListTasks needs Condition"),
    ("grants ecs:DescribeTasks on *", _describe_tasks_on_star, "ecs:DescribeTasks on '*'"),
    ("stops any service's deployments", _stop_any_service_deployment, "ecs:StopServiceDeployment on"),
    ("deploys to any deployment group of the application", _deploy_any_deployment_group,
     "codedeploy:CreateDeployment on"),
    ("adds codedeploy:*", _codedeploy_star, "wildcard action 'codedeploy:*'"),
    ("publishes to any topic", _publish_anywhere, "sns:Publish on '*'"),
    ("grants lambda:InvokeFunction on *", _invoke_on_star, "lambda:InvokeFunction on '*'"),
    ("lets the front invoke another function", _invoke_other_function, "function:admin"),
    ("reads any secret from the front", _front_secret_on_star, "secretsmanager:GetSecretValue on '*'"),
    ("reads the auth token from the deployer", _webhook_reads_auth_token,
     "secretsmanager:GetSecretValue on '${AuthTokenSecretArn}'"),
    ("gives both functions one role", _shared_role, "shares role DeployerRole"),
    ("adds a function this check does not know", _third_function, "function Extra (binary 'demo')"),
    ("lets another account invoke the front door directly", _front_for_another_account,
     "FrontForOthers: an explicit permission on the front door may only cover its Function URL"),
    ("lets anyone invoke the deployer", _public_deployer, "OpenDeployer: the deployer may only be invoked"),
    ("puts the deployer on the API", _deployer_on_the_api, "the deployer must have no Events"),
    ("opens POST /deploy without IAM", _deploy_route_without_iam, "only POST /slack may go without IAM"),
    ("drops the API's IAM authorizer", _api_without_iam, "DefaultAuthorizer AWS_IAM"),
    ("lets ImageRepositoryArns take any ARN", _image_repositories_any_arn,
     "admits 'arn:aws:ecr:us-west-2:123456789012:repository/*'"),
    ("drops ImageRepositoryArns' AllowedPattern", _image_repositories_unchecked, "needs an AllowedPattern"),
    ("reads images of every repository", _describe_images_on_star, "ecr:DescribeImages on '*'"),
    ("reads images of every repository of the account", _describe_images_in_every_repository,
     "ecr:DescribeImages on 'arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/*'"),
    ("lets the hook describe every alarm", _hook_alarms_on_star, "cloudwatch:DescribeAlarms on '*'"),
    ("lets the hook report to any deployment group", _hook_reports_anywhere,
     "codedeploy:PutLifecycleEventHookExecutionStatus on"),
    ("lets the hook publish to any topic", _hook_publishes_anywhere, "sns:Publish on '*'"),
    ("gives the hook ecs:UpdateService", _hook_updates_services, "HookRole must not hold ecs:UpdateService"),
    ("lets the hook invoke the deployer", _hook_invokes_deployer, "HookRole must not hold lambda:InvokeFunction"),
    ("lets the hook stop deployments", _hook_stops_deployments,
     "'codedeploy:StopDeployment' is not on the hook role's allowed list"),
    ("lets HookAlarmArns take any ARN", _hook_alarms_any,
     "admits 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:*'"),
    ("puts the hook on the API", _hook_on_the_api, "the hook must have no Events"),
    ("lets anyone invoke the hook", _hook_public, "OpenHook: the hook takes no resource policy"),
    ("lets ECS's invoke role invoke the deployer", _invoke_role_invokes_deployer,
     "HookInvokeRole may only invoke the hook function"),
    ("lets ECS's invoke role invoke anything", _invoke_role_on_star, "HookInvokeRole may only invoke the hook"),
    ("lets ECS's invoke role change code", _invoke_role_more_actions, "HookInvokeRole may only invoke the hook"),
    ("lets anyone assume ECS's invoke role", _invoke_role_trusts_anyone, "only ecs.amazonaws.com of this account"),
    ("lets any account's ECS assume the invoke role", _invoke_role_any_account,
     "only ecs.amazonaws.com of this account"),
]


def self_test(template: dict) -> int:
    report = Report()
    baseline = check(template)
    report.check(
        not baseline.failures,
        "the unmodified template fails, so a caught mutation proves nothing:\n  " + "\n  ".join(baseline.failures),
    )
    for title, mutate, expected in MUTATIONS:
        broken = copy.deepcopy(template)
        try:
            mutate(broken)
        except (KeyError, IndexError, TypeError) as e:
            report.check(False, f"cannot build a template that {title}: {e!r}")
            continue
        result = check(broken)
        caught = [f for f in result.failures if expected in f]
        if report.check(bool(caught), f"NOT caught: a template that {title} passes (looked for {expected!r}); "
                        f"failures were {result.failures}"):
            print(f"caught: a template that {title}: {caught[0]}")
    for failure in report.failures:
        print(f"FAIL: {failure}")
    print(f"self-test: {report.passed} passed, {len(report.failures)} failed")
    return 1 if report.failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", nargs="?", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--self-test", action="store_true", help="prove that broken templates are refused")
    args = parser.parse_args(argv)
    try:
        template = load(args.template)
    except Exception as e:  # a template that does not parse must fail loudly, not pass
        print(f"FAIL: cannot read {args.template}: {e}")
        print(f"{'self-test' if args.self_test else 'policy'}: 0 passed, 1 failed")
        return 1
    if args.self_test:
        return self_test(template)
    report = check(template, args.template.read_text())
    for failure in report.failures:
        print(f"FAIL: {failure}")
    print(f"policy: {report.passed} passed, {len(report.failures)} failed")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
