//! Request paths parsed into what they address: `/apis/<group>/<version>/namespaces/<ns>/<plural>/<name>/<sub>`.

use std::sync::Arc;

use crate::resource::{Registry, ResourceInfo};
use crate::status::ApiError;

/// A subresource the server implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subresource {
    Status,
    Scale,
}

/// The resource, namespace, name and subresource a request addresses.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) info: Arc<ResourceInfo>,
    pub(crate) version: String,
    /// "" for cluster-scoped resources or a list across all namespaces.
    pub(crate) namespace: String,
    pub(crate) name: Option<String>,
    pub(crate) sub: Option<Subresource>,
}

impl Target {
    /// `deployments` or `deployments/scale`, as request counters and faults name it.
    pub(crate) fn resource_label(&self) -> String {
        match self.sub {
            None => self.info.plural.clone(),
            Some(Subresource::Status) => format!("{}/status", self.info.plural),
            Some(Subresource::Scale) => format!("{}/scale", self.info.plural),
        }
    }

    pub(crate) fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }
}

/// What a path is: discovery, a resource, or something else the server answers.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`
    Resources {
        group: String,
        version: String,
    },
    Resource(Target),
    Version,
    Health,
}

/// Parse a path against the registry; unknown resources are 404 like the real server's.
pub(crate) fn parse(path: &str, registry: &Registry) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["healthz" | "readyz" | "livez", ..] => return Ok(Route::Health),
        ["api"] => return Ok(Route::CoreVersions),
        ["apis"] => return Ok(Route::Groups),
        ["apis", group] => return Ok(Route::Group(group.to_string())),
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::path_not_found()),
    };
    if rest.is_empty() {
        return Ok(Route::Resources {
            group: group.into(),
            version: version.into(),
        });
    }
    let find = |plural: &str| {
        registry
            .find(group, version, plural)
            .ok_or_else(ApiError::path_not_found)
    };
    let sub = |s: &str| match s {
        "status" => Ok(Subresource::Status),
        "scale" => Ok(Subresource::Scale),
        _ => Err(ApiError::path_not_found()),
    };
    let target = |info: Arc<ResourceInfo>, ns: &str, name: Option<&str>, s: Option<&str>| {
        let sub = s.map(sub).transpose()?;
        if sub == Some(Subresource::Status) && !info.status
            || sub == Some(Subresource::Scale) && info.scale.is_none()
        {
            return Err(ApiError::path_not_found());
        }
        Ok(Route::Resource(Target {
            info,
            version: version.to_string(),
            namespace: ns.to_string(),
            name: name.map(str::to_string),
            sub,
        }))
    };
    match rest {
        // `/namespaces/<ns>/<plural>...` addresses namespaced resources, except the namespace's own subresources.
        ["namespaces", ns, plural, tail @ ..]
            if group.is_empty()
                && (*plural == "status" || *plural == "finalize")
                && tail.is_empty() =>
        {
            target(
                find("namespaces")?,
                "",
                Some(ns),
                Some(plural).filter(|p| **p == "status").copied(),
            )
        }
        ["namespaces", ns, plural, tail @ ..] => {
            let info = find(plural)?;
            if !info.namespaced {
                return Err(ApiError::path_not_found());
            }
            match tail {
                [] => target(info, ns, None, None),
                [name] => target(info, ns, Some(name), None),
                [name, s] => target(info, ns, Some(name), Some(s)),
                _ => Err(ApiError::path_not_found()),
            }
        }
        [plural, tail @ ..] => {
            let info = find(plural)?;
            // A namespaced resource without a namespace is a list or watch across all namespaces.
            if info.namespaced && !tail.is_empty() {
                return Err(ApiError::path_not_found());
            }
            match tail {
                [] => target(info, "", None, None),
                [name] => target(info, "", Some(name), None),
                [name, s] => target(info, "", Some(name), Some(s)),
                _ => Err(ApiError::path_not_found()),
            }
        }
        [] => Err(ApiError::path_not_found()),
    }
}
