//! The Kubernetes operator: controllers, scale loops, HPA and Job management, auth resolution. (Not built yet.)
