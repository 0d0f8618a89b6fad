//! deploy/ and charts/ebb: every manifest parses, RBAC is no wider than KEDA's, the workload runs
//! as non-root with a read-only root filesystem, KEDA's Service/APIService/webhook names are kept,
//! and the Helm chart only references values it defines.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use ebb_manifest::load_paths;
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn deploy() -> Vec<Value> {
    // deploy/alerts holds Prometheus rule files, not Kubernetes objects (see telemetry tests).
    let paths: Vec<PathBuf> = std::fs::read_dir(repo().join("deploy"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("alerts"))
        .collect();
    let loaded = load_paths(&paths);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    loaded
        .documents
        .iter()
        .map(|d| d.value().into_owned())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in deploy/"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// (apiGroup, resource) -> verbs KEDA's ClusterRole grants (keda-compat.md Appendix B).
fn keda_cluster_role() -> HashMap<(String, String), BTreeSet<String>> {
    let crud = "create delete get list patch update watch";
    let table: &[(&str, &str, &str)] = &[
        (
            "",
            "configmaps configmaps/status external pods secrets services",
            "get list watch",
        ),
        ("", "limitranges serviceaccounts", "list watch"),
        ("", "events", "create patch"),
        ("events.k8s.io", "events", "create patch"),
        ("*", "*", "get"),
        ("*", "*/scale", "get list patch update watch"),
        (
            "admissionregistration.k8s.io",
            "validatingwebhookconfigurations",
            "get list patch update watch",
        ),
        (
            "apiregistration.k8s.io",
            "apiservices",
            "get list patch update watch",
        ),
        ("apps", "deployments replicasets statefulsets", "list watch"),
        ("autoscaling", "horizontalpodautoscalers", crud),
        ("batch", "jobs", crud),
        ("discovery.k8s.io", "endpointslices", "get list watch"),
        (
            "keda.sh",
            "scaledobjects scaledobjects/status scaledobjects/finalizers scaledjobs scaledjobs/status \
             scaledjobs/finalizers triggerauthentications triggerauthentications/status \
             clustertriggerauthentications clustertriggerauthentications/status",
            "get list patch update watch",
        ),
    ];
    let mut map = HashMap::new();
    for (group, resources, verbs) in table {
        for r in resources.split_whitespace() {
            map.insert(
                ((*group).to_owned(), r.to_owned()),
                verbs.split_whitespace().map(String::from).collect(),
            );
        }
    }
    map
}

fn assert_rules_within(
    rules: &Value,
    allowed: &HashMap<(String, String), BTreeSet<String>>,
    what: &str,
) {
    for rule in rules.as_array().unwrap() {
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                let verbs: BTreeSet<String> = strings(&rule["verbs"]).into_iter().collect();
                let granted = allowed
                    .get(&(group.clone(), resource.clone()))
                    .unwrap_or_else(|| {
                        panic!("{what} grants {group}/{resource}, which KEDA does not")
                    });
                let extra: Vec<_> = verbs.difference(granted).collect();
                assert!(
                    extra.is_empty(),
                    "{what} grants {extra:?} on {group}/{resource} beyond KEDA's {granted:?}"
                );
            }
        }
    }
}

#[test]
fn the_operator_cluster_role_is_no_wider_than_kedas() {
    let docs = deploy();
    let role = find(&docs, "ClusterRole", "keda-operator");
    assert_rules_within(
        &role["rules"],
        &keda_cluster_role(),
        "ClusterRole keda-operator",
    );
    // And nothing KEDA's role has is missing, so no feature silently loses a permission.
    let granted: BTreeSet<(String, String)> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            let groups = strings(&r["apiGroups"]);
            strings(&r["resources"])
                .into_iter()
                .flat_map(move |res| groups.clone().into_iter().map(move |g| (g, res.clone())))
        })
        .collect();
    // `external` is a KEDA oddity (no such core resource); Ebb does not need it.
    let missing: Vec<_> = keda_cluster_role()
        .into_keys()
        .filter(|k| !granted.contains(k) && k.1 != "external")
        .collect();
    assert!(missing.is_empty(), "missing {missing:?}");
}

#[test]
fn the_namespaced_role_covers_only_the_cert_secret_and_the_lease() {
    let docs = deploy();
    let role = find(&docs, "Role", "keda-operator");
    assert_eq!(role["metadata"]["namespace"], "keda");
    let crud: BTreeSet<String> = "create delete get list patch update watch"
        .split(' ')
        .map(String::from)
        .collect();
    let allowed = HashMap::from([
        (("".to_owned(), "secrets".to_owned()), crud.clone()),
        (
            ("coordination.k8s.io".to_owned(), "leases".to_owned()),
            crud,
        ),
    ]);
    assert_rules_within(&role["rules"], &allowed, "Role keda-operator");
}

#[test]
fn bindings_are_the_ones_every_aggregated_api_server_needs() {
    let docs = deploy();
    let roles: BTreeSet<String> = docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRoleBinding" || d["kind"] == "RoleBinding")
        .map(|d| d["roleRef"]["name"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = [
        "keda-operator",
        "system:auth-delegator",
        "extension-apiserver-authentication-reader",
        "keda-external-metrics-reader",
    ]
    .map(String::from)
    .into();
    assert_eq!(roles, expected);
    for d in docs
        .iter()
        .filter(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role")
    {
        for rule in d["rules"].as_array().unwrap() {
            let verbs = strings(&rule["verbs"]);
            for forbidden in ["*", "escalate", "bind", "impersonate"] {
                assert!(
                    !verbs.iter().any(|v| v == forbidden),
                    "{} grants {forbidden}",
                    d["metadata"]["name"]
                );
            }
        }
    }
}

#[test]
fn the_operator_runs_non_root_with_a_read_only_root_filesystem_in_two_replicas() {
    let docs = deploy();
    let d = find(&docs, "Deployment", "keda-operator");
    assert_eq!(d["spec"]["replicas"], 2);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_ne!(pod["securityContext"]["runAsUser"], 0);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"][0], "ALL");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["resources"]["requests"]["memory"], "100Mi");
    let pdb = find(&docs, "PodDisruptionBudget", "keda-operator");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
}

#[test]
fn kedas_service_apiservice_and_webhook_names_are_kept() {
    let docs = deploy();
    for name in [
        "keda-operator",
        "keda-operator-metrics-apiserver",
        "keda-admission-webhooks",
    ] {
        assert_eq!(
            find(&docs, "Service", name)["spec"]["selector"]["app"],
            "keda-operator"
        );
    }
    let api = find(&docs, "APIService", "v1beta1.external.metrics.k8s.io");
    assert_eq!(
        api["spec"]["service"]["name"],
        "keda-operator-metrics-apiserver"
    );
    let hook = find(&docs, "ValidatingWebhookConfiguration", "keda-admission");
    let paths: Vec<&str> = hook["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            assert_eq!(w["failurePolicy"], "Ignore");
            assert_eq!(
                w["clientConfig"]["service"]["name"],
                "keda-admission-webhooks"
            );
            w["clientConfig"]["service"]["path"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        paths,
        [
            "/validate-keda-sh-v1alpha1-scaledobject",
            "/validate-keda-sh-v1alpha1-scaledjob",
            "/validate-keda-sh-v1alpha1-triggerauthentication",
            "/validate-keda-sh-v1alpha1-clustertriggerauthentication"
        ]
    );
}

#[test]
fn the_kustomization_lists_every_manifest_in_deploy() {
    let dir = repo().join("deploy");
    let k: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
            .unwrap();
    let listed: BTreeSet<String> = strings(&k["resources"]).into_iter().collect();
    let mut present = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            present.insert(name);
        }
    }
    for entry in std::fs::read_dir(dir.join("crds")).unwrap() {
        present.insert(format!(
            "crds/{}",
            entry.unwrap().file_name().into_string().unwrap()
        ));
    }
    assert_eq!(listed, present);
}

/// Every `.Values.a.b` a template reads must exist in values.yaml: a typo would render as empty.
#[test]
fn the_chart_references_only_values_it_defines() {
    let chart = repo().join("charts/ebb");
    let values: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart.join("values.yaml")).unwrap())
            .unwrap();
    let meta: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(chart.join("Chart.yaml")).unwrap())
            .unwrap();
    assert_eq!(meta["name"], "ebb");
    assert!(
        chart
            .join("crds")
            .join("keda.sh_scaledobjects.yaml")
            .is_file(),
        "charts/ebb/crds must hold the CRDs"
    );
    let mut checked = 0;
    for entry in std::fs::read_dir(chart.join("templates")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, _) in text.match_indices(".Values.") {
            let rest = &text[i + ".Values.".len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(rest.len());
            let key = rest[..end].trim_end_matches('.');
            let mut node = &values;
            for part in key.split('.') {
                node = node.get(part).unwrap_or_else(|| {
                    panic!("{} reads .Values.{key}, not in values.yaml", path.display())
                });
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "only {checked} references found");
}

/// The chart's RBAC rules are deploy/'s, so the chart is no wider than KEDA's either.
#[test]
fn the_chart_grants_the_same_rules_as_deploy() {
    let text = std::fs::read_to_string(repo().join("charts/ebb/templates/rbac.yaml")).unwrap();
    // Drop templated lines; the rules themselves carry no template expressions.
    let plain: String = text
        .lines()
        .filter(|l| !l.contains("{{"))
        .map(|l| format!("{l}\n"))
        .collect();
    let loaded = ebb_manifest::parse_text("rbac.yaml", &plain);
    let rules = |docs: &[Value], kind: &str| -> Vec<Value> {
        docs.iter()
            .filter(|d| d["kind"] == kind)
            .map(|d| d["rules"].clone())
            .collect()
    };
    let chart: Vec<Value> = loaded
        .documents
        .iter()
        .map(|d| d.value().into_owned())
        .collect();
    assert!(!chart.is_empty(), "{:?}", loaded.errors);
    let docs = deploy();
    assert_eq!(rules(&chart, "ClusterRole"), rules(&docs, "ClusterRole"));
    assert_eq!(rules(&chart, "Role"), rules(&docs, "Role"));
}
