"""The server: moto's WSGI application behind one lock, a clock that moves rollouts, and a control API.

Control API (plain JSON over HTTP, on the same port as the AWS APIs):

- ``GET  /_localaws/health``: ``{"ok": true, "tick": .., "minute": .., "now": ..}``.
- ``GET  /_localaws/events``: every EventBridge event emitted so far (``?source=aws.ecs`` or
  ``?detail-type=...`` filter them).
- ``GET  /_localaws/codepipeline/jobs``: the final result each CodePipeline job got through
  PutJobSuccessResult / PutJobFailureResult (moto has neither), by job id.
- ``POST /_localaws/codepipeline/jobs``: ``{"id", "accountId", "data"}`` creates a job as CodePipeline does
  before it invokes a Lambda action (``data`` as the invoke event's: ``actionConfiguration``,
  ``continuationToken``); GetJobDetails answers it (``JobNotFoundException`` for any other id).
- ``POST /_localaws/clock/step?ticks=N``: moves the clock N ticks now (a test with a manual clock does only
  this; with a running clock it adds ticks). Waits for the Lambda invocations in flight first.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
import traceback
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from moto.core.utils import utcnow
from moto.moto_server.werkzeug_app import MotoRequestHandler

from . import cbor

NOT_IMPLEMENTED_TYPE = "NotImplementedException"


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"{name} must be a number of seconds, not {value!r}")


@dataclass
class Config:
    """Everything that can be set, each from an environment variable of the same meaning."""

    host: str = "127.0.0.1"
    #: LOCAL_AWS_PORT; 0 picks a free port.
    port: int = 4566
    #: LOCAL_AWS_TICK: seconds between two steps of every rollout (a task starts in a tick, ...).
    tick: float = 1.0
    #: LOCAL_AWS_MINUTE: how many seconds of this clock "a minute" lasts (bake times, canary intervals,
    #: hook time-outs; callBackDelay seconds are scaled the same way).
    minute: float = 60.0
    #: LOCAL_AWS_MANUAL (1): no clock thread, the clock only moves through POST /_localaws/clock/step
    #: (tests; the Rust tests' stepped worlds, tests/src/clock.rs).
    manual: bool = False
    #: LOCAL_AWS_LAMBDA_ENDPOINT: where lifecycle hooks are invoked (what `cargo lambda watch` serves:
    #: POST {endpoint}/2015-03-31/functions/{name}/invocations).
    lambda_endpoint: str | None = None
    #: LOCAL_AWS_EVENTS_FUNCTION: a function at the Lambda endpoint that gets every event (asynchronously).
    events_function: str | None = None
    #: LOCAL_AWS_LAMBDA_TIMEOUT: seconds one invocation may take (the first one through `cargo lambda
    #: watch` compiles the function).
    lambda_timeout: float = 900.0
    verbose: bool = False
    # Switches for points the AWS sources do not settle (FIDELITY.md "Unsettled"); the deployer's tests run
    # both ways. Each is "1"/"0" in its environment variable.
    #: LOCAL_AWS_STALE_CURRENT_DEPLOYMENT: UpdateService's answer (and DescribeServices until the next tick)
    #: still names the *previous* service deployment as ``currentServiceDeployment``. No source says the
    #: answer already names the new one (API_UpdateService documents the field only as "The ARN of the
    #: current service deployment"); terraform-provider-aws does not trust it (findPrimaryDeploymentARN).
    stale_current_deployment: bool = False
    #: LOCAL_AWS_NATIVE_CIRCUIT_BREAKER: ``deploymentCircuitBreaker`` also applies to BLUE_GREEN, LINEAR and
    #: CANARY. The API says "The deployment circuit breaker can only be used for services using the rolling
    #: update (ECS) deployment type" (botocore ecs DeploymentCircuitBreaker); the guide says "Both methods only
    #: support rolling update deployment and blue/green deployment types" (deployment-failure-detection.html).
    #: Off: a native deployment whose green tasks never start sits in SCALE_UP until the 24-hour stage limit.
    native_circuit_breaker: bool = False
    #: LOCAL_AWS_DROP_FAILED_HOOKS: once a native rollback starts, ``lifecycleHookDetails`` list only the
    #: rollback-time hooks, not the hook that failed. The model says only that they are "for the current
    #: service deployment"; whether the failed one stays listed is not documented. Off: it stays listed.
    drop_failed_hooks: bool = False

    @staticmethod
    def from_env(**overrides: Any) -> "Config":
        c = Config(
            port=int(os.environ.get("LOCAL_AWS_PORT") or 4566),
            tick=_env_float("LOCAL_AWS_TICK", 1.0),
            minute=_env_float("LOCAL_AWS_MINUTE", 60.0),
            lambda_endpoint=os.environ.get("LOCAL_AWS_LAMBDA_ENDPOINT") or None,
            events_function=os.environ.get("LOCAL_AWS_EVENTS_FUNCTION") or None,
            lambda_timeout=_env_float("LOCAL_AWS_LAMBDA_TIMEOUT", 900.0),
            manual=os.environ.get("LOCAL_AWS_MANUAL", "") not in ("", "0"),
            verbose=os.environ.get("LOCAL_AWS_VERBOSE", "") not in ("", "0"),
            stale_current_deployment=os.environ.get("LOCAL_AWS_STALE_CURRENT_DEPLOYMENT", "") not in ("", "0"),
            native_circuit_breaker=os.environ.get("LOCAL_AWS_NATIVE_CIRCUIT_BREAKER", "") not in ("", "0"),
            drop_failed_hooks=os.environ.get("LOCAL_AWS_DROP_FAILED_HOOKS", "") not in ("", "0"),
        )
        for k, v in overrides.items():
            setattr(c, k, v)
        return c


class Invoker:
    """Invokes functions at the local Lambda endpoint from worker threads, never under the state lock."""

    def __init__(self, config: Config):
        self.config = config
        self.pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="localaws-invoke")
        # Events go out one at a time, in the order they were emitted.
        self.ordered = ThreadPoolExecutor(max_workers=1, thread_name_prefix="localaws-events")
        self.in_flight: set[Future] = set()
        self._guard = threading.Lock()

    def invoke(self, function: str, payload: dict, asynchronous: bool = False, ordered: bool = False) -> Future:
        """Returns a future of ``(ok, value)``: the function's JSON answer, or why there is none."""
        with self._guard:
            future = (self.ordered if ordered else self.pool).submit(self._invoke, function, payload, asynchronous)
            self.in_flight.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future) -> None:
        with self._guard:
            self.in_flight.discard(future)

    def wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            with self._guard:
                pending = list(self.in_flight)
            if not pending or time.monotonic() > deadline:
                return
            for f in pending:
                try:
                    f.result(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:
                    pass

    def _invoke(self, function: str, payload: dict, asynchronous: bool) -> tuple[bool, Any]:
        endpoint = self.config.lambda_endpoint
        if not endpoint:
            return False, "no Lambda endpoint is configured (LOCAL_AWS_LAMBDA_ENDPOINT)"
        name = function.split(":function:")[-1].split(":")[0] if ":function:" in function else function
        url = f"{endpoint.rstrip('/')}/2015-03-31/functions/{urllib.parse.quote(name)}/invocations"
        request = urllib.request.Request(
            url,
            data=json.dumps(payload, default=str).encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Amz-Invocation-Type": "Event" if asynchronous else "RequestResponse",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.lambda_timeout) as resp:
                body = resp.read()
                function_error = resp.headers.get("X-Amz-Function-Error")
        except Exception as e:  # connection refused, HTTP error, time-out
            return False, f"invoking {name} failed: {e}"
        if function_error:
            return False, f"{name} failed: {function_error}: {body.decode(errors='replace')[:500]}"
        if asynchronous or not body.strip():
            return True, None
        try:
            return True, json.loads(body)
        except ValueError:
            return False, f"{name} answered no JSON: {body.decode(errors='replace')[:200]}"


class EventBus:
    """Records the EventBridge events the local AWS emits and forwards them to a local function."""

    def __init__(self, config: Config, invoker: Invoker):
        self.config = config
        self.invoker = invoker
        self.events: list[dict] = []

    def emit(self, source: str, detail_type: str, resources: list[str], detail: dict, region: str,
             account: str) -> dict:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": region,
            "resources": resources,
            "detail": detail,
        }
        self.events.append(event)
        if self.config.events_function:
            self.invoker.invoke(self.config.events_function, event, asynchronous=True, ordered=True)
        return event


_CURRENT: "LocalAws | None" = None


def current() -> "LocalAws":
    if _CURRENT is None:
        raise RuntimeError("no local AWS is running in this process")
    return _CURRENT


class LocalAws:
    """moto plus live rollouts, served on ``config.host:config.port``."""

    def __init__(self, config: Config | None = None, **overrides: Any):
        self.config = config or Config.from_env()
        for k, v in overrides.items():
            setattr(self.config, k, v)
        self.lock = threading.RLock()
        self.invoker = Invoker(self.config)
        self.bus = EventBus(self.config, self.invoker)
        # jobId -> {"status": "Succeeded"|"Failed", ...}: what the invoke action answered CodePipeline.
        self.pipeline_jobs: dict[str, dict] = {}
        # jobId -> {"id", "accountId", "data"}: the jobs "CodePipeline" created (GetJobDetails).
        self.pipeline_job_details: dict[str, dict] = {}
        self.now = 0.0  # seconds on the clock since start
        self.ticks = 0
        self._engines: dict[tuple[str, str, str], Any] = {}
        self._stop = threading.Event()
        self._server = None
        self._threads: list[threading.Thread] = []
        self.port = self.config.port

    # ---- engines, one per (kind, account, region) ----

    def engine(self, kind: str, account: str, region: str) -> Any:
        key = (kind, account, region)
        if key not in self._engines:
            if kind == "ecs":
                from .ecs import EcsEngine

                self._engines[key] = EcsEngine(self, account, region)
            else:
                from .codedeploy import CodeDeployEngine

                self._engines[key] = CodeDeployEngine(self, account, region)
        return self._engines[key]

    def ecs(self, account: str, region: str):
        return self.engine("ecs", account, region)

    def codedeploy(self, account: str, region: str):
        return self.engine("codedeploy", account, region)

    def minutes(self, n: float) -> float:
        """Clock seconds of ``n`` API minutes."""
        return float(n) * self.config.minute

    def seconds(self, n: float) -> float:
        """Clock seconds of ``n`` API seconds."""
        return float(n) * self.config.minute / 60.0

    # ---- the clock ----

    def step(self, ticks: int = 1) -> None:
        for _ in range(ticks):
            with self.lock:
                self.ticks += 1
                self.now += self.config.tick
                for engine in list(self._engines.values()):
                    try:
                        engine.step()
                    except Exception:
                        traceback.print_exc()
            # With a manual clock a step returns once the invocations it started have answered (outside the
            # lock: a CodeDeploy hook calls back into this server), so a test sees each tick settled.
            if self.config.manual:
                self.invoker.wait_idle(self.config.lambda_timeout)

    def _clock(self) -> None:
        while not self._stop.wait(self.config.tick):
            self.step()

    # ---- serving ----

    def start(self) -> "LocalAws":
        global _CURRENT
        from moto.moto_api._internal.models import moto_api_backend
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        from . import patches

        if _CURRENT is not None:
            raise RuntimeError("a local AWS already runs in this process")
        _check_botocore()
        moto_api_backend.reset()
        patches.install()
        _CURRENT = self
        self._moto = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self.config.host,
            self.config.port,
            self,
            threaded=True,
            request_handler=MotoRequestHandler if self.config.verbose else _QuietHandler,
        )
        self.port = self._server.server_address[1]
        serve = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="localaws-http", daemon=True
        )
        serve.start()
        self._threads.append(serve)
        if not self.config.manual:
            clock = threading.Thread(target=self._clock, name="localaws-clock", daemon=True)
            clock.start()
            self._threads.append(clock)
        return self

    @property
    def endpoint(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def stop(self) -> None:
        global _CURRENT
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for t in self._threads:
            t.join(timeout=5)
        self.invoker.pool.shutdown(wait=False, cancel_futures=True)
        self.invoker.ordered.shutdown(wait=False, cancel_futures=True)
        if _CURRENT is self:
            _CURRENT = None

    def __enter__(self) -> "LocalAws":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ---- WSGI ----

    def __call__(self, environ: dict, start_response: Callable) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_localaws/"):
            return self._control(environ, start_response, path)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        cbor_operation = cbor.operation(path) if environ.get("CONTENT_TYPE", "").startswith("application/cbor") else None
        if cbor_operation:
            try:
                body = cbor.to_json_request(environ, cbor_operation, body)
            except ValueError as e:
                return _cbor(start_response, 400, _error_body("SerializationException", f"bad CBOR: {e}"))
        environ["wsgi.input"] = io.BytesIO(body)
        operation = _operation_name(environ, body)
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("CodePipeline_20150709.") and operation in _PIPELINE_JOB_OPS:
            return self._pipeline_job_result(start_response, operation, body)
        if environ.get("HTTP_X_AMZ_TARGET", "") == "CodePipeline_20150709.GetJobDetails":
            return self._pipeline_job_details(start_response, body)
        answer = _cbor if cbor_operation else _json
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        try:
            with self.lock:
                chunks = self._moto(environ, capture)
                out = b"".join(chunks)
                if hasattr(chunks, "close"):
                    chunks.close()
        except Exception as e:  # never a 500: the SDKs retry those and hide the cause
            if self.config.verbose:
                traceback.print_exc()
            else:
                log(f"{operation} failed inside moto: {type(e).__name__}: {e}")
            return answer(start_response, 400, _error_body("InternalFailure", f"{operation}: {e}"))
        if captured.get("status", "").startswith("500"):
            text = out.decode(errors="replace")
            if "NotImplemented" in text or "has not been implemented" in text:
                return answer(start_response, 400, not_implemented_body(operation))
            return answer(start_response, 400, _error_body("InternalFailure", f"{operation}: {text[:500]}"))
        if cbor_operation:
            data = cbor.to_cbor_answer(cbor_operation, captured["status"], out)
            start_response(captured["status"], [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                                                ("Content-Length", str(len(data)))])
            return [data]
        start_response(captured["status"], captured["headers"])
        return [out]

    def _pipeline_job_details(self, start_response: Callable, body: bytes) -> Any:
        """GetJobDetails of a job created through the control endpoint: ``jobDetails`` {id, accountId, data}
        (CodePipeline API Reference, GetJobDetails / JobDetails / JobData)."""
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return _json(start_response, 400, _error_body("SerializationException", "body is not JSON"))
        job = params.get("jobId")
        with self.lock:
            details = self.pipeline_job_details.get(job) if isinstance(job, str) else None
            details = json.loads(json.dumps(details)) if details else None
        if details is None:
            return _json(start_response, 400, _error_body("JobNotFoundException", f"job {job} does not exist"))
        return _json(start_response, 200, {"jobDetails": details})

    def _pipeline_job_result(self, start_response: Callable, operation: str, body: bytes) -> Any:
        """PutJobSuccessResult / PutJobFailureResult: any job id is accepted (no job worker polls here), but
        a job takes one final result, as in CodePipeline; a success with a continuation token is not final."""
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return _json(start_response, 400, _error_body("SerializationException", "body is not JSON"))
        job = params.get("jobId")
        if not isinstance(job, str) or not job:
            return _json(start_response, 400, _error_body("ValidationException", "jobId is required"))
        if operation == "PutJobSuccessResult":
            result: dict[str, Any] = {"status": "Succeeded"}
            for key in ("continuationToken", "outputVariables", "executionDetails", "currentRevision"):
                if key in params:
                    result[key] = params[key]
        else:
            if "failureDetails" not in params:
                return _json(start_response, 400, _error_body("ValidationException", "failureDetails is required"))
            result = {"status": "Failed", "failureDetails": params["failureDetails"]}
        with self.lock:
            history = self.pipeline_jobs.setdefault(job, {"results": []})["results"]
            if history and "continuationToken" not in history[-1]:
                return _json(start_response, 400, _error_body(
                    "InvalidJobStateException", f"job {job} already has a final result ({history[-1]['status']})"))
            history.append(result)
        return _json(start_response, 200, {})

    def _control(self, environ: dict, start_response: Callable, path: str) -> Any:
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/_localaws/health":
            return _json(start_response, 200, {"ok": True, "tick": self.config.tick,
                                               "minute": self.config.minute, "now": self.now,
                                               "ticks": self.ticks, "manual": self.config.manual})
        if path == "/_localaws/events" and method == "GET":
            with self.lock:
                events = list(self.bus.events)
            if "source" in query:
                events = [e for e in events if e["source"] in query["source"]]
            if "detail-type" in query:
                events = [e for e in events if e["detail-type"] in query["detail-type"]]
            return _json(start_response, 200, {"events": events})
        if path == "/_localaws/codepipeline/jobs" and method == "GET":
            with self.lock:
                jobs = json.loads(json.dumps(self.pipeline_jobs))
            return _json(start_response, 200, {"jobs": jobs})
        if path == "/_localaws/codepipeline/jobs" and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            try:
                job = json.loads(environ["wsgi.input"].read(length) or b"{}")
            except ValueError:
                return _json(start_response, 400, _error_body("SerializationException", "body is not JSON"))
            if not isinstance(job, dict) or not isinstance(job.get("id"), str) or not job["id"]:
                return _json(start_response, 400, _error_body("ValidationException", "a job needs an id"))
            details = {"id": job["id"], "accountId": job.get("accountId", ""), "data": job.get("data", {})}
            with self.lock:
                self.pipeline_job_details[job["id"]] = details
            return _json(start_response, 200, {"jobDetails": details})
        if path == "/_localaws/clock/step" and method == "POST":
            ticks = int(query.get("ticks", ["1"])[0])
            self.step(ticks)
            return _json(start_response, 200, {"now": self.now, "ticks": self.ticks})
        return _json(start_response, 404, _error_body("NotFound", f"no control endpoint {method} {path}"))


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without a log line per request."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _check_botocore() -> None:
    """moto serializes answers from botocore's models: an old botocore silently drops what this server adds."""
    import botocore
    from botocore.loaders import Loader

    shapes = Loader().load_service_model("ecs", "service-2")["shapes"]
    needed = ("strategy", "lifecycleHooks", "canaryConfiguration")
    members = shapes.get("DeploymentConfiguration", {}).get("members", {})
    if "ServiceDeployment" not in shapes or not all(m in members for m in needed):
        raise RuntimeError(
            f"botocore {botocore.__version__} lacks the ECS service-deployment and strategy shapes the local AWS "
            "answers with; install requirements-dev.txt (`make tools`), which pins a recent one"
        )


_PIPELINE_JOB_OPS = ("PutJobSuccessResult", "PutJobFailureResult")


def _operation_name(environ: dict, body: bytes) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.split(".")[-1]
    ctype = environ.get("CONTENT_TYPE", "")
    if ctype.startswith("application/x-www-form-urlencoded") and body:
        action = urllib.parse.parse_qs(body.decode(errors="replace")).get("Action")
        if action:
            return action[0]
    path = environ.get("PATH_INFO", "")
    if "/operation/" in path:
        return path.rsplit("/", 1)[-1]
    return f"{environ.get('REQUEST_METHOD', '?')} {path}"


def _error_body(code: str, message: str) -> dict:
    return {"__type": code, "message": message}


def not_implemented_body(operation: str) -> dict:
    return _error_body(
        NOT_IMPLEMENTED_TYPE,
        f"{operation} is not implemented by the local AWS (moto 5.2.5 + tests/localaws)",
    )


def _json(start_response: Callable, status: int, body: Any) -> list[bytes]:
    data = json.dumps(body, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "")
    start_response(f"{status} {reason}", [("Content-Type", "application/x-amz-json-1.1"),
                                          ("Content-Length", str(len(data)))])
    return [data]


def _cbor(start_response: Callable, status: int, body: Any) -> list[bytes]:
    """An error answer to a CBOR request, as the protocol sends it (`__type`, `message`)."""
    data = cbor.encode(body)
    reason = {200: "OK", 400: "Bad Request"}.get(status, "")
    start_response(f"{status} {reason}", [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                                          ("Content-Length", str(len(data)))])
    return [data]


def log(message: str) -> None:
    print(f"local-aws: {message}", file=sys.stderr, flush=True)
