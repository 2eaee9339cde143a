//! Pure and one-call preflight of an ECS-native service deployment: what ECS would only find mid-rollout,
//! refused before any change.

use aws_sdk_ecs::types::Service;

use super::{Kind, IN_FLIGHT};
use crate::error::DeployError;
use crate::ports::Ecs;
use crate::request::ServiceRef;
use crate::verdict::primary;

/// ECS's limit on every bake time, minutes.
const MAX_BAKE_MINUTES: i32 = 1440;

/// Whether `value` is a multiple of 0.1 (ECS's step for traffic percentages).
pub(super) fn tenths(value: f64) -> bool {
    ((value * 10.0).round() - value * 10.0).abs() < 1e-6
}

/// Pure preflight: what ECS would only find mid-rollout, refused before any change. `name` is the service
/// as errors name it. Errors: `BakeTimeRequired` (BLUE_GREEN without `bakeTimeInMinutes`),
/// `AdvancedConfigurationRequired` (a load balancer without alternate target group, production listener rule
/// or role, on a service without Service Connect), `TrafficShiftOutOfRange` (a bake outside 0–1440 minutes,
/// `stepPercent` outside 3.0–100.0, `canaryPercent` outside 0.1–100.0, either not in steps of 0.1).
pub fn refusals(service: &Service, kind: Kind, name: &str) -> Vec<DeployError> {
    let mut failures = Vec::new();
    let config = service.deployment_configuration();
    let out_of_range = |setting: &str, value: String, range: &str| DeployError::TrafficShiftOutOfRange {
        service: name.to_owned(),
        strategy: kind.as_str().to_owned(),
        setting: setting.to_owned(),
        value,
        range: range.to_owned(),
    };
    let bake_range = "0 to 1440 minutes";
    match config.and_then(|c| c.bake_time_in_minutes()) {
        None if kind == Kind::BlueGreen => failures.push(DeployError::BakeTimeRequired { service: name.to_owned() }),
        Some(b) if !(0..=MAX_BAKE_MINUTES).contains(&b) => {
            failures.push(out_of_range("bakeTimeInMinutes", b.to_string(), bake_range))
        }
        _ => {}
    }
    if kind == Kind::Linear {
        if let Some(linear) = config.and_then(|c| c.linear_configuration()) {
            if let Some(p) = linear.step_percent() {
                if !(3.0..=100.0).contains(&p) || !tenths(p) {
                    failures.push(out_of_range(
                        "linearConfiguration.stepPercent",
                        p.to_string(),
                        "3.0 to 100.0 in steps of 0.1",
                    ));
                }
            }
            if let Some(b) = linear.step_bake_time_in_minutes() {
                if !(0..=MAX_BAKE_MINUTES).contains(&b) {
                    failures.push(out_of_range("linearConfiguration.stepBakeTimeInMinutes", b.to_string(), bake_range));
                }
            }
        }
    }
    if kind == Kind::Canary {
        if let Some(canary) = config.and_then(|c| c.canary_configuration()) {
            if let Some(p) = canary.canary_percent() {
                if !(0.1..=100.0).contains(&p) || !tenths(p) {
                    failures.push(out_of_range(
                        "canaryConfiguration.canaryPercent",
                        p.to_string(),
                        "0.1 to 100.0 in steps of 0.1",
                    ));
                }
            }
            if let Some(b) = canary.canary_bake_time_in_minutes() {
                if !(0..=MAX_BAKE_MINUTES).contains(&b) {
                    failures.push(out_of_range(
                        "canaryConfiguration.canaryBakeTimeInMinutes",
                        b.to_string(),
                        bake_range,
                    ));
                }
            }
        }
    }
    let service_connect = primary(service).and_then(|d| d.service_connect_configuration()).is_some_and(|sc| sc.enabled);
    if !service_connect {
        for lb in service.load_balancers() {
            let advanced = lb.advanced_configuration();
            let missing: Vec<&str> = [
                ("alternateTargetGroupArn", advanced.and_then(|a| a.alternate_target_group_arn())),
                ("productionListenerRule", advanced.and_then(|a| a.production_listener_rule())),
                ("roleArn", advanced.and_then(|a| a.role_arn())),
            ]
            .into_iter()
            .filter(|(_, v)| v.is_none_or(str::is_empty))
            .map(|(k, _)| k)
            .collect();
            if !missing.is_empty() {
                failures.push(DeployError::AdvancedConfigurationRequired {
                    service: name.to_owned(),
                    strategy: kind.as_str().to_owned(),
                    target_group: lb.target_group_arn().or(lb.load_balancer_name()).unwrap_or("unknown").to_owned(),
                    missing: missing.join(", "),
                });
            }
        }
    }
    failures
}

/// Refuses to start while a service deployment of the service is still moving (ListServiceDeployments,
/// one call): ECS would queue or reject ours. `DeploymentInProgress` names it.
pub async fn refuse_in_flight<E: Ecs>(ecs: &E, at: &ServiceRef) -> Result<(), DeployError> {
    let moving = ecs.list_service_deployments(&at.cluster, &at.service, &IN_FLIGHT).await?;
    let Some(sd) = moving.first() else { return Ok(()) };
    Err(DeployError::DeploymentInProgress {
        service: at.service.to_string(),
        holder: format!(
            "ECS service deployment {} ({})",
            sd.service_deployment_arn().unwrap_or("unknown"),
            sd.status().map_or("unknown", |s| s.as_str())
        ),
        since: sd.created_at().map_or_else(|| "unknown".into(), |t| t.to_string()),
    })
}
