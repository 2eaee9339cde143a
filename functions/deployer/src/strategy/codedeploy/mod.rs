//! Blue/green through AWS CodeDeploy, for services on the `CODE_DEPLOY` deployment controller.
//!
//! ECS refuses UpdateService with a task definition on such a service; CodeDeploy replaces its task set. A
//! deploy finds the service's CodeDeploy application and deployment group, refuses while one of the group's
//! deployments is in flight, registers the cloned revision as for every strategy, then
//! [CreateDeployment](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html) with
//! an AppSpec built from the live service ([`appspec`]) and auto-rollback on failure and on stop. It is followed
//! with [GetDeployment](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeployment.html) and
//! [GetDeploymentTarget](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeploymentTarget.html)
//! (`cluster:service`): status, lifecycle events and the replacement task set's traffic weight. A failed or
//! stopped deployment names its rollback deployment, which is read even when it already finished (a stop's
//! rollback may be done before anyone looks).

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_codedeploy::types::{
    DeploymentInfo, DeploymentStatus, DeploymentTarget, DeploymentWaitType, LifecycleEventStatus, TargetLabel,
};
use aws_sdk_ecs::types::{Service, TaskSet};
use contract::request::Action;
use contract::result::{CodeDeployReport, LifecycleEventReport, RolloutState};
use contract::AwsError;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{RestoreError, Restored, Started};
use crate::error::DeployError;
use crate::follow::{Followed, POLL_INTERVAL};
use crate::plan::family_revision;
use crate::ports::{Clock, DeploymentAnswer, Ecs, NewDeployment};
use crate::request::ServiceRef;
use crate::rollback::read_service;
use crate::verdict::{EcsRollback, Tracked, Verdict};
use contract::result::RolledBackBy;

/// The five predefined ECS deployment configurations; any other name must exist (GetDeploymentConfig).
pub const BUILT_IN_CONFIGS: [&str; 5] = [
    "CodeDeployDefault.ECSAllAtOnce",
    "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
    "CodeDeployDefault.ECSLinear10PercentEvery3Minutes",
    "CodeDeployDefault.ECSCanary10Percent5Minutes",
    "CodeDeployDefault.ECSCanary10Percent15Minutes",
];

/// The AppSpec hooks of an ECS deployment, in lifecycle order (CodeDeploy User Guide, "AppSpec 'hooks'
/// section"); Start, Install, AllowTestTraffic, AllowTraffic and End take none.
pub const HOOK_EVENTS: [&str; 5] =
    ["BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"];

/// The CodeDeploy names a deploy uses: each `None` takes the default (see [`resolve_group`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub application: Option<String>,
    pub deployment_group: Option<String>,
    /// The deployment configuration; `None`: the group's own.
    pub deployment_config: Option<String>,
    /// AppSpec hooks: lifecycle event → Lambda function name or ARN.
    pub hooks: BTreeMap<String, String>,
}

impl Names {
    /// `other`'s names where it has them, else these.
    pub fn overridden_by(&self, other: &contract::request::CodeDeployOptions) -> Result<Names, String> {
        let hooks = match &other.hooks {
            Some(h) => h.clone(),
            None => self.hooks.clone(),
        };
        check_hooks(&hooks)?;
        Ok(Names {
            application: other.application.clone().or_else(|| self.application.clone()),
            deployment_group: other.deployment_group.clone().or_else(|| self.deployment_group.clone()),
            deployment_config: other.deployment_config.clone().or_else(|| self.deployment_config.clone()),
            hooks,
        })
    }
}

/// Pure: every hook names a lifecycle event of [`HOOK_EVENTS`] and a non-empty function.
pub fn check_hooks(hooks: &BTreeMap<String, String>) -> Result<(), String> {
    for (event, function) in hooks {
        if !HOOK_EVENTS.contains(&event.as_str()) {
            return Err(format!("{event:?} is not an ECS AppSpec hook; they are {}", HOOK_EVENTS.join(", ")));
        }
        if function.trim().is_empty() {
            return Err(format!("the {event} hook names no Lambda function"));
        }
    }
    Ok(())
}

/// A deployment group found for a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub application: String,
    pub name: String,
    /// The group's own deployment configuration.
    pub config: Option<String>,
}

/// Pure: what CodeDeploy needs of a service that it cannot do without: a load balancer naming the container
/// and port that take traffic (`LoadBalancerRequired`).
pub fn refusals(service: &Service, name: &str) -> Vec<DeployError> {
    let lb = service.load_balancers().first();
    match lb {
        Some(lb) if lb.container_name().is_some() && lb.container_port().is_some() => Vec::new(),
        _ => vec![DeployError::LoadBalancerRequired { service: name.to_owned() }],
    }
}

/// The group found, or `DeploymentGroupNotFound`: the configured or requested names; else the console's
/// `AppECS-<cluster>-<service>` / `DgpECS-<cluster>-<service>`; else the ECS deployment group whose
/// `ecsServices` names the service (ListApplications, ListDeploymentGroups, GetDeploymentGroup). One
/// GetDeploymentGroup call when the names are right.
pub async fn resolve_group<E: Ecs>(ecs: &E, at: &ServiceRef) -> Result<Group, DeployError> {
    let (cluster, service) = (at.cluster.name(), at.service.name());
    let names = &at.codedeploy;
    let application = names.application.clone().unwrap_or_else(|| format!("AppECS-{cluster}-{service}"));
    let group = names.deployment_group.clone().unwrap_or_else(|| format!("DgpECS-{cluster}-{service}"));
    let found = |info: aws_sdk_codedeploy::types::DeploymentGroupInfo, app: &str, name: &str| Group {
        application: info.application_name().unwrap_or(app).to_owned(),
        name: info.deployment_group_name().unwrap_or(name).to_owned(),
        config: info.deployment_config_name().map(str::to_owned),
    };
    if let Some(info) = ecs.get_deployment_group(&application, &group).await? {
        return Ok(found(info, &application, &group));
    }
    let mut tried = vec![format!("{application}/{group}")];
    if names.deployment_group.is_none() {
        let applications = match &names.application {
            Some(a) => vec![a.clone()],
            None => ecs.list_ecs_applications().await?,
        };
        for app in applications {
            for name in ecs.list_deployment_groups(&app).await? {
                let Some(info) = ecs.get_deployment_group(&app, &name).await? else { continue };
                let serves = info
                    .ecs_services()
                    .iter()
                    .any(|s| s.cluster_name() == Some(cluster) && s.service_name() == Some(service));
                if serves {
                    return Ok(found(info, &app, &name));
                }
            }
        }
        tried.push("the ECS deployment groups whose ecsServices name it".into());
    }
    Err(DeployError::DeploymentGroupNotFound {
        cluster: cluster.to_owned(),
        service: service.to_owned(),
        tried: tried.join(", "),
    })
}

/// Before any change: the group exists, the deployment configuration asked for exists (the five built-in ECS
/// ones without a call), and, unless `force`, none of the group's deployments is in flight
/// (`DeploymentInProgress` names it).
pub async fn before_change<E: Ecs>(ecs: &E, at: &ServiceRef, force: bool) -> Result<Group, DeployError> {
    let group = resolve_group(ecs, at).await?;
    if let Some(config) = &at.codedeploy.deployment_config {
        if !BUILT_IN_CONFIGS.contains(&config.as_str()) && !ecs.deployment_config_exists(config).await? {
            return Err(DeployError::DeploymentConfigNotFound { config: config.clone() });
        }
    }
    if force {
        return Ok(group);
    }
    let moving = ecs.list_in_flight_deployments(&group.application, &group.name).await?;
    if let Some(id) = moving.first() {
        let info = ecs.get_deployment(id).await.ok().flatten();
        let status = info.as_ref().and_then(|i| i.status()).map_or("in flight", |s| s.as_str());
        return Err(DeployError::DeploymentInProgress {
            service: at.service.to_string(),
            holder: format!("CodeDeploy deployment {id} of {}/{} ({status})", group.application, group.name),
            since: info.and_then(|i| i.create_time().map(ToString::to_string)).unwrap_or_else(|| "unknown".into()),
        });
    }
    Ok(group)
}

/// The task set a CODE_DEPLOY service serves from (PRIMARY), which holds what the service level may not.
fn primary_task_set(service: &Service) -> Option<&TaskSet> {
    service.task_sets().iter().find(|t| t.status() == Some("PRIMARY")).or(service.task_sets().first())
}

/// Pure: the AppSpec (JSON) of a deployment of `task_definition_arn` to `service` as it runs now: the
/// service's first load balancer's container and port, its platform version, network configuration and
/// capacity provider strategy (the service's, else its PRIMARY task set's), and `hooks` in lifecycle order.
/// Shape: CodeDeploy User Guide, "AppSpec 'resources' section (Amazon ECS deployments only)".
/// `LoadBalancerRequired` when the service has no load balancer with a container name and port.
pub fn appspec(
    service: &Service,
    name: &str,
    task_definition_arn: &str,
    hooks: &BTreeMap<String, String>,
) -> Result<String, DeployError> {
    let task_set = primary_task_set(service);
    let lb = service
        .load_balancers()
        .first()
        .or_else(|| task_set.and_then(|t| t.load_balancers().first()))
        .filter(|lb| lb.container_name().is_some() && lb.container_port().is_some())
        .ok_or_else(|| DeployError::LoadBalancerRequired { service: name.to_owned() })?;
    let mut properties = Map::new();
    properties.insert("TaskDefinition".into(), json!(task_definition_arn));
    properties.insert(
        "LoadBalancerInfo".into(),
        json!({"ContainerName": lb.container_name(), "ContainerPort": lb.container_port()}),
    );
    if let Some(pv) = service.platform_version().or(task_set.and_then(|t| t.platform_version())) {
        properties.insert("PlatformVersion".into(), json!(pv));
    }
    let network = service.network_configuration().or(task_set.and_then(|t| t.network_configuration()));
    if let Some(vpc) = network.and_then(|n| n.awsvpc_configuration()) {
        let mut awsvpc = Map::new();
        awsvpc.insert("Subnets".into(), json!(vpc.subnets()));
        if !vpc.security_groups().is_empty() {
            awsvpc.insert("SecurityGroups".into(), json!(vpc.security_groups()));
        }
        if let Some(ip) = vpc.assign_public_ip() {
            awsvpc.insert("AssignPublicIp".into(), json!(ip.as_str()));
        }
        properties.insert("NetworkConfiguration".into(), json!({ "AwsvpcConfiguration": awsvpc }));
    }
    let strategy = if service.capacity_provider_strategy().is_empty() {
        task_set.map(|t| t.capacity_provider_strategy()).unwrap_or_default()
    } else {
        service.capacity_provider_strategy()
    };
    if !strategy.is_empty() {
        let items: Vec<Value> = strategy
            .iter()
            .map(|c| json!({"CapacityProvider": c.capacity_provider(), "Base": c.base(), "Weight": c.weight()}))
            .collect();
        properties.insert("CapacityProviderStrategy".into(), Value::Array(items));
    }
    let mut spec = json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": properties}}],
    });
    let ordered: Vec<Value> =
        HOOK_EVENTS.iter().filter_map(|event| hooks.get(*event).map(|function| json!({ *event: function }))).collect();
    if !ordered.is_empty() {
        spec["Hooks"] = Value::Array(ordered);
    }
    Ok(spec.to_string())
}

/// Pure: lower-case hex SHA-256 of `content` (the AppSpec's `sha256`).
pub fn sha256_hex(content: &str) -> String {
    Sha256::digest(content.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Pure: the deployment's description: version and revision, at most 512 characters.
fn description(at: &ServiceRef, task_definition_arn: &str) -> String {
    let mut text = format!("ecs-deployer: {} of {}/{}", family_revision(task_definition_arn), at.cluster, at.service);
    text.truncate(512);
    text
}

/// CreateDeployment of `task_definition_arn` with an AppSpec of the live service (DescribeServices,
/// GetDeploymentGroup, CreateDeployment). Never UpdateService. Errors: the group or load balancer missing,
/// CodeDeploy's refusal.
pub async fn start<E: Ecs>(
    ecs: &E,
    at: &ServiceRef,
    task_definition_arn: &str,
) -> Result<(Service, Started), DeployError> {
    let service = read_service(ecs, at).await?;
    let group = resolve_group(ecs, at).await?;
    let spec = appspec(&service, at.service.name(), task_definition_arn, &at.codedeploy.hooks)?;
    let new = NewDeployment {
        application: group.application.clone(),
        deployment_group: group.name.clone(),
        deployment_config: at.codedeploy.deployment_config.clone(),
        description: description(at, task_definition_arn),
        sha256: sha256_hex(&spec),
        appspec: spec,
    };
    let id = ecs.create_deployment(new).await?;
    tracing::info!(deployment = %id, application = %group.application, group = %group.name, "CodeDeploy deployment created");
    let report = CodeDeployReport {
        deployment_id: id,
        application: group.application,
        deployment_group: group.name,
        deployment_config: at.codedeploy.deployment_config.clone().or(group.config),
        status: Some("Created".into()),
        ..CodeDeployReport::default()
    };
    Ok((service, Started { deployment_id: None, service_deployment_arn: None, codedeploy: Some(report) }))
}

/// Pure: where a CodeDeploy deployment stands. Succeeded is [`Verdict::Completed`]; Failed and Stopped are
/// failures, rolled back by CodeDeploy itself when it names a rollback deployment; every other status
/// (Created, Queued, InProgress, Baking, Ready) is in progress.
pub fn judge(info: &DeploymentInfo, target: Option<&DeploymentTarget>) -> Verdict {
    match info.status() {
        Some(DeploymentStatus::Succeeded) => Verdict::Completed,
        Some(DeploymentStatus::Failed | DeploymentStatus::Stopped) => {
            let status = info.status().map_or("Failed", |s| s.as_str());
            let error = info.error_information();
            let mut reason = format!(
                "CodeDeploy deployment {} {status}: {}",
                info.deployment_id().unwrap_or("?"),
                error.and_then(|e| e.message()).unwrap_or("no error information")
            );
            if let Some(code) = error.and_then(|e| e.code()) {
                reason.push_str(&format!(" ({})", code.as_str()));
            }
            if let Some(hook) = failed_hook(target) {
                reason.push_str(&format!("; the {hook} hook failed"));
            }
            let rolled_back = info.rollback_info().and_then(|r| r.rollback_deployment_id()).is_some();
            Verdict::Failed { reason, ecs_rolls_back: rolled_back }
        }
        _ => Verdict::InProgress { running: 0, desired: 0, failed_tasks: 0 },
    }
}

/// Pure: the lifecycle event that failed, from the deployment target.
pub fn failed_hook(target: Option<&DeploymentTarget>) -> Option<String> {
    target?
        .ecs_target()?
        .lifecycle_events()
        .iter()
        .find(|e| e.status() == Some(&LifecycleEventStatus::Failed))
        .and_then(|e| e.lifecycle_event_name().map(str::to_owned))
}

/// Pure: the replacement (green) task set's traffic weight, percent.
pub fn green_traffic(target: &DeploymentTarget) -> Option<f64> {
    let sets = target.ecs_target()?.task_sets_info();
    sets.iter().find(|t| t.task_set_label() == Some(&TargetLabel::Green)).map(|t| t.traffic_weight())
}

/// Pure: fills `report` from one GetDeployment and GetDeploymentTarget answer; `steps` gets the green traffic
/// weight when it moved.
pub fn observe(report: &mut CodeDeployReport, info: &DeploymentInfo, target: Option<&DeploymentTarget>) {
    report.status = info.status().map(|s| s.as_str().to_owned());
    if let Some(c) = info.deployment_config_name() {
        report.deployment_config = Some(c.to_owned());
    }
    report.error_code = info.error_information().and_then(|e| e.code()).map(|c| c.as_str().to_owned());
    report.error_message = info.error_information().and_then(|e| e.message()).map(str::to_owned);
    report.rollback_deployment_id = info.rollback_info().and_then(|r| r.rollback_deployment_id()).map(str::to_owned);
    let Some(target) = target else { return };
    if let Some(ecs) = target.ecs_target() {
        report.lifecycle_events = ecs
            .lifecycle_events()
            .iter()
            .map(|e| LifecycleEventReport {
                name: e.lifecycle_event_name().unwrap_or_default().to_owned(),
                status: e.status().map(|s| s.as_str().to_owned()),
            })
            .collect();
        let events = ecs.lifecycle_events();
        let current = events
            .iter()
            .find(|e| matches!(e.status(), Some(LifecycleEventStatus::InProgress | LifecycleEventStatus::Failed)))
            .or_else(|| events.iter().rev().find(|e| e.status() == Some(&LifecycleEventStatus::Succeeded)));
        report.lifecycle_event = current.and_then(|e| e.lifecycle_event_name().map(str::to_owned));
    }
    report.failed_hook = failed_hook(Some(target));
    if let Some(w) = green_traffic(target) {
        report.traffic_percent = Some(w);
        if report.traffic_steps.last() != Some(&w) && w > 0.0 {
            report.traffic_steps.push(w);
        }
    }
}

fn terminal(status: Option<&DeploymentStatus>) -> bool {
    matches!(status, Some(DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped))
}

fn target_id(at: &ServiceRef) -> String {
    format!("{}:{}", at.cluster.name(), at.service.name())
}

/// Reads deployment `id` (and its target) every few seconds until it is finished or `deadline` passes; `None`
/// when it was never read.
async fn watch<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    report: &mut CodeDeployReport,
    deadline: Duration,
) -> Option<(DeploymentInfo, Option<DeploymentTarget>)> {
    let mut last = None;
    loop {
        match ecs.get_deployment(&report.deployment_id).await {
            Ok(Some(info)) => {
                let target = ecs.get_deployment_target(&report.deployment_id, &target_id(at)).await.ok().flatten();
                observe(report, &info, target.as_ref());
                tracing::debug!(status = ?report.status, event = ?report.lifecycle_event, "CodeDeploy deployment");
                let done = terminal(info.status());
                last = Some((info, target));
                if done {
                    return last;
                }
            }
            Ok(None) => tracing::warn!("CodeDeploy does not know deployment {} (yet)", report.deployment_id),
            Err(e) => {
                tracing::warn!("reading CodeDeploy deployment {} failed, trying again: {e}", report.deployment_id)
            }
        }
        let pause = POLL_INTERVAL + Duration::from_millis(clock.unix_millis() % 1000);
        if clock.now() + pause > deadline {
            return last;
        }
        clock.sleep(pause).await;
    }
}

/// Reads a rollback deployment until it finishes or `deadline` passes (at least once: it may have finished
/// before anyone looked); its status.
async fn rollback_status<E: Ecs>(ecs: &E, clock: &dyn Clock, id: &str, deadline: Duration) -> Option<DeploymentStatus> {
    loop {
        let status = ecs.get_deployment(id).await.ok().flatten().and_then(|i| i.status().cloned());
        if terminal(status.as_ref()) {
            return status;
        }
        let pause = POLL_INTERVAL + Duration::from_millis(clock.unix_millis() % 1000);
        if clock.now() + pause > deadline {
            return status;
        }
        clock.sleep(pause).await;
    }
}

/// Follows the CodeDeploy deployment a deploy created until a verdict or `deadline`; a failure's rollback
/// deployment is read too, and followed while time remains.
pub async fn follow<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    tracked: Tracked<'_>,
    deadline: Duration,
) -> Result<Followed, DeployError> {
    let Some(mut report) = tracked.codedeploy.cloned() else {
        return Err(DeployError::Internal { reason: "a CodeDeploy rollout without a deployment id".into() });
    };
    let seen = watch(ecs, clock, at, &mut report, deadline).await;
    let mut verdict = seen.as_ref().map(|(info, target)| judge(info, target.as_ref()));
    let mut ecs_rollback = None;
    if let Some(Verdict::Failed { ecs_rolls_back: true, .. }) = &verdict {
        let id = report.rollback_deployment_id.clone().unwrap_or_default();
        let status = rollback_status(ecs, clock, &id, deadline).await;
        report.rollback_status = status.as_ref().map(|s| s.as_str().to_owned());
        let state = match status {
            Some(DeploymentStatus::Succeeded) => RolloutState::Completed,
            Some(DeploymentStatus::Failed | DeploymentStatus::Stopped) => RolloutState::Failed,
            _ => RolloutState::InProgress,
        };
        ecs_rollback = Some(EcsRollback { by: RolledBackBy::Codedeploy, state: Some(state) });
    }
    if matches!(verdict, Some(Verdict::InProgress { .. })) {
        verdict = None;
    }
    let service = read_service(ecs, at).await?;
    Ok(Followed { verdict, service, service_deployment: None, ecs_rollback, codedeploy: Some(report) })
}

/// Puts the service back on `target_arn` with a new CodeDeploy deployment of that revision and follows it
/// until `deadline`. A deployment still in flight is stopped first (StopDeployment with auto-rollback), and
/// then the rollback deployment CodeDeploy created is followed instead.
pub async fn restore<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    target_arn: &str,
    deadline: Duration,
) -> Result<Restored, RestoreError> {
    let group = resolve_group(ecs, at).await.map_err(RestoreError::Follow)?;
    let moving = ecs.list_in_flight_deployments(&group.application, &group.name).await.map_err(RestoreError::Start)?;
    if let Some(id) = moving.first() {
        return stop(ecs, clock, id, deadline).await;
    }
    let (_, started) = start(ecs, at, target_arn).await.map_err(|e| match e {
        DeployError::Aws(e) => RestoreError::Start(e),
        other => RestoreError::Follow(other),
    })?;
    let mut report = started.codedeploy.unwrap_or_default();
    let state = match watch(ecs, clock, at, &mut report, deadline).await.and_then(|(i, _)| i.status().cloned()) {
        Some(DeploymentStatus::Succeeded) => RolloutState::Completed,
        Some(DeploymentStatus::Failed | DeploymentStatus::Stopped) => RolloutState::Failed,
        _ => RolloutState::InProgress,
    };
    Ok(Restored { deployment_id: Some(report.deployment_id), service_deployment_arn: None, state })
}

/// StopDeployment of `id` with auto-rollback, then the rollback deployment it created, followed until
/// `deadline` (read at least once, even when it already finished).
pub async fn stop<E: Ecs>(ecs: &E, clock: &dyn Clock, id: &str, deadline: Duration) -> Result<Restored, RestoreError> {
    match ecs.stop_deployment(id).await.map_err(RestoreError::Start)? {
        DeploymentAnswer::Accepted => {}
        DeploymentAnswer::Conflict(why) => tracing::info!("StopDeployment of {id}: {why}"),
    }
    // CodeDeploy names the rollback deployment on the stopped one once it created it, which may take a read or
    // two; a deployment that ended without one (auto-rollback off) is given three reads.
    let mut ended_reads = 0;
    let mut ended = false;
    let rollback_id = loop {
        let info = ecs.get_deployment(id).await.map_err(|e| RestoreError::Follow(e.into()))?;
        let rollback_id = info.as_ref().and_then(|i| i.rollback_info()?.rollback_deployment_id().map(str::to_owned));
        if info.as_ref().is_some_and(|i| terminal(i.status())) {
            ended = true;
            ended_reads += 1;
        }
        if rollback_id.is_some() || ended_reads >= 3 {
            break rollback_id;
        }
        let pause = Duration::from_secs(1);
        if clock.now() + pause > deadline {
            break None;
        }
        clock.sleep(pause).await;
    };
    let Some(rollback_id) = rollback_id else {
        // Stopped before a replacement task set took traffic: CodeDeploy has nothing to roll back, the original
        // task set still serves.
        let state = if ended { RolloutState::Completed } else { RolloutState::InProgress };
        return Ok(Restored { deployment_id: Some(id.to_owned()), service_deployment_arn: None, state });
    };
    let state = match rollback_status(ecs, clock, &rollback_id, deadline).await {
        Some(DeploymentStatus::Succeeded) => RolloutState::Completed,
        Some(DeploymentStatus::Failed | DeploymentStatus::Stopped) => RolloutState::Failed,
        _ => RolloutState::InProgress,
    };
    Ok(Restored { deployment_id: Some(rollback_id), service_deployment_arn: None, state })
}

/// The `continue` and `reject` actions on a CODE_DEPLOY service, on the group's deployment in flight.
/// `continue`: [ContinueDeployment](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ContinueDeployment.html)
/// with READY_WAIT (reroute traffic now) and, when it is in no ready wait, TERMINATION_WAIT (end the wait
/// before the blue task set is removed). `reject`: StopDeployment with auto-rollback. Answers the deployment
/// id and what was done (`READY_WAIT`, `TERMINATION_WAIT`, `STOPPED`); `NoHookAwaitingAction` when no
/// deployment is in flight or it is in no wait.
pub async fn answer<E: Ecs>(ecs: &E, at: &ServiceRef, action: Action) -> Result<(String, &'static str), DeployError> {
    let group = resolve_group(ecs, at).await?;
    let moving = ecs.list_in_flight_deployments(&group.application, &group.name).await?;
    let none = || DeployError::NoHookAwaitingAction { service: at.service.to_string(), service_deployment: None };
    let Some(id) = moving.first() else { return Err(none()) };
    if action == Action::Reject {
        return match ecs.stop_deployment(id).await? {
            DeploymentAnswer::Accepted => Ok((id.clone(), "STOPPED")),
            DeploymentAnswer::Conflict(_) => Err(none()),
        };
    }
    let waits =
        [(DeploymentWaitType::ReadyWait, "READY_WAIT"), (DeploymentWaitType::TerminationWait, "TERMINATION_WAIT")];
    for (wait, name) in waits {
        if ecs.continue_deployment(id, wait).await? == DeploymentAnswer::Accepted {
            tracing::info!(deployment = %id, wait = name, "CodeDeploy deployment continued");
            return Ok((id.clone(), name));
        }
    }
    Err(DeployError::NoHookAwaitingAction { service: at.service.to_string(), service_deployment: Some(id.clone()) })
}

/// Deployment `id` of the service's group as read now.
pub async fn current_of<E: Ecs>(ecs: &E, at: &ServiceRef, id: &str) -> Option<CodeDeployReport> {
    let info = ecs.get_deployment(id).await.ok()??;
    let target = ecs.get_deployment_target(id, &target_id(at)).await.ok().flatten();
    let mut report = CodeDeployReport {
        deployment_id: id.to_owned(),
        application: info.application_name().unwrap_or_default().to_owned(),
        deployment_group: info.deployment_group_name().unwrap_or_default().to_owned(),
        ..CodeDeployReport::default()
    };
    observe(&mut report, &info, target.as_ref());
    Some(report)
}

/// The group's newest deployment (in flight first, else the newest that succeeded) as `status` shows it.
pub async fn current<E: Ecs>(ecs: &E, at: &ServiceRef) -> Option<CodeDeployReport> {
    let group = resolve_group(ecs, at).await.ok()?;
    let moving = ecs.list_in_flight_deployments(&group.application, &group.name).await.ok()?;
    let id = match moving.first() {
        Some(id) => id.clone(),
        None => ecs.list_succeeded_deployments(&group.application, &group.name).await.ok()?.first()?.clone(),
    };
    let info = ecs.get_deployment(&id).await.ok()??;
    let target = ecs.get_deployment_target(&id, &target_id(at)).await.ok().flatten();
    let mut report = CodeDeployReport {
        deployment_id: id,
        application: group.application,
        deployment_group: group.name,
        ..CodeDeployReport::default()
    };
    observe(&mut report, &info, target.as_ref());
    Some(report)
}

/// An AwsError for a start that failed before reaching AWS (used where the strategy seam wants one).
pub(crate) fn as_aws_error(e: DeployError) -> AwsError {
    match e {
        DeployError::Aws(e) => e,
        other => AwsError {
            operation: "CreateDeployment",
            kind: contract::AwsErrorKind::Rejected,
            aws_code: Some(other.code().as_str().to_owned()),
            message: other.to_string(),
        },
    }
}
