//! Reasons of the Kubernetes Events KEDA emits (keda-compat §6.2), as named `pub const`s.

/// Normal: ScaledObject reconciled and ready.
pub const SCALED_OBJECT_READY: &str = "ScaledObjectReady";
/// Normal: ScaledJob reconciled and ready.
pub const SCALED_JOB_READY: &str = "ScaledJobReady";
/// Normal: ScaledObject paused.
pub const SCALED_OBJECT_PAUSED: &str = "ScaledObjectPaused";
/// Normal: ScaledObject unpaused.
pub const SCALED_OBJECT_UNPAUSED: &str = "ScaledObjectUnpaused";
/// Normal: fallback replicas took over.
pub const SCALED_OBJECT_FALLBACK_ACTIVATED: &str = "ScaledObjectFallbackActivated";
/// Normal: fallback ended.
pub const SCALED_OBJECT_FALLBACK_DEACTIVATED: &str = "ScaledObjectFallbackDeactivated";
/// Normal: ScaledJob paused.
pub const SCALED_JOB_PAUSED: &str = "ScaledJobPaused";
/// Normal: ScaledJob unpaused.
pub const SCALED_JOB_UNPAUSED: &str = "ScaledJobUnpaused";
/// Normal: deleting Jobs of an older ScaledJob generation started.
pub const SCALED_JOB_ROLLOUT_CLEANUP_STARTED: &str = "ScaledJobRolloutCleanupStarted";
/// Normal: deleting Jobs of an older ScaledJob generation finished.
pub const SCALED_JOB_ROLLOUT_CLEANUP_COMPLETED: &str = "ScaledJobRolloutCleanupCompleted";
/// Normal: ScaledJob became active.
pub const SCALED_JOB_ACTIVE: &str = "ScaledJobActive";
/// Normal: ScaledJob became inactive.
pub const SCALED_JOB_INACTIVE: &str = "ScaledJobInactive";
/// Normal: scalers were built and the scale loop started.
pub const KEDA_SCALERS_STARTED: &str = "KEDAScalersStarted";
/// Normal: the scale loop stopped.
pub const KEDA_SCALERS_STOPPED: &str = "KEDAScalersStopped";
/// Normal: scale target scaled up from zero.
pub const KEDA_SCALE_TARGET_ACTIVATED: &str = "KEDAScaleTargetActivated";
/// Normal: scale target scaled down to zero.
pub const KEDA_SCALE_TARGET_DEACTIVATED: &str = "KEDAScaleTargetDeactivated";
/// Normal: Jobs were created for a ScaledJob.
pub const KEDA_JOBS_CREATED: &str = "KEDAJobsCreated";
/// Normal or Warning: informational scaler notice (deprecations, unexpected parameters).
pub const KEDA_SCALER_INFO: &str = "KEDAScalerInfo";
/// Normal: a TriggerAuthentication was added.
pub const TRIGGER_AUTHENTICATION_ADDED: &str = "TriggerAuthenticationAdded";
/// Normal: a ClusterTriggerAuthentication was added.
pub const CLUSTER_TRIGGER_AUTHENTICATION_ADDED: &str = "ClusterTriggerAuthenticationAdded";
/// Normal: a TriggerAuthentication was deleted.
pub const TRIGGER_AUTHENTICATION_DELETED: &str = "TriggerAuthenticationDeleted";
/// Normal: a ClusterTriggerAuthentication was deleted.
pub const CLUSTER_TRIGGER_AUTHENTICATION_DELETED: &str = "ClusterTriggerAuthenticationDeleted";
/// Normal: a TriggerAuthentication was updated.
///
/// KEDA emits `ClusterTriggerAuthenticationUpdated` for namespaced updates too (keda-compat §9.9);
/// this constant names the reason that would be right, callers choose which to emit.
pub const TRIGGER_AUTHENTICATION_UPDATED: &str = "TriggerAuthenticationUpdated";
/// Normal: a ClusterTriggerAuthentication (or, in KEDA, any TriggerAuthentication) was updated.
pub const CLUSTER_TRIGGER_AUTHENTICATION_UPDATED: &str = "ClusterTriggerAuthenticationUpdated";

/// Warning: ScaledObject reconcile failed.
pub const SCALED_OBJECT_CHECK_FAILED: &str = "ScaledObjectCheckFailed";
/// Warning: ScaledJob reconcile failed.
pub const SCALED_JOB_CHECK_FAILED: &str = "ScaledJobCheckFailed";
/// Warning: writing a ScaledObject failed.
pub const SCALED_OBJECT_UPDATE_FAILED: &str = "ScaledObjectUpdateFailed";
/// Warning: writing a ScaledJob failed.
pub const SCALED_JOB_UPDATE_FAILED: &str = "ScaledJobUpdateFailed";
/// Warning in KEDA's code (Normal in its docs): ScaledObject deleted.
pub const SCALED_OBJECT_DELETED: &str = "ScaledObjectDeleted";
/// Warning in KEDA's code (Normal in its docs): ScaledJob deleted.
pub const SCALED_JOB_DELETED: &str = "ScaledJobDeleted";
/// Warning: deleting Jobs of an older ScaledJob generation failed.
pub const SCALED_JOB_ROLLOUT_CLEANUP_FAILED: &str = "ScaledJobRolloutCleanupFailed";
/// Warning: pausing a ScaledJob failed.
pub const SCALED_JOB_PAUSE_FAILED: &str = "ScaledJobPauseFailed";
/// Warning: a scaler could not be built or measured.
pub const KEDA_SCALER_FAILED: &str = "KEDAScalerFailed";
/// Warning: a scalingModifiers metric source failed.
pub const KEDA_METRIC_SOURCE_FAILED: &str = "KEDAMetricSourceFailed";
/// Warning: scaling up from zero failed.
pub const KEDA_SCALE_TARGET_ACTIVATION_FAILED: &str = "KEDAScaleTargetActivationFailed";
/// Warning: scaling down to zero failed.
pub const KEDA_SCALE_TARGET_DEACTIVATION_FAILED: &str = "KEDAScaleTargetDeactivationFailed";
/// Warning: creating a Job failed.
pub const KEDA_JOB_CREATE_FAILED: &str = "KEDAJobCreateFailed";
/// Warning: a TriggerAuthentication is invalid.
pub const TRIGGER_AUTHENTICATION_FAILED: &str = "TriggerAuthenticationFailed";
/// Warning: a ClusterTriggerAuthentication is invalid.
pub const CLUSTER_TRIGGER_AUTHENTICATION_FAILED: &str = "ClusterTriggerAuthenticationFailed";
