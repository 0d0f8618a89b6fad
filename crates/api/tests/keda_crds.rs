//! Our CRDs against KEDA's own files: names, scope, columns, and a walk over every schema field.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns may panic too

mod support;

use serde_json::{Value, json};

/// KEDA's file name and our CRD for each kind.
fn pairs() -> Vec<(Value, Value)> {
    let dir = support::keda_crd_dir();
    ebb_api::crds::all()
        .into_iter()
        .map(|crd| {
            let keda = support::read_yaml(&dir.join(ebb_api::crds::file_name(&crd)));
            (keda, serde_json::to_value(&crd).unwrap())
        })
        .collect()
}

#[test]
fn names_scope_subresources_and_printer_columns_equal_kedas() {
    for (keda, ours) in pairs() {
        let name = keda["metadata"]["name"].as_str().unwrap().to_owned();
        assert_eq!(ours["metadata"]["name"], keda["metadata"]["name"]);
        let (ks, os) = (&keda["spec"], &ours["spec"]);
        for key in ["group", "scope"] {
            assert_eq!(os[key], ks[key], "{name}: spec.{key}");
        }
        for key in ["kind", "listKind", "plural", "singular", "shortNames"] {
            assert_eq!(
                os["names"][key], ks["names"][key],
                "{name}: spec.names.{key}"
            );
        }
        let versions = |v: &Value| -> Vec<Value> {
            v["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    json!({
                        "name": v["name"], "served": v["served"], "storage": v["storage"],
                        "subresources": v["subresources"],
                        "additionalPrinterColumns": v["additionalPrinterColumns"],
                    })
                })
                .collect()
        };
        assert_eq!(
            versions(os),
            versions(ks),
            "{name}: versions, subresources, printer columns"
        );
    }
}

/// Kubernetes 1.34/1.35 alpha fields, behind feature gates, that k8s-openapi's `v1_33` types lack.
const ALPHA_AFTER_1_33: &str = "alpha pod-spec field added after Kubernetes 1.33 (feature-gated); \
    k8s-openapi's v1_33 JobSpec lacks it, so the API server prunes it from a ScaledJob";

/// A difference the walk found that is known and accepted.
struct Allowed {
    kind: &'static str,
    /// The path, or with `subtree` the path and everything below it ("" is the whole schema).
    path_prefix: &'static str,
    subtree: bool,
    reason: &'static str,
}

impl Allowed {
    fn covers(&self, f: &Finding) -> bool {
        let below = |rest: &str| rest.is_empty() || rest.starts_with(['.', '[', '{']);
        self.kind == f.kind
            && match f.path.strip_prefix(self.path_prefix) {
                Some("") => true,
                Some(rest) => {
                    self.subtree
                        && (self.path_prefix.is_empty()
                            || self.path_prefix.ends_with('.')
                            || below(rest))
                }
                None => false,
            }
    }
}

const ALLOWED: &[Allowed] = &[
    Allowed {
        kind: "missing",
        path_prefix: "spec.jobTargetRef.template.spec.hostnameOverride",
        subtree: true,
        reason: ALPHA_AFTER_1_33,
    },
    Allowed {
        kind: "missing",
        path_prefix: "spec.jobTargetRef.template.spec.workloadRef",
        subtree: true,
        reason: ALPHA_AFTER_1_33,
    },
    Allowed {
        kind: "missing",
        path_prefix: "spec.jobTargetRef.template.spec.volumes[].projected.sources[].podCertificate",
        subtree: true,
        reason: ALPHA_AFTER_1_33,
    },
    Allowed {
        kind: "missing",
        path_prefix: "spec.jobTargetRef.template.spec.containers[].restartPolicyRules",
        subtree: true,
        reason: ALPHA_AFTER_1_33,
    },
    Allowed {
        kind: "missing",
        path_prefix: "spec.jobTargetRef.template.spec.initContainers[].restartPolicyRules",
        subtree: true,
        reason: ALPHA_AFTER_1_33,
    },
    Allowed {
        kind: "missing",
        path_prefix: "spec.jobTargetRef.template.spec.ephemeralContainers[].restartPolicyRules",
        subtree: true,
        reason: ALPHA_AFTER_1_33,
    },
    Allowed {
        kind: "missing",
        path_prefix: "spec.jobTargetRef.template.spec.containers[].env[].valueFrom.fileKeyRef",
        subtree: true,
        reason: ALPHA_AFTER_1_33,
    },
    Allowed {
        kind: "missing",
        path_prefix: "spec.jobTargetRef.template.spec.initContainers[].env[].valueFrom.fileKeyRef",
        subtree: true,
        reason: ALPHA_AFTER_1_33,
    },
    Allowed {
        kind: "missing",
        path_prefix: "spec.jobTargetRef.template.spec.ephemeralContainers[].env[].valueFrom.fileKeyRef",
        subtree: true,
        reason: ALPHA_AFTER_1_33,
    },
    Allowed {
        kind: "extra",
        path_prefix: "spec.jobTargetRef.template.metadata.",
        subtree: true,
        reason: "k8s-openapi embeds the full ObjectMeta where controller-gen keeps a few fields; \
                 the extra fields are server-set and ignored in a template",
    },
    Allowed {
        kind: "extra",
        path_prefix: "spec.jobTargetRef.template.spec.volumes[].ephemeral.volumeClaimTemplate.metadata.",
        subtree: true,
        reason: "as for template.metadata: full ObjectMeta, server-set fields ignored in a template",
    },
    Allowed {
        kind: "stricter",
        path_prefix: "spec",
        subtree: false,
        reason: "ScaledJob root: kube's derive always requires spec, as KEDA's other three \
                 schemas do; a ScaledJob without spec cannot run and KEDA's controller rejects it",
    },
    Allowed {
        kind: "list-type",
        path_prefix: "",
        subtree: true,
        reason: "k8s-openapi's schemas carry no x-kubernetes-list-type/-list-map-keys/-map-type \
                 markers; they steer server-side-apply merges and duplicate-key checks of core-type \
                 lists (jobTargetRef, HPA policies), which the Job and HPA APIs check again when Ebb \
                 writes those objects",
    },
    Allowed {
        kind: "default",
        path_prefix: "spec.jobTargetRef.",
        subtree: true,
        reason: "k8s-openapi's schemas carry no in-schema defaults of core types; the Job API \
                 applies the same defaults when Ebb creates the Job",
    },
];

/// One finding of the walk.
struct Finding {
    kind: &'static str,
    path: String,
    detail: String,
}

#[derive(Default)]
struct Walk {
    findings: Vec<Finding>,
    /// Schema nodes compared, so a walk that finds nothing to compare cannot pass.
    visited: usize,
}

impl Walk {
    fn report(&mut self, kind: &'static str, path: &str, detail: impl Into<String>) {
        self.findings.push(Finding {
            kind,
            path: path.to_owned(),
            detail: detail.into(),
        });
    }

    /// Compares KEDA's schema node `k` with ours `o` at `path`.
    fn node(&mut self, path: &str, k: &Value, o: &Value) {
        self.visited += 1;
        for key in ["type", "format", "x-kubernetes-int-or-string"] {
            if k.get(key) != o.get(key) {
                self.report(
                    "type",
                    path,
                    format!("{key}: KEDA {:?}, ours {:?}", k.get(key), o.get(key)),
                );
            }
        }
        if flag(k, "x-kubernetes-preserve-unknown-fields")
            != flag(o, "x-kubernetes-preserve-unknown-fields")
        {
            self.report(
                "preserve-unknown-fields",
                path,
                format!(
                    "KEDA {}, ours {}",
                    flag(k, "x-kubernetes-preserve-unknown-fields"),
                    flag(o, "x-kubernetes-preserve-unknown-fields")
                ),
            );
        }
        for key in [
            "x-kubernetes-list-type",
            "x-kubernetes-list-map-keys",
            "x-kubernetes-map-type",
        ] {
            if k.get(key) != o.get(key) {
                self.report(
                    "list-type",
                    path,
                    format!("{key}: KEDA {:?}, ours {:?}", k.get(key), o.get(key)),
                );
            }
        }
        if k.get("default") != o.get("default") {
            self.report(
                "default",
                path,
                format!("KEDA {:?}, ours {:?}", k.get("default"), o.get("default")),
            );
        }
        self.constraints(path, k, o);

        let empty = serde_json::Map::new();
        let kp = k
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let op = o
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (name, kchild) in kp {
            let child = join(path, name);
            match op.get(name) {
                Some(ochild) => self.node(&child, kchild, ochild),
                None => self.report("missing", &child, "KEDA accepts this field, ours lacks it"),
            }
        }
        for name in op.keys().filter(|n| !kp.contains_key(*n)) {
            self.report(
                "extra",
                &join(path, name),
                "ours has a field KEDA's schema lacks",
            );
        }
        let required = |v: &Value| -> Vec<String> {
            v.get("required")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let kreq = required(k);
        for r in required(o).into_iter().filter(|r| !kreq.contains(r)) {
            self.report(
                "stricter",
                &join(path, &r),
                "ours requires a field KEDA does not",
            );
        }

        match (k.get("items"), o.get("items")) {
            (Some(ki), Some(oi)) => self.node(&format!("{path}[]"), ki, oi),
            (None, None) => {}
            (ki, oi) => self.report(
                "type",
                path,
                format!("items: KEDA {}, ours {}", ki.is_some(), oi.is_some()),
            ),
        }
        match (k.get("additionalProperties"), o.get("additionalProperties")) {
            (Some(ka), Some(oa)) if ka.is_object() && oa.is_object() => {
                self.node(&format!("{path}{{}}"), ka, oa)
            }
            (ka, oa) if ka == oa => {}
            (ka, oa) => self.report(
                "map",
                path,
                format!("additionalProperties: KEDA {ka:?}, ours {oa:?}"),
            ),
        }
        for key in ["anyOf", "allOf", "oneOf"] {
            // controller-gen spells int-or-string out as anyOf [integer, string]; the marker alone
            // means the same to the API server.
            let int_or_string = key == "anyOf"
                && flag(k, "x-kubernetes-int-or-string")
                && flag(o, "x-kubernetes-int-or-string")
                && k.get(key) == Some(&json!([{"type": "integer"}, {"type": "string"}]));
            if !int_or_string && k.get(key) != o.get(key) {
                self.report(
                    "type",
                    path,
                    format!(
                        "{key} differs: KEDA {:?}, ours {:?}",
                        k.get(key),
                        o.get(key)
                    ),
                );
            }
        }
        let rules = |v: &Value| -> Vec<Value> {
            v.get("x-kubernetes-validations")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|r| r["rule"].clone()).collect())
                .unwrap_or_default()
        };
        if rules(k) != rules(o) {
            self.report(
                "validation",
                path,
                format!("CEL rules: KEDA {:?}, ours {:?}", rules(k), rules(o)),
            );
        }
    }

    /// Ours must not reject a value KEDA's schema accepts.
    fn constraints(&mut self, path: &str, k: &Value, o: &Value) {
        if let Some(oe) = o.get("enum").and_then(Value::as_array) {
            match k.get("enum").and_then(Value::as_array) {
                None => self.report(
                    "stricter",
                    path,
                    format!("ours allows only {oe:?}, KEDA any value"),
                ),
                Some(ke) => {
                    for v in ke.iter().filter(|v| !oe.contains(v)) {
                        self.report("stricter", path, format!("KEDA allows {v}, ours does not"));
                    }
                }
            }
        }
        for (key, lower_bound) in [
            ("minimum", true),
            ("minLength", true),
            ("minItems", true),
            ("minProperties", true),
            ("maximum", false),
            ("maxLength", false),
            ("maxItems", false),
            ("maxProperties", false),
        ] {
            let (kv, ov) = (num(k, key), num(o, key));
            let stricter = match (kv, ov) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(kv), Some(ov)) => {
                    if lower_bound {
                        ov > kv
                    } else {
                        ov < kv
                    }
                }
            };
            if stricter {
                self.report("stricter", path, format!("{key}: KEDA {kv:?}, ours {ov:?}"));
            } else if kv.is_some() && ov.is_none() {
                self.report("looser", path, format!("{key}: KEDA {kv:?}, ours none"));
            }
        }
        if o.get("pattern").is_some() && o.get("pattern") != k.get("pattern") {
            self.report(
                "stricter",
                path,
                format!(
                    "pattern: KEDA {:?}, ours {:?}",
                    k.get("pattern"),
                    o.get("pattern")
                ),
            );
        }
    }
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

fn schema(crd: &Value) -> &Value {
    &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
}

#[test]
fn our_schemas_accept_every_field_and_value_kedas_accept() {
    let mut failures = Vec::new();
    let mut allowed_counts = vec![0usize; ALLOWED.len()];
    for (keda, ours) in pairs() {
        let name = keda["metadata"]["name"].as_str().unwrap().to_owned();
        let mut walk = Walk::default();
        walk.node("", schema(&keda), schema(&ours));
        assert!(
            walk.visited > 20,
            "{name}: only {} schema nodes compared",
            walk.visited
        );
        for f in walk.findings {
            match ALLOWED.iter().position(|a| a.covers(&f)) {
                Some(i) => allowed_counts[i] += 1,
                None => failures.push(format!("{name}: [{}] {}: {}", f.kind, f.path, f.detail)),
            }
        }
    }
    for (a, n) in ALLOWED.iter().zip(&allowed_counts) {
        println!(
            "allowed [{}] under {:?} ({n} findings): {}",
            a.kind, a.path_prefix, a.reason
        );
    }
    assert!(
        failures.is_empty(),
        "{} schema differences from KEDA's CRDs:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
