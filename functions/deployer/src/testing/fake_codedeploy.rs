//! The fake's CodeDeploy: applications and ECS deployment groups, custom deployment configurations, and
//! deployments that walk a script one state per GetDeployment (like the ECS-native service deployments), with
//! auto-rollback deployments that have already succeeded when first read, StopDeployment and
//! ContinueDeployment.

use std::collections::{BTreeMap, VecDeque};

use aws_sdk_codedeploy::types::{
    DeploymentGroupInfo, DeploymentInfo, DeploymentStatus, DeploymentTarget, DeploymentTargetType, DeploymentWaitType,
    EcsService, EcsTarget, EcsTaskSet, ErrorCode, ErrorInformation, LifecycleEvent, LifecycleEventStatus, RollbackInfo,
    TargetLabel,
};
use contract::AwsError;

use super::fake::FakeAws;
use crate::ports::{CodeDeploy, CodePipeline, DeploymentAnswer, NewDeployment};

/// One state of a scripted CodeDeploy deployment.
#[derive(Debug, Clone)]
pub struct CdStep {
    pub status: DeploymentStatus,
    /// Lifecycle events so far, in order, with their status.
    pub events: Vec<(&'static str, LifecycleEventStatus)>,
    /// The replacement (green) task set's traffic weight, percent.
    pub green: f64,
    /// Failed or Stopped: CodeDeploy's error code and message; an auto-rollback deployment is created
    /// (already Succeeded).
    pub error: Option<(ErrorCode, &'static str)>,
}

impl CdStep {
    pub fn new(status: DeploymentStatus, events: &[(&'static str, LifecycleEventStatus)], green: f64) -> CdStep {
        CdStep { status, events: events.to_vec(), green, error: None }
    }
}

/// A CodeDeploy deployment of the fake.
#[derive(Debug, Clone)]
pub struct CdDeployment {
    pub application: String,
    pub group: String,
    pub config: Option<String>,
    pub appspec: String,
    pub sha256: String,
    /// The ECS service the group deploys: it runs the AppSpec's task definition once the deployment succeeds.
    pub service: Option<String>,
    pub now: CdStep,
    pub next: VecDeque<CdStep>,
    pub rollback_id: Option<String>,
}

#[derive(Debug, Default)]
pub struct CdState {
    /// application → its deployment groups.
    pub groups: BTreeMap<String, Vec<DeploymentGroupInfo>>,
    pub custom_configs: Vec<String>,
    pub deployments: BTreeMap<String, CdDeployment>,
    /// CodePipeline job results: (job id, Ok(continuation token) or Err(failure message)).
    pub job_results: Vec<(String, Result<Option<String>, String>)>,
    /// CodePipeline's own record of each job (GetJobDetails), as CodePipeline created it.
    pub pipeline_jobs: BTreeMap<String, crate::ports::JobFacts>,
    /// Scripts of the next CreateDeployment calls, in order (default: Succeeded at the first read).
    pub scripts: VecDeque<Vec<CdStep>>,
    next_id: u32,
}

/// A successful all-at-once deployment, one read per step.
pub fn all_at_once() -> Vec<CdStep> {
    use LifecycleEventStatus::{InProgress, Succeeded as Ok};
    vec![
        CdStep::new(DeploymentStatus::InProgress, &[("BeforeInstall", Ok), ("Install", InProgress)], 0.0),
        CdStep::new(
            DeploymentStatus::Succeeded,
            &[("BeforeInstall", Ok), ("Install", Ok), ("AllowTestTraffic", Ok), ("AllowTraffic", Ok)],
            100.0,
        ),
    ]
}

impl CdState {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("d-FAKE{:05}", self.next_id)
    }

    /// Creates the already-succeeded rollback deployment of `id`.
    fn roll_back(&mut self, id: &str) -> String {
        let rollback = self.new_id();
        let d = self.deployments.get(id).cloned().expect("known deployment");
        self.deployments.insert(
            rollback.clone(),
            CdDeployment {
                now: CdStep::new(DeploymentStatus::Succeeded, &[], 0.0),
                next: VecDeque::new(),
                rollback_id: None,
                // It puts back the task set that served before: the service's revision does not change.
                service: None,
                ..d
            },
        );
        rollback
    }
}

fn info(id: &str, d: &CdDeployment) -> DeploymentInfo {
    DeploymentInfo::builder()
        .deployment_id(id)
        .application_name(&d.application)
        .deployment_group_name(&d.group)
        .set_deployment_config_name(d.config.clone())
        .status(d.now.status.clone())
        .set_error_information(
            d.now.error.as_ref().map(|(c, m)| ErrorInformation::builder().code(c.clone()).message(*m).build()),
        )
        .set_rollback_info(d.rollback_id.as_ref().map(|r| RollbackInfo::builder().rollback_deployment_id(r).build()))
        .build()
}

/// The `TaskDefinition` of an AppSpec's target service.
fn appspec_task_definition(appspec: &str) -> Option<String> {
    let spec: serde_json::Value = serde_json::from_str(appspec).ok()?;
    spec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"].as_str().map(str::to_owned)
}

fn terminal(status: &DeploymentStatus) -> bool {
    matches!(status, DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped)
}

impl FakeAws {
    /// Adds an ECS deployment group `group` of application `application` that deploys `cluster/service`.
    pub fn codedeploy_group(&self, application: &str, group: &str, cluster: &str, service: &str) {
        let info = DeploymentGroupInfo::builder()
            .application_name(application)
            .deployment_group_name(group)
            .deployment_config_name("CodeDeployDefault.ECSAllAtOnce")
            .ecs_services(EcsService::builder().cluster_name(cluster).service_name(service).build())
            .build();
        self.state.lock().unwrap().codedeploy.groups.entry(application.to_owned()).or_default().push(info);
    }

    /// Scripts the next CreateDeployment calls.
    pub fn codedeploy_scripts(&self, scripts: impl IntoIterator<Item = Vec<CdStep>>) {
        self.state.lock().unwrap().codedeploy.scripts.extend(scripts);
    }

    /// A deployment of the fake by id.
    pub fn codedeploy_deployment(&self, id: &str) -> CdDeployment {
        self.state.lock().unwrap().codedeploy.deployments[id].clone()
    }
}

impl CodeDeploy for FakeAws {
    async fn list_ecs_applications(&self) -> Result<Vec<String>, AwsError> {
        self.call("ListApplications", "", |s| Ok(s.codedeploy.groups.keys().cloned().collect())).await
    }

    async fn list_deployment_groups(&self, application: &str) -> Result<Vec<String>, AwsError> {
        self.call("ListDeploymentGroups", application, |s| {
            Ok(s.codedeploy
                .groups
                .get(application)
                .map(|g| g.iter().filter_map(|i| i.deployment_group_name().map(str::to_owned)).collect())
                .unwrap_or_default())
        })
        .await
    }

    async fn get_deployment_group(
        &self,
        application: &str,
        group: &str,
    ) -> Result<Option<DeploymentGroupInfo>, AwsError> {
        self.call("GetDeploymentGroup", &format!("{application}/{group}"), |s| {
            Ok(s.codedeploy
                .groups
                .get(application)
                .and_then(|g| g.iter().find(|i| i.deployment_group_name() == Some(group)).cloned()))
        })
        .await
    }

    async fn list_in_flight_deployments(&self, application: &str, group: &str) -> Result<Vec<String>, AwsError> {
        self.call("ListDeployments", group, |s| {
            Ok(s.codedeploy
                .deployments
                .iter()
                .rev()
                .filter(|(_, d)| d.application == application && d.group == group && !terminal(&d.now.status))
                .map(|(id, _)| id.clone())
                .collect())
        })
        .await
    }

    async fn list_succeeded_deployments(&self, application: &str, group: &str) -> Result<Vec<String>, AwsError> {
        self.call("ListDeployments", group, |s| {
            Ok(s.codedeploy
                .deployments
                .iter()
                .rev()
                .filter(|(_, d)| {
                    d.application == application && d.group == group && d.now.status == DeploymentStatus::Succeeded
                })
                .map(|(id, _)| id.clone())
                .collect())
        })
        .await
    }

    async fn deployment_config_exists(&self, name: &str) -> Result<bool, AwsError> {
        self.call("GetDeploymentConfig", name, |s| {
            Ok(s.codedeploy.custom_configs.iter().any(|c| c == name)
                || crate::strategy::codedeploy::BUILT_IN_CONFIGS.contains(&name))
        })
        .await
    }

    async fn create_deployment(&self, new: NewDeployment) -> Result<String, AwsError> {
        self.call("CreateDeployment", &new.appspec.clone(), |s| {
            let mut script: VecDeque<CdStep> = s.codedeploy.scripts.pop_front().unwrap_or_else(all_at_once).into();
            let now = script.pop_front().unwrap_or_else(|| CdStep::new(DeploymentStatus::Succeeded, &[], 100.0));
            let id = s.codedeploy.new_id();
            let service = s
                .codedeploy
                .groups
                .get(&new.application)
                .and_then(|g| g.iter().find(|i| i.deployment_group_name() == Some(new.deployment_group.as_str())))
                .and_then(|i| i.ecs_services().first().and_then(|e| e.service_name().map(str::to_owned)));
            let first = CdStep::new(DeploymentStatus::Created, &[], 0.0);
            script.push_front(now);
            s.codedeploy.deployments.insert(
                id.clone(),
                CdDeployment {
                    application: new.application,
                    group: new.deployment_group,
                    config: new.deployment_config,
                    appspec: new.appspec,
                    sha256: new.sha256,
                    service,
                    now: first,
                    next: script,
                    rollback_id: None,
                },
            );
            Ok(id)
        })
        .await
    }

    async fn get_deployment(&self, id: &str) -> Result<Option<DeploymentInfo>, AwsError> {
        self.call("GetDeployment", id, |s| {
            let cd = &mut s.codedeploy;
            let Some(d) = cd.deployments.get_mut(id) else { return Ok(None) };
            let answer = info(id, d);
            // A Ready deployment waits for ContinueDeployment.
            if d.now.status != DeploymentStatus::Ready {
                if let Some(step) = d.next.pop_front() {
                    d.now = step;
                }
            }
            let failed = matches!(d.now.status, DeploymentStatus::Failed | DeploymentStatus::Stopped);
            let unrolled = d.rollback_id.is_none();
            let shipped = (d.now.status == DeploymentStatus::Succeeded)
                .then(|| d.service.clone().zip(appspec_task_definition(&d.appspec)))
                .flatten();
            if failed && unrolled {
                let r = cd.roll_back(id);
                cd.deployments.get_mut(id).unwrap().rollback_id = Some(r);
            }
            if let Some((service, arn)) = shipped {
                if let Some(svc) = s.services.get_mut(&service) {
                    svc.task_definition = Some(arn);
                }
            }
            Ok(Some(answer))
        })
        .await
    }

    async fn get_deployment_target(&self, id: &str, target_id: &str) -> Result<Option<DeploymentTarget>, AwsError> {
        self.call("GetDeploymentTarget", target_id, |s| {
            let Some(d) = s.codedeploy.deployments.get(id) else { return Ok(None) };
            let events = d
                .now
                .events
                .iter()
                .map(|(name, status)| {
                    LifecycleEvent::builder().lifecycle_event_name(*name).status(status.clone()).build()
                })
                .collect();
            let sets = vec![
                EcsTaskSet::builder().task_set_label(TargetLabel::Blue).traffic_weight(100.0 - d.now.green).build(),
                EcsTaskSet::builder().task_set_label(TargetLabel::Green).traffic_weight(d.now.green).build(),
            ];
            let target = EcsTarget::builder()
                .deployment_id(id)
                .target_id(target_id)
                .set_lifecycle_events(Some(events))
                .set_task_sets_info(Some(sets))
                .build();
            Ok(Some(
                DeploymentTarget::builder()
                    .deployment_target_type(DeploymentTargetType::EcsTarget)
                    .ecs_target(target)
                    .build(),
            ))
        })
        .await
    }

    async fn stop_deployment(&self, id: &str) -> Result<DeploymentAnswer, AwsError> {
        self.call("StopDeployment", id, |s| {
            let cd = &mut s.codedeploy;
            let Some(d) = cd.deployments.get_mut(id) else {
                return Ok(DeploymentAnswer::Conflict("no such deployment".into()));
            };
            if terminal(&d.now.status) {
                return Ok(DeploymentAnswer::Conflict("DeploymentAlreadyCompletedException".into()));
            }
            d.now.status = DeploymentStatus::Stopped;
            d.now.error = Some((ErrorCode::ManualStop, "stopped by request"));
            d.next.clear();
            let r = cd.roll_back(id);
            cd.deployments.get_mut(id).unwrap().rollback_id = Some(r);
            Ok(DeploymentAnswer::Accepted)
        })
        .await
    }

    async fn continue_deployment(&self, id: &str, wait: DeploymentWaitType) -> Result<DeploymentAnswer, AwsError> {
        self.call("ContinueDeployment", id, |s| {
            let Some(d) = s.codedeploy.deployments.get_mut(id) else {
                return Ok(DeploymentAnswer::Conflict("no such deployment".into()));
            };
            if wait != DeploymentWaitType::ReadyWait || d.now.status != DeploymentStatus::Ready {
                return Ok(DeploymentAnswer::Conflict("DeploymentIsNotInReadyStateException".into()));
            }
            if let Some(step) = d.next.pop_front() {
                d.now = step;
            }
            Ok(DeploymentAnswer::Accepted)
        })
        .await
    }
}

impl CodePipeline for FakeAws {
    async fn job_details(&self, job_id: &str) -> Result<Option<crate::ports::JobFacts>, AwsError> {
        self.call("GetJobDetails", job_id, |s| Ok(s.codedeploy.pipeline_jobs.get(job_id).cloned())).await
    }

    async fn put_job_success(&self, job_id: &str, token: Option<String>, _summary: &str) -> Result<(), AwsError> {
        self.call("PutJobSuccessResult", job_id, |s| {
            s.codedeploy.job_results.push((job_id.to_owned(), Ok(token)));
            Ok(())
        })
        .await
    }

    async fn put_job_failure(&self, job_id: &str, message: &str) -> Result<(), AwsError> {
        self.call("PutJobFailureResult", job_id, |s| {
            s.codedeploy.job_results.push((job_id.to_owned(), Err(message.to_owned())));
            Ok(())
        })
        .await
    }
}
