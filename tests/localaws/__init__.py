"""A local AWS whose rollouts live: moto 5.2.5, extended in-process with the deployments moto leaves still.

Why in-process rather than a server in front of moto: every behaviour added here is a change to state that
moto already keeps (a service's ``deployments``, ``events`` and ``taskDefinition``; the tasks DescribeTasks
and ListTasks return; a CodeDeploy deployment's ``status``; a CloudWatch alarm's state). Reaching into moto's
backends from the same process lets a rollout move that state directly, so every existing moto call
(DescribeServices, DescribeTasks, GetDeployment, ...) reports it with moto's own botocore-driven
serializer, and new operations (ListServiceDeployments, StopDeployment, ...) are answered through that same
serializer, so field names come from the botocore model and cannot drift. A proxy in front would have to
re-implement or re-parse all of those answers and keep two copies of the truth in step.

What it adds to moto (see ``ecs.py`` and ``codedeploy.py``):

- ECS rolling updates on a clock: UpdateService starts a PRIMARY deployment that launches tasks, completes
  and drains the old one; an image whose tag contains ``broken`` never starts (stopped tasks, stop reasons,
  exit codes, ``failedTasks``, service events); the deployment circuit breaker and CloudWatch deployment
  alarms fail it and roll it back; CreateService keeps ``deploymentConfiguration``.
- ECS-native BLUE_GREEN, LINEAR and CANARY service deployments with lifecycle stages, traffic weights,
  bake times, Lambda and PAUSE lifecycle hooks, StopServiceDeployment, ContinueServiceDeployment,
  ListServiceDeployments, DescribeServiceDeployments and DescribeServiceRevisions.
- CodeDeploy blue/green for ECS: deployments that live (Created, InProgress, Ready, Succeeded, Failed,
  Stopped), AppSpec checks, traffic shifting per deployment configuration, AppSpec hooks answered through
  PutLifecycleEventHookExecutionStatus, ContinueDeployment, StopDeployment with rollback deployments,
  deployment targets and deployment configurations.
- The EventBridge events ECS and CodeDeploy would emit, readable at ``GET /_localaws/events`` and
  forwarded to a local Lambda endpoint when configured.
- Operations nobody implements answer HTTP 400 with a JSON error naming the operation, never 500 (the
  AWS SDKs retry a 500 three times and hide the cause).

One ``LocalAws`` runs per process: moto's backends are process-global.
"""

from .server import Config, LocalAws

__all__ = ["Config", "LocalAws"]
