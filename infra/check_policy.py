#!/usr/bin/env python3
"""Least-privilege gate for the deployer function's IAM permissions in infra/template.yaml.

Collects every IAM statement that reaches the function (its execution role's inline policies, any
AWS::IAM::Policy / ManagedPolicy / RolePolicy attached to that role, and SAM `Policies` on the function) and
fails when an action is not on the list below, when an action is granted on a resource other than the one
it is allowed on, or when a required condition is missing. It also fails on managed policies (whose
statements it cannot see), NotAction / NotResource, and a hard-coded `arn:aws:` partition.

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
from typing import Any, Callable

from cfnlint.decode import cfn_yaml

DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "template.yaml"
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
POLICY_TYPES = {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"}

PREFIX = "arn:${AWS::Partition}"
SERVICE_ARN = PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:service/${ClusterName}/${ServiceName}"
CLUSTER_ARN = PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:cluster/${ClusterName}"
TASK_DEFINITION_ARNS = PREFIX + ":ecs:${AWS::Region}:${AWS::AccountId}:task-definition/*"
REPOSITORY_ARN = PREFIX + ":ecr:${AWS::Region}:${AWS::AccountId}:repository/${RepositoryName}"
LOG_GROUP_ARN = "${LOG_GROUP.Arn}"  # the function's own log group, resolved from LoggingConfig.LogGroup


@dataclass(frozen=True)
class Rule:
    resources: frozenset[str]
    conditions: tuple[tuple[str, str, str], ...] = ()  # (operator, key, value), each required


def rule(*resources: str, conditions: tuple[tuple[str, str, str], ...] = ()) -> Rule:
    return Rule(frozenset(resources), conditions)


# Every action the function may be granted, lowercased (IAM action names are case-insensitive), with the
# only resources it may be granted on and the conditions that must come with it.
ALLOWED: dict[str, Rule] = {
    "ecs:updateservice": rule(SERVICE_ARN),
    "ecs:describeservices": rule(SERVICE_ARN),
    "ecs:describeclusters": rule(CLUSTER_ARN),
    # ECS has no resource-level permissions for these three: "*" is the only resource IAM accepts.
    "ecs:registertaskdefinition": rule("*"),
    "ecs:describetaskdefinition": rule("*"),
    "ecs:deregistertaskdefinition": rule("*"),
    "ecs:tagresource": rule(
        TASK_DEFINITION_ARNS, conditions=(("StringEquals", "ecs:CreateAction", "RegisterTaskDefinition"),)
    ),
    "ecr:describeimages": rule(REPOSITORY_ARN),
    "iam:passrole": rule(
        "${TaskRoleArn}",
        "${ExecutionRoleArn}",
        conditions=(("StringEquals", "iam:PassedToService", "ecs-tasks.amazonaws.com"),),
    ),
    "logs:createlogstream": rule(LOG_GROUP_ARN),
    "logs:putlogevents": rule(LOG_GROUP_ARN),
}


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


@dataclass
class Statement:
    where: str
    body: Any


def collect(template: dict, report: Report) -> tuple[list[Statement], dict[str, str]]:
    """Every statement that reaches the function, and the substitutions (LOG_GROUP) the rules need."""
    resources = template.get("Resources") or {}
    functions = [name for name, r in resources.items() if isinstance(r, dict) and r.get("Type") in FUNCTION_TYPES]
    if not report.check(len(functions) == 1, f"expected exactly one function, found {functions}"):
        return [], {}
    fn_name = functions[0]
    props = resources[fn_name].get("Properties") or {}
    statements: list[Statement] = []

    # SAM's own Policies on the function: inline statements are checked; anything else is unverifiable.
    for i, policy in enumerate(as_list(props.get("Policies"))):
        doc = policy if isinstance(policy, dict) and "Statement" in policy else None
        if report.check(doc is not None, f"{fn_name}.Policies[{i}]: {json.dumps(policy)} is not an inline "
                        "policy document; its permissions cannot be checked"):
            statements += [Statement(f"{fn_name}.Policies[{i}]", s) for s in as_list(doc["Statement"])]

    role = ref_target(props.get("Role"), "Arn")
    role_res = resources.get(role) if role else None
    if not report.check(
        isinstance(role_res, dict) and role_res.get("Type") == "AWS::IAM::Role",
        f"{fn_name}.Role must be !GetAtt <an AWS::IAM::Role of this template>.Arn, is {props.get('Role')!r}",
    ):
        return statements, {}
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
            statements += [Statement(f"{role}/{name}", s) for s in as_list(doc.get("Statement"))]

    # Policies attached to the role from outside it.
    for name, res in resources.items():
        if not isinstance(res, dict) or res.get("Type") not in POLICY_TYPES:
            continue
        p = res.get("Properties") or {}
        attached = [ref_target(r) for r in as_list(p.get("Roles"))] + [ref_target(p.get("RoleName"))]
        if role in attached:
            doc = p.get("PolicyDocument") or {}
            statements += [Statement(name, s) for s in as_list(doc.get("Statement"))]

    log_group = ref_target((props.get("LoggingConfig") or {}).get("LogGroup"))
    subs = {"LOG_GROUP": log_group} if log_group else {}
    report.check(bool(log_group), f"{fn_name}.LoggingConfig.LogGroup must be !Ref of the function's log group")
    return statements, subs


def check_statement(st: Statement, subs: dict[str, str], report: Report, granted: set[str]) -> None:
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
        for name, value in subs.items():
            resource = resource.replace("${%s." % name, "${%s." % value)
        return resource

    for action in actions:
        key = action.lower()
        if not report.check(not re.search(r"[*?]", action), f"{label}: wildcard action {action!r}"):
            continue
        allowed = ALLOWED.get(key)
        if not report.check(allowed is not None, f"{label}: action {action!r} is not on the allowed list"):
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


def check(template: dict, raw_text: str | None = None) -> Report:
    report = Report()
    text = raw_text if raw_text is not None else json.dumps(template)
    report.check(
        not re.search(r"arn:aws(-[a-z-]+)?:", text),
        "a hard-coded partition (arn:aws...:) is in the template; use ${AWS::Partition}",
    )
    statements, subs = collect(template, report)
    granted: set[str] = set()
    for st in statements:
        check_statement(st, subs, report, granted)
    for action in sorted(ALLOWED):
        report.check(action in granted, f"the function needs {action} and no statement grants it")
    return report


# --- self-test -------------------------------------------------------------------------------------------

def policy_statements(t: dict) -> list[dict]:
    return t["Resources"]["DeployerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]


def statement_with(t: dict, action: str) -> dict:
    for s in policy_statements(t):
        if action in as_list(s.get("Action")):
            return s
    raise KeyError(f"no statement grants {action}; the self-test no longer matches the template")


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


MUTATIONS: list[tuple[str, Callable[[dict], None], str]] = [
    ("adds ecs:* to the service statement", _add_ecs_star, "wildcard action 'ecs:*'"),
    ("widens ecs:UpdateService to *", _widen_update_service, "ecs:UpdateService on '*'"),
    ("drops the iam:PassRole condition", _drop_passrole_condition, "iam:PassRole needs Condition"),
    ("adds an unknown action", _add_unknown_action, "'s3:GetObject' is not on the allowed list"),
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
        mutate(broken)
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
        print("policy: 0 passed, 1 failed")
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
