//! Contract strings KEDA users and tools rely on: annotations, labels, the finalizer, defaults.

/// Pauses a ScaledObject or ScaledJob; a value that is not a bool counts as `true`.
pub const PAUSED_ANNOTATION: &str = "autoscaling.keda.sh/paused";
/// Pauses a ScaledObject at the given replica count (presence alone pauses).
pub const PAUSED_REPLICAS_ANNOTATION: &str = "autoscaling.keda.sh/paused-replicas";
/// Stops a ScaledObject scaling in; a value that is not a bool counts as `true`.
pub const PAUSED_SCALE_IN_ANNOTATION: &str = "autoscaling.keda.sh/paused-scale-in";
/// Stops a ScaledObject scaling out; a value that is not a bool counts as `true`.
pub const PAUSED_SCALE_OUT_ANNOTATION: &str = "autoscaling.keda.sh/paused-scale-out";
/// Treats a ScaledObject as active whatever its triggers say.
pub const FORCE_ACTIVATION_ANNOTATION: &str = "autoscaling.keda.sh/force-activation";
/// `"true"` lets a ScaledObject adopt the existing HPA named in its advanced config.
pub const TRANSFER_HPA_OWNERSHIP_ANNOTATION: &str = "scaledobject.keda.sh/transfer-hpa-ownership";
/// On an HPA: `"false"` makes the webhook ignore it in ownership conflict checks.
pub const VALIDATIONS_HPA_OWNERSHIP_ANNOTATION: &str = "validations.keda.sh/hpa-ownership";
/// Comma-separated ScaledObject label keys not copied to the HPA.
pub const HPA_EXCLUDED_LABELS_ANNOTATION: &str = "scaledobject.keda.sh/hpa-excluded-labels";
/// Comma-separated ScaledJob label keys not copied to its Jobs.
pub const JOB_EXCLUDED_LABELS_ANNOTATION: &str = "scaledjob.keda.sh/job-excluded-labels";

/// Label `scaledobject.keda.sh/name=<so>` on the ScaledObject, its HPA and the HPA's metric selector.
pub const SCALED_OBJECT_NAME_LABEL: &str = "scaledobject.keda.sh/name";
/// Label `scaledjob.keda.sh/name=<sj>` on Jobs and their pod templates.
pub const SCALED_JOB_NAME_LABEL: &str = "scaledjob.keda.sh/name";
/// Annotation on Jobs: the ScaledJob generation they were created from.
pub const SCALED_JOB_GENERATION_ANNOTATION: &str = "scaledjob.keda.sh/generation";

/// Finalizer on ScaledObjects, ScaledJobs, TriggerAuthentications and ClusterTriggerAuthentications.
pub const FINALIZER: &str = "finalizer.keda.sh";

/// API group of the four kinds.
pub const GROUP: &str = "keda.sh";
/// API version of the four kinds.
pub const VERSION: &str = "v1alpha1";
/// `group/version` as written in `apiVersion`.
pub const API_VERSION: &str = "keda.sh/v1alpha1";

/// Seconds between two polls of the triggers.
pub const DEFAULT_POLLING_INTERVAL: i32 = 30;
/// Seconds after the last active poll before scaling to zero.
pub const DEFAULT_COOLDOWN_PERIOD: i32 = 300;
/// Seconds after creation before the first scale to zero.
pub const DEFAULT_INITIAL_COOLDOWN_PERIOD: i32 = 0;
/// Minimum replicas of a ScaledObject, and minimum Jobs of a ScaledJob.
pub const DEFAULT_MIN_REPLICA_COUNT: i32 = 0;
/// Maximum replicas of a ScaledObject, and maximum Jobs of a ScaledJob.
pub const DEFAULT_MAX_REPLICA_COUNT: i32 = 100;
/// Smallest `minReplicas` KEDA gives the HPA (an HPA cannot have 0).
pub const DEFAULT_HPA_MIN_REPLICAS: i32 = 1;
/// Finished Jobs a ScaledJob keeps, successful and failed alike.
pub const DEFAULT_JOBS_HISTORY_LIMIT: i32 = 100;
/// Prefix of the name of the HPA KEDA creates: `keda-hpa-<scaledobject>`.
pub const HPA_NAME_PREFIX: &str = "keda-hpa-";
/// Activation target when none is given; activity is `value > target`.
pub const DEFAULT_ACTIVATION_TARGET: &str = "0";
/// Name of the composite metric used when `scalingModifiers` are set.
pub const COMPOSITE_METRIC_NAME: &str = "composite-metric";
/// Default `apiVersion` of a scale target.
pub const DEFAULT_SCALE_TARGET_API_VERSION: &str = "apps/v1";
/// Default `kind` of a scale target.
pub const DEFAULT_SCALE_TARGET_KIND: &str = "Deployment";
/// Default Vault service account token path for `kubernetes` authentication.
pub const DEFAULT_VAULT_SERVICE_ACCOUNT_TOKEN_PATH: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// Default secret version read from GCP Secret Manager.
pub const DEFAULT_GCP_SECRET_VERSION: &str = "latest";

// ------------------------------------------------------------------------------------------------
// Ebb extensions (not KEDA's). KEDA ignores unknown annotations, so a manifest carrying these still
// means the same to KEDA; without them Ebb behaves exactly as KEDA does.

/// On a ScaledJob: opts in to task data. The value names the trigger (its `name`, or its index such
/// as `"0"`) whose queue hands out messages; each Job gets the one message it was created for.
pub const TASK_DATA_TRIGGER_ANNOTATION: &str = "taskdata.ebb.dev/trigger";
/// On a ScaledJob with task data: the queue / list / stream on the same broker that receives a
/// message whose Jobs failed `max-attempts` times (or whose payload is too large). Without it such
/// a message is dropped with a Warning.
pub const TASK_DATA_DEAD_LETTER_ANNOTATION: &str = "taskdata.ebb.dev/dead-letter";
/// On a ScaledJob with task data: failed Jobs per message before it is dead-lettered (≥ 1).
pub const TASK_DATA_MAX_ATTEMPTS_ANNOTATION: &str = "taskdata.ebb.dev/max-attempts";
/// Failed Jobs per message before dead-lettering when the annotation is absent.
pub const DEFAULT_TASK_DATA_MAX_ATTEMPTS: u32 = 3;
/// Env var holding the message payload (when it fits `ebb_core::task::MAX_ENV_BYTES`).
pub const TASK_DATA_ENV: &str = "KEDA_TASK_DATA";
/// Env var naming the file holding the payload (larger payloads, or bytes that are not text).
pub const TASK_DATA_FILE_ENV: &str = "KEDA_TASK_DATA_FILE";
/// Env var holding the message's id (stable across redeliveries where the broker has one).
pub const TASK_ID_ENV: &str = "KEDA_TASK_ID";
/// Env var naming where the message came from, e.g. `rabbitmq/<vhost>/<queue>` (no credentials).
pub const TASK_SOURCE_ENV: &str = "KEDA_TASK_SOURCE";
/// The file a Job reads a large payload from: key `data` of a Secret mounted at `/var/run/keda-task`.
pub const TASK_DATA_FILE_PATH: &str = "/var/run/keda-task/data";
/// Header / attribute / field carrying the reason on a dead-lettered message.
pub const TASK_FAILURE_REASON_HEADER: &str = "ebb-failure-reason";
