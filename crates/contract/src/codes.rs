//! Every stable error code of both functions in one table: its name (the Lambda `errorType` and the
//! `error.code` of a JSON body), its HTTP status, and whether the caller caused it. The front maps a
//! deployer error to HTTP with this table, and the deployer picks its log level with it, so the two can
//! never disagree.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($($(#[$doc:meta])* $code:ident => $status:literal,)*) => {
        /// A stable error code. Scripts match on its name; new codes may be added, none is renamed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Code {
            $($(#[$doc])* $code,)*
        }

        impl Code {
            /// Every code, in the table's order.
            pub const ALL: &'static [Code] = &[$(Code::$code,)*];

            /// The code's name, as scripts see it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }

            /// The HTTP status the front door answers with.
            pub fn http_status(self) -> u16 {
                match self {
                    $(Code::$code => $status,)*
                }
            }
        }
    };
}

codes! {
    /// The request is malformed: bad JSON, an unknown field, a missing or misplaced value, a bad name.
    InvalidRequest => 400,
    /// The version is not an image tag or a sha256 digest.
    InvalidVersion => 400,
    /// No valid credentials (front door).
    Unauthorized => 401,
    /// Credentials shown but wrong, or a request that is not this caller's to make (front door).
    Forbidden => 403,
    /// The service is not on an allow-list.
    NotAllowed => 403,
    /// No such route (front door).
    NotFound => 404,
    ClusterNotFound => 404,
    ServiceNotFound => 404,
    RepositoryNotFound => 404,
    TaskDefinitionNotFound => 404,
    /// A CODE_DEPLOY service has no CodeDeploy deployment group: none configured or named, none by the
    /// console's names (`AppECS-<cluster>-<service>`/`DgpECS-<cluster>-<service>`), none whose `ecsServices`
    /// names the service.
    DeploymentGroupNotFound => 404,
    /// The CodeDeploy deployment configuration named (request or config) does not exist.
    DeploymentConfigNotFound => 404,
    /// The route takes another method (front door).
    MethodNotAllowed => 405,
    /// Another deploy holds the service's lock, or ECS shows a rollout this deployer did not start.
    DeploymentInProgress => 409,
    ClusterNotActive => 409,
    ServiceNotActive => 409,
    /// The service's deployment controller has no rollout strategy here: EXTERNAL (its task sets own the
    /// task definition) or one this deployer does not know. ECS and CODE_DEPLOY are supported.
    UnsupportedDeploymentController => 409,
    /// The service's `deploymentConfiguration.strategy` has no rollout strategy here.
    UnsupportedDeploymentStrategy => 409,
    /// An ECS-native BLUE_GREEN service has no `bakeTimeInMinutes`: ECS would refuse or roll back mid-way.
    BakeTimeRequired => 409,
    /// An ECS-native BLUE_GREEN, LINEAR or CANARY service has a load balancer without `advancedConfiguration`
    /// (alternate target group, production listener rule, role) and no Service Connect: ECS cannot shift traffic.
    AdvancedConfigurationRequired => 409,
    /// `linearConfiguration` or `canaryConfiguration` is missing or outside ECS's ranges.
    TrafficShiftOutOfRange => 409,
    /// `continue` or `reject` found no lifecycle hook awaiting action on the service's current deployment.
    NoHookAwaitingAction => 409,
    /// A CODE_DEPLOY service has no load balancer: its AppSpec names the container and port that take traffic.
    LoadBalancerRequired => 409,
    /// ECR lists the image but does not report it ACTIVE (ARCHIVED, or being restored): ECS cannot pull it.
    ImageNotPullable => 409,
    /// A rollback names a revision of another task-definition family than the service's.
    RollbackOutsideFamily => 403,
    /// A rollback names a revision of the service's family that neither this deployer registered, nor the
    /// running revision records as the previous one, nor a deployment of the service uses.
    UntrustedRollbackTarget => 403,
    /// An EventBridge event from another account or region, or a CodeBuild project not configured.
    UntrustedEvent => 403,
    ImageNotFound => 422,
    NoTargetContainer => 422,
    NoRollbackTarget => 422,
    /// The function's own configuration is missing or malformed.
    NotConfigured => 500,
    /// A failure inside the function that no input explains.
    Internal => 500,
    /// Reserved: the code of an empty list of preflight failures, which the deployer never builds (one failure
    /// is answered with its own code, several with the first one's and each in `details.failures`).
    PreflightFailed => 422,
    AwsThrottled => 502,
    AwsAccessDenied => 502,
    AwsCallFailed => 502,
    /// The new revision was registered but UpdateService failed.
    UpdateServiceFailed => 502,
    /// The new revision was registered but CodeDeploy's CreateDeployment failed.
    CodeDeployFailed => 502,
    /// Some targets of a multi-target request failed.
    TargetsFailed => 502,
    /// The rollout failed and the service was put back on the revision before.
    RolledBack => 502,
    /// The rollout failed and was not rolled back.
    DeploymentFailed => 502,
    /// Putting the service back failed.
    RollbackFailed => 502,
}

impl Code {
    /// The code with this name.
    pub fn parse(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// True when the caller caused the error (4xx), false when AWS or the function did (5xx).
    pub fn is_caller_fault(self) -> bool {
        self.http_status() < 500
    }
}

/// The HTTP status of any code name: this table's, or 502 for a name it does not know (Lambda's own
/// errors such as `Sandbox.Timedout`, or a code newer than this front door).
pub fn http_status(name: &str) -> u16 {
    Code::parse(name).map_or(502, Code::http_status)
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_status() {
        let cases = [
            ("InvalidRequest", 400),
            ("InvalidVersion", 400),
            ("Unauthorized", 401),
            ("Forbidden", 403),
            ("NotAllowed", 403),
            ("NotFound", 404),
            ("ClusterNotFound", 404),
            ("ServiceNotFound", 404),
            ("RepositoryNotFound", 404),
            ("TaskDefinitionNotFound", 404),
            ("MethodNotAllowed", 405),
            ("DeploymentInProgress", 409),
            ("ClusterNotActive", 409),
            ("ServiceNotActive", 409),
            ("UnsupportedDeploymentController", 409),
            ("UnsupportedDeploymentStrategy", 409),
            ("ImageNotPullable", 409),
            ("BakeTimeRequired", 409),
            ("AdvancedConfigurationRequired", 409),
            ("TrafficShiftOutOfRange", 409),
            ("NoHookAwaitingAction", 409),
            ("RollbackOutsideFamily", 403),
            ("UntrustedRollbackTarget", 403),
            ("UntrustedEvent", 403),
            ("ImageNotFound", 422),
            ("NoTargetContainer", 422),
            ("NoRollbackTarget", 422),
            ("NotConfigured", 500),
            ("Internal", 500),
            ("AwsThrottled", 502),
            ("AwsAccessDenied", 502),
            ("AwsCallFailed", 502),
            ("UpdateServiceFailed", 502),
            ("RolledBack", 502),
            ("DeploymentFailed", 502),
            ("RollbackFailed", 502),
            ("TargetsFailed", 502),
            ("Sandbox.Timedout", 502),
            ("SomethingNew", 502),
        ];
        for (code, status) in cases {
            assert_eq!(http_status(code), status, "{code}");
        }
    }

    #[test]
    fn names_round_trip_and_faults_follow_the_status() {
        for code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(*code));
            assert_eq!(code.is_caller_fault(), code.http_status() < 500, "{code}");
        }
        assert!(Code::NotAllowed.is_caller_fault() && !Code::RolledBack.is_caller_fault());
    }
}
