//! Local mode: the same manifests scale local processes. (Not built yet.)
