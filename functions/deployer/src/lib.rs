//! ecs-deployer: ships an image version to an ECS service, follows the rollout and rolls back when it fails.
//! `main.rs` wires this library to the Lambda runtime; everything that decides lives here. The modules, in
//! pipeline order (`docs/ARCHITECTURE.md` draws it):

pub mod apply; //        5. RegisterTaskDefinition, then the strategy's start; cleanup after a failed start
pub mod fanout; //       many targets of one request, all_or_nothing
pub mod follow; //       6. I/O: read the rollout until a verdict or the deadline
pub mod lock; //         around 3–8: one lease per service
pub mod pipeline;
pub mod plan; //         4. pure: the register request that clones the base with the new image
pub mod preflight; //    3. one parallel round of checks; the rollout strategy chosen
pub mod request; //      2. the request resolved once into typed targets; the allow-list
pub mod result; //       9. results become the answer, or an error carrying them
pub mod revisions; //    history, cleanup, redeploying a revision, diff
pub mod rollback; //     8. the one way back, the one deregistration policy; the rollback action
pub mod rollout; //      a rollout as data: RolloutState, decide, drive
pub mod status; //       the status action
pub mod strategy; //     5. how the service rolls out: start, follow, restore, progress (rolling update)
pub mod trigger; //      1. what woke the function: the Lambda boundary, EventBridge and CodeBuild events
pub mod verdict; //      7. pure: done, failed, rolled back by ECS, replaced; what may be deregistered //     the Deployer: composes the stages

pub mod config; //       the environment, read once at cold start
pub mod error; //        DeployError: one stable code per failure
pub mod notify; //       who hears about deploys: Slack, SNS, nobody
pub mod ports; //        the seams: Ecs, Lock, Clock with their SDK and no-op adapters

#[cfg(any(test, feature = "test-util"))]
pub mod testing;
