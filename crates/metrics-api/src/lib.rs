//! The external.metrics.k8s.io/v1beta1 server. (Not built yet.)
