"""Fixtures: a local AWS per test (in this process, on a free port, with a clock the test moves), boto3
clients against it, a fake Lambda endpoint that records invocations, and a small ECS world."""

from __future__ import annotations

import functools
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import boto3
import pytest

from localaws import Config, LocalAws

REGION = "us-east-1"
ACCOUNT = "123456789012"
REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web"
# One session for every test: its loaded service models are reused, so a client costs milliseconds.
_SESSION = boto3.session.Session()


class FakeLambda:
    """What `cargo lambda watch` serves, for tests: POST /2015-03-31/functions/<name>/invocations."""

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[[dict], Any]] = {}
        self.calls: list[tuple[str, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                name = self.path.split("/functions/", 1)[1].split("/", 1)[0]
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.calls.append((name, body))
                handler = fake.handlers.get(name)
                if handler is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                try:
                    answer = handler(body)
                    data, error = json.dumps(answer).encode(), None
                except Exception as e:  # a function error, as Lambda reports it
                    data, error = json.dumps({"errorMessage": str(e), "errorType": type(e).__name__}).encode(), "Unhandled"
                self.send_response(200)
                if error:
                    self.send_header("X-Amz-Function-Error", error)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def on(self, name: str, handler: Callable[[dict], Any]) -> None:
        self.handlers[name] = handler

    def payloads(self, name: str) -> list[dict]:
        return [body for n, body in self.calls if n == name]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_lambda():
    fake = FakeLambda()
    yield fake
    fake.close()


class World:
    """A started local AWS, boto3 clients on it, and helpers to build services."""

    def __init__(self, aws: LocalAws):
        self.aws = aws
        vpc = self.ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        self.vpc = vpc
        self.subnet = self.ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
        self.sg = self.ec2.create_security_group(GroupName="t", Description="t", VpcId=vpc)["GroupId"]
        self.ecr.create_repository(repositoryName="web")
        self.ecs.create_cluster(clusterName="demo")

    def _client(self, service: str) -> Any:
        return _SESSION.client(service, endpoint_url=self.aws.endpoint, region_name=REGION,
                               aws_access_key_id="testing", aws_secret_access_key="testing")

    @functools.cached_property
    def ecs(self) -> Any:
        return self._client("ecs")

    @functools.cached_property
    def ecr(self) -> Any:
        return self._client("ecr")

    @functools.cached_property
    def ec2(self) -> Any:
        return self._client("ec2")

    @functools.cached_property
    def cw(self) -> Any:
        return self._client("cloudwatch")

    @functools.cached_property
    def codedeploy(self) -> Any:
        return self._client("codedeploy")

    def step(self, ticks: int = 1) -> None:
        self.aws.step(ticks)

    def push(self, tag: str) -> str:
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                               "digest": "sha256:" + tag.encode().hex().rjust(64, "0")[:64]},
                    "layers": []}
        out = self.ecr.put_image(repositoryName="web", imageManifest=json.dumps(manifest), imageTag=tag)
        return out["image"]["imageId"]["imageDigest"]

    def task_definition(self, tag: str, family: str = "web") -> str:
        return self.ecs.register_task_definition(
            family=family,
            networkMode="awsvpc",
            requiresCompatibilities=["FARGATE"],
            cpu="256",
            memory="512",
            containerDefinitions=[
                {"name": "app", "image": f"{REPO}:{tag}", "essential": True,
                 "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]},
                {"name": "xray", "image": "public.ecr.aws/xray/aws-xray-daemon:3.3", "essential": False},
            ],
        )["taskDefinition"]["taskDefinitionArn"]

    def service(self, name: str = "web", tag: str = "v1", desired: int = 2, config: dict | None = None,
                controller: str = "ECS", load_balancers: list | None = None) -> dict:
        kwargs: dict[str, Any] = {}
        if config is not None:
            kwargs["deploymentConfiguration"] = config
        if load_balancers is not None:
            kwargs["loadBalancers"] = load_balancers
        return self.ecs.create_service(
            cluster="demo", serviceName=name, taskDefinition=self.task_definition(tag), desiredCount=desired,
            launchType="FARGATE", deploymentController={"type": controller},
            networkConfiguration={"awsvpcConfiguration": {"subnets": [self.subnet], "securityGroups": [self.sg]}},
            **kwargs,
        )["service"]

    def describe(self, name: str = "web") -> dict:
        return self.ecs.describe_services(cluster="demo", services=[name])["services"][0]

    def deployments(self, name: str = "web") -> list[tuple[str, str, str]]:
        """(status, rolloutState, family:revision) of each deployment, PRIMARY first."""
        return [(d["status"], d["rolloutState"], d["taskDefinition"].rsplit("/", 1)[1])
                for d in self.describe(name)["deployments"]]

    def service_deployment(self, arn: str) -> dict:
        return self.ecs.describe_service_deployments(serviceDeploymentArns=[arn])["serviceDeployments"][0]

    def events(self, **query: str) -> list[dict]:
        qs = "&".join(f"{k}={urllib.request.quote(v)}" for k, v in query.items())
        with urllib.request.urlopen(f"{self.aws.endpoint}/_localaws/events?{qs}") as r:
            return json.loads(r.read())["events"]


@pytest.fixture
def start_local():
    """Starts a local AWS with the given config (manual clock unless told otherwise); stops it after."""
    started: list[LocalAws] = []

    def start(**config: Any) -> World:
        values = {"port": 0, "tick": 1.0, "minute": 5.0, "manual": True, "lambda_timeout": 10.0}
        values.update(config)
        aws = LocalAws(Config(**values)).start()
        started.append(aws)
        return World(aws)

    yield start
    for aws in started:
        aws.stop()


@pytest.fixture
def world(start_local) -> World:
    return start_local()
