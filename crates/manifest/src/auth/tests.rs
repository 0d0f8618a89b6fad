//! Auth resolution against objects from files, rule by rule (keda-compat.md §4.5).

use super::*;
use crate::objects::FileObjects;
use crate::parse_text;

const FILES: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: rabbit, namespace: shop}
data:
  url: YW1xcDovL3VzZXI6cGFzc0ByYWJiaXQ6NTY3Mi8=   # amqp://user:pass@rabbit:5672/
stringData:
  password: s3cret
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {QUEUE: orders, HOST: rabbit.shop}
---
apiVersion: v1
kind: Secret
metadata: {name: shared, namespace: keda}
stringData: {token: cluster-token}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: shop}
spec:
  template:
    spec:
      containers:
      - name: sidecar
        image: example/sidecar
        env: [{name: ONLY_SIDECAR, value: side}]
      - name: app
        image: example/app
        envFrom:
        - configMapRef: {name: settings}
          prefix: CFG_
        - secretRef: {name: absent, optional: true}
        env:
        - {name: RABBIT_URL, valueFrom: {secretKeyRef: {name: rabbit, key: url}}}
        - {name: QUEUE_URL, value: "$(RABBIT_URL)$(CFG_QUEUE)"}
        - {name: LITERAL, value: "$$(RABBIT_URL) and $(UNKNOWN)"}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata: {name: rabbit-auth, namespace: shop}
spec:
  env: [{parameter: host, name: RABBIT_URL, containerName: app}]
  configMapTargetRef: [{parameter: queue, name: settings, key: QUEUE}]
  secretTargetRef:
  - {parameter: password, name: rabbit, key: password}
  - {parameter: host, name: rabbit, key: url}
  - {parameter: missing, name: nowhere, key: x}
---
apiVersion: keda.sh/v1alpha1
kind: ClusterTriggerAuthentication
metadata: {name: shared-auth}
spec:
  secretTargetRef: [{parameter: token, name: shared, key: token}]
  podIdentity: {provider: none}
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata: {name: vault-auth, namespace: shop}
spec:
  hashiCorpVault:
    address: https://vault
    authentication: token
    secrets: [{parameter: p, path: secret/x, key: k}]
"#;

fn objects() -> FileObjects {
    let loaded = parse_text("files.yaml", FILES);
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    FileObjects::from_documents(&loaded.documents, "keda")
}

fn trigger(auth: Option<(&str, &str)>) -> ScaleTriggers {
    let mut value = serde_json::json!({"type": "rabbitmq", "metadata": {"queueName": "orders"}});
    if let Some((name, kind)) = auth {
        value["authenticationRef"] = serde_json::json!({"name": name, "kind": kind});
    }
    serde_json::from_value(value).unwrap()
}

#[test]
fn container_env_follows_kubernetes_expansion_and_keda_sources() {
    let objects = objects();
    let pod = objects.pod_spec("Deployment", "shop", "worker").unwrap();
    let app = env_source_container(&pod, Some("app")).unwrap();
    let env = container_env(app, "shop", &objects).unwrap();
    assert_eq!(env["CFG_QUEUE"], "orders");
    assert_eq!(env["CFG_HOST"], "rabbit.shop");
    assert_eq!(env["RABBIT_URL"], "amqp://user:pass@rabbit:5672/");
    assert_eq!(env["QUEUE_URL"], "amqp://user:pass@rabbit:5672/orders");
    assert_eq!(env["LITERAL"], "$(RABBIT_URL) and $(UNKNOWN)");
    assert!(!env.contains_key("POD_IP"), "fieldRef is skipped");
    assert!(!env.contains_key("ONLY_SIDECAR"));
}

#[test]
fn the_first_container_is_the_env_source_when_none_is_named() {
    let objects = objects();
    let pod = objects.pod_spec("Deployment", "shop", "worker").unwrap();
    assert_eq!(env_source_container(&pod, None).unwrap().name, "sidecar");
    assert_eq!(
        env_source_container(&pod, Some("")).unwrap().name,
        "sidecar"
    );
    assert!(env_source_container(&pod, Some("nope")).is_none());
}

#[test]
fn a_missing_non_optional_secret_is_an_error_naming_it() {
    let mut objects = objects();
    let mut pod = objects.pod_spec("Deployment", "shop", "worker").unwrap();
    pod.containers[1].env_from.as_mut().unwrap()[1]
        .secret_ref
        .as_mut()
        .unwrap()
        .optional = Some(false);
    let err = container_env(&pod.containers[1], "shop", &objects).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Secret shop/absent referenced by container \"app\" not found"
    );
    objects.insert_secret("shop", "absent", BTreeMap::new());
    assert!(container_env(&pod.containers[1], "shop", &objects).is_ok());
}

#[test]
fn trigger_authentication_sources_apply_in_keda_order() {
    let objects = objects();
    let pod = objects.pod_spec("Deployment", "shop", "worker").unwrap();
    let resolved = resolve_trigger(
        &trigger(Some(("rabbit-auth", "TriggerAuthentication"))),
        "shop",
        Some(&pod),
        Some("app"),
        &objects,
    )
    .unwrap();
    // Secrets come after env[] and overwrite the same parameter; a missing Secret gives "".
    assert_eq!(
        resolved.auth_params["host"],
        "amqp://user:pass@rabbit:5672/"
    );
    assert_eq!(resolved.auth_params["queue"], "orders");
    assert_eq!(resolved.auth_params["password"], "s3cret");
    assert_eq!(resolved.auth_params["missing"], "");
    assert_eq!(resolved.resolved_env["CFG_QUEUE"], "orders");
    assert_eq!(resolved.pod_identity, None);
}

#[test]
fn cluster_trigger_authentications_read_the_cluster_object_namespace() {
    let objects = objects();
    let resolved = resolve_trigger(
        &trigger(Some(("shared-auth", "ClusterTriggerAuthentication"))),
        "shop",
        None,
        None,
        &objects,
    )
    .unwrap();
    assert_eq!(resolved.auth_params["token"], "cluster-token");
    assert_eq!(resolved.pod_identity.as_deref(), Some("none"));
}

#[test]
fn a_missing_authentication_object_leaves_the_scaler_to_report_what_it_lacks() {
    let objects = objects();
    let resolved = resolve_trigger(
        &trigger(Some(("nope", "TriggerAuthentication"))),
        "shop",
        None,
        None,
        &objects,
    )
    .unwrap();
    assert!(resolved.auth_params.is_empty());
}

#[test]
fn unsupported_secret_stores_are_named_in_the_error() {
    let objects = objects();
    let err = resolve_trigger(
        &trigger(Some(("vault-auth", "TriggerAuthentication"))),
        "shop",
        None,
        None,
        &objects,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "hashiCorpVault in a TriggerAuthentication is not supported by Ebb yet"
    );
}

#[test]
fn debug_output_of_resolved_values_shows_keys_not_secrets() {
    let objects = objects();
    let resolved = resolve_trigger(
        &trigger(Some(("rabbit-auth", "TriggerAuthentication"))),
        "shop",
        objects.pod_spec("Deployment", "shop", "worker").as_ref(),
        Some("app"),
        &objects,
    )
    .unwrap();
    for text in [format!("{resolved:?}"), format!("{objects:?}")] {
        assert!(
            !text.contains("s3cret") && !text.contains("user:pass"),
            "{text}"
        );
    }
    assert!(format!("{resolved:?}").contains("\"password\""));
}
