//! Blue/green through AWS CodeDeploy, for services on the `CODE_DEPLOY` deployment controller.
//!
//! ECS refuses UpdateService with a task definition on such a service; CodeDeploy replaces its task set. A
//! deploy finds the service's CodeDeploy application and deployment group, refuses while one of the group's
//! deployments is in flight, registers the cloned revision as for every strategy, then
//! [CreateDeployment](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html) with
//! an AppSpec built from the live service ([`appspec`](appspec())) and auto-rollback on failure and on stop. It
//! is followed with
//! [GetDeployment](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeployment.html) and
//! [GetDeploymentTarget](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeploymentTarget.html)
//! (`cluster:service`): status, lifecycle events and the replacement task set's traffic weight. A failed or
//! stopped deployment names its rollback deployment, which is read even when it already finished (a stop's
//! rollback may be done before anyone looks).

mod appspec;
mod follow;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_codedeploy::types::{DeploymentGroupInfo, DeploymentInfo, DeploymentStatus, DeploymentWaitType};
use aws_sdk_ecs::types::Service;
use contract::names::Home;
use contract::request::Action;
use contract::result::{CodeDeployReport, RolloutState};
use contract::AwsError;

use self::appspec::description;
pub use self::appspec::{appspec, sha256_hex};
pub use self::follow::{failed_hook, follow, green_traffic, judge, observe, observe_rollback};
use self::follow::{rollback_status, target_id, terminal, watch};
use super::{RestoreError, Restored, Started};
use crate::error::DeployError;
use crate::ports::{Clock, DeploymentAnswer, Ecs, NewDeployment};
use crate::request::ServiceRef;
use crate::rollback::read_service;

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
    /// Pure: the names a request's `codedeploy` asks for, laid over these (the configured ones), when the
    /// operator allows overrides (`DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE`; the caller checks that). The request's
    /// hooks are added to the configured ones, never in their place: an event that has a configured hook
    /// keeps it (asking for another function there is refused), so a request cannot drop or replace the
    /// operator's verification gate. Each function a request adds must be one of `allowed`
    /// (`DEPLOY_CODEDEPLOY_HOOK_FUNCTIONS`) and of the function's own account and region ([`hook_function`]).
    /// Errors: [`Refusal::Invalid`] for a malformed hook, [`Refusal::NotAllowed`] for one not allowed.
    pub fn overridden_by(
        &self,
        other: &contract::request::CodeDeployOptions,
        allowed: &[String],
        home: Option<&Home>,
    ) -> Result<Names, Refusal> {
        let mut hooks = self.hooks.clone();
        if let Some(asked) = &other.hooks {
            check_hooks(asked).map_err(Refusal::Invalid)?;
            for (event, function) in asked {
                match self.hooks.get(event) {
                    Some(configured) if configured == function => continue,
                    Some(configured) => {
                        return Err(Refusal::NotAllowed(format!(
                            "the {event} hook is configured ({configured}, DEPLOY_CODEDEPLOY_HOOKS): a request may add hooks, not replace or drop the configured ones"
                        )))
                    }
                    None => {}
                }
                let name = hook_function(function, home).map_err(Refusal::NotAllowed)?;
                if !allowed.iter().any(|a| a == name) {
                    return Err(Refusal::NotAllowed(format!(
                        "the {event} hook names function {name}, which is not in DEPLOY_CODEDEPLOY_HOOK_FUNCTIONS"
                    )));
                }
                hooks.insert(event.clone(), function.clone());
            }
        }
        Ok(Names {
            application: other.application.clone().or_else(|| self.application.clone()),
            deployment_group: other.deployment_group.clone().or_else(|| self.deployment_group.clone()),
            deployment_config: other.deployment_config.clone().or_else(|| self.deployment_config.clone()),
            hooks,
        })
    }
}

/// Why a request's CodeDeploy names are refused: malformed (`InvalidRequest`) or not allowed (`NotAllowed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Invalid(String),
    NotAllowed(String),
}

/// Pure: the function name a hook's function reference resolves to, when it is of the function's own
/// account and region. Lambda takes a name (`name`, `name:alias`), a partial ARN
/// (`account:function:name[:alias]`) or a full ARN (`arn:partition:lambda:region:account:function:name[:alias]`)
/// ([Invoke, FunctionName](https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_RequestSyntax));
/// a name and a partial ARN are of the region CodeDeploy runs the deployment in, which is the service's. An
/// ARN of another partition, region or account is refused, and so is every ARN when `home` is unknown.
pub fn hook_function<'a>(function: &'a str, home: Option<&Home>) -> Result<&'a str, String> {
    let parts: Vec<&str> = function.split(':').collect();
    let elsewhere = || format!("hook function {function:?} is not of this function's account and region");
    let name = match parts.as_slice() {
        [name] | [name, _] => *name,
        [account, "function", name] | [account, "function", name, _] => {
            let home = home.ok_or_else(elsewhere)?;
            if *account != home.account() {
                return Err(elsewhere());
            }
            *name
        }
        ["arn", partition, "lambda", region, account, "function", name]
        | ["arn", partition, "lambda", region, account, "function", name, _] => {
            let home = home.ok_or_else(elsewhere)?;
            if *partition != home.partition() || *region != home.region().as_str() || *account != home.account() {
                return Err(elsewhere());
            }
            *name
        }
        _ => return Err(format!("hook function {function:?} is not a Lambda function name or ARN")),
    };
    let fits =
        (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !fits {
        return Err(format!("hook function {function:?} is not a Lambda function name or ARN"));
    }
    Ok(name)
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

/// Pure: whether a deployment group deploys `cluster`/`service`. An ECS deployment group names its one
/// service in `ecsServices` (`clusterName`, `serviceName`: names, not ARNs — CodeDeploy API Reference,
/// [ECSService](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ECSService.html)); a
/// CreateDeployment in the group replaces that service's task set whatever the AppSpec says, so a group is
/// only ever used for the service it names.
pub fn serves(info: &DeploymentGroupInfo, cluster: &str, service: &str) -> bool {
    info.ecs_services().iter().any(|s| s.cluster_name() == Some(cluster) && s.service_name() == Some(service))
}

/// Pure: the `NotAllowed` refusal of a group (or a deployment of a group) that is not `at`'s service's.
fn not_this_services(at: &ServiceRef, what: String) -> DeployError {
    DeployError::NotAllowed {
        cluster: at.cluster.name().to_owned(),
        service: at.service.name().to_owned(),
        reason: format!("{what}; a CodeDeploy group is used only for the service its ecsServices name"),
    }
}

/// The group found, or `DeploymentGroupNotFound`: the configured or requested names; else the console's
/// `AppECS-<cluster>-<service>` / `DgpECS-<cluster>-<service>`; else the ECS deployment group whose
/// `ecsServices` names the service (ListApplications, ListDeploymentGroups, GetDeploymentGroup). One
/// GetDeploymentGroup call when the names are right. A group found by its names whose `ecsServices` do not
/// name `at`'s cluster and service is `NotAllowed` ([`serves`]): every CodeDeploy path (deploy, diff,
/// rollback, continue, reject, status, a CodePipeline job) resolves its group here, before any change.
pub async fn resolve_group<E: Ecs>(ecs: &E, at: &ServiceRef) -> Result<Group, DeployError> {
    let (cluster, service) = (at.cluster.name(), at.service.name());
    let names = &at.codedeploy;
    let application = names.application.clone().unwrap_or_else(|| format!("AppECS-{cluster}-{service}"));
    let group = names.deployment_group.clone().unwrap_or_else(|| format!("DgpECS-{cluster}-{service}"));
    let found = |info: DeploymentGroupInfo, app: &str, name: &str| Group {
        application: info.application_name().unwrap_or(app).to_owned(),
        name: info.deployment_group_name().unwrap_or(name).to_owned(),
        config: info.deployment_config_name().map(str::to_owned),
    };
    if let Some(info) = ecs.get_deployment_group(&application, &group).await? {
        if !serves(&info, cluster, service) {
            let named: Vec<String> = info
                .ecs_services()
                .iter()
                .map(|s| format!("{}/{}", s.cluster_name().unwrap_or("?"), s.service_name().unwrap_or("?")))
                .collect();
            let deploys = if named.is_empty() { "no ECS service".to_owned() } else { named.join(", ") };
            return Err(not_this_services(
                at,
                format!("CodeDeploy deployment group {application}/{group} deploys {deploys}, not {cluster}/{service}"),
            ));
        }
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
                if serves(&info, cluster, service) {
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

/// Pure: `NotAllowed` unless deployment `info` is one of `group`'s (GetDeployment's `applicationName` and
/// `deploymentGroupName`).
pub fn check_of_group(at: &ServiceRef, group: &Group, id: &str, info: &DeploymentInfo) -> Result<(), DeployError> {
    let (app, name) = (info.application_name().unwrap_or_default(), info.deployment_group_name().unwrap_or_default());
    if app == group.application && name == group.name {
        return Ok(());
    }
    Err(not_this_services(
        at,
        format!(
            "CodeDeploy deployment {id} is of group {app}/{name}, not of {}/{}, the service's",
            group.application, group.name
        ),
    ))
}

/// Deployment `id` of the service's group as read now (GetDeploymentGroup, GetDeployment,
/// GetDeploymentTarget): `None` when it cannot be read; `NotAllowed` when the group is not the service's or
/// the deployment is of another group ([`check_of_group`]), before anything else is read of it.
pub async fn current_of<E: Ecs>(ecs: &E, at: &ServiceRef, id: &str) -> Result<Option<CodeDeployReport>, DeployError> {
    let group = resolve_group(ecs, at).await?;
    let Some(info) = ecs.get_deployment(id).await.ok().flatten() else { return Ok(None) };
    check_of_group(at, &group, id, &info)?;
    Ok(Some(report_of(ecs, at, id, &info).await))
}

async fn report_of<E: Ecs>(ecs: &E, at: &ServiceRef, id: &str, info: &DeploymentInfo) -> CodeDeployReport {
    let target = ecs.get_deployment_target(id, &target_id(at)).await.ok().flatten();
    let mut report = CodeDeployReport {
        deployment_id: id.to_owned(),
        application: info.application_name().unwrap_or_default().to_owned(),
        deployment_group: info.deployment_group_name().unwrap_or_default().to_owned(),
        ..CodeDeployReport::default()
    };
    observe(&mut report, info, target.as_ref());
    report
}

/// The group's newest deployment (in flight first, else the newest that succeeded) as `status` shows it;
/// `None` when there is none or it cannot be read. `NotAllowed` when the group named is not the service's.
pub async fn current<E: Ecs>(ecs: &E, at: &ServiceRef) -> Result<Option<CodeDeployReport>, DeployError> {
    let group = match resolve_group(ecs, at).await {
        Ok(group) => group,
        Err(e @ DeployError::NotAllowed { .. }) => return Err(e),
        Err(_) => return Ok(None),
    };
    Ok(newest_of(ecs, at, group).await)
}

async fn newest_of<E: Ecs>(ecs: &E, at: &ServiceRef, group: Group) -> Option<CodeDeployReport> {
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
