//! keda.sh/v1alpha1 API types: ScaledObject, ScaledJob, TriggerAuthentication, ClusterTriggerAuthentication.
