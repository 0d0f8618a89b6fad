//! The policy bridge: Appendix A.1, the offline table against the parsers, behavior, ScaledJobs.

use super::*;
use ebb_core::hpa::EffectiveRules;

fn object<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
    serde_saphyr::from_str(yaml).unwrap()
}

/// keda-compat Appendix A.1.
const A1: &str = r#"
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: orders
  namespace: shop
  labels: {team: a}
  annotations: {note: x}
spec:
  scaleTargetRef: {name: worker}
  minReplicaCount: 0
  maxReplicaCount: 10
  triggers:
  - type: rabbitmq
    metadata: {queueName: orders, mode: QueueLength, value: "5", hostFromEnv: RABBIT_URL}
    authenticationRef: {name: rabbit-auth}
  - type: cpu
    metricType: Utilization
    metadata: {value: "60"}
"#;

#[test]
fn appendix_a1_scaled_object_maps_to_its_policy() {
    let so: ScaledObject = object(A1);
    let p = scaled_object_policy(&so).unwrap();
    assert_eq!(
        (
            p.target.kind.as_str(),
            p.target.namespace.as_str(),
            p.target.name.as_str()
        ),
        ("apps/v1.Deployment", "shop", "worker")
    );
    assert_eq!(p.min_replica_count, Some(0));
    assert_eq!(p.max_replica_count, 10);
    assert_eq!(p.idle_replica_count, None);
    assert_eq!((p.cooldown_period, p.initial_cooldown_period), (300, 0));
    assert!(p.fallback.is_none() && p.scaling_modifiers.is_none());
    assert_eq!(p.pause, PauseSettings::default());
    let rows: Vec<_> = p
        .triggers
        .iter()
        .map(|t| {
            (
                t.metric_name.as_str(),
                t.kind,
                t.metric_type,
                t.target,
                t.activation_target,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "s0-rabbitmq-orders",
                TriggerKind::External,
                MetricType::AverageValue,
                5.0,
                0.0
            ),
            (
                "cpu",
                TriggerKind::Resource,
                MetricType::AverageValue,
                60.0,
                0.0
            ),
        ]
    );
}

#[test]
fn appendix_a1_hpa_has_min_one_max_ten_and_default_behavior() {
    let so: ScaledObject = object(A1);
    let hpa = hpa_spec(&so).unwrap();
    assert_eq!(
        (hpa.min_replicas, hpa.max_replicas, hpa.behavior.clone()),
        (1, 10, None)
    );
    let b = hpa.behavior.unwrap_or_default();
    let up = b.scale_up_rules();
    let down = b.scale_down_rules();
    assert_eq!(
        up,
        EffectiveRules {
            stabilization_window_seconds: 0,
            select_policy: SelectPolicy::Max,
            policies: vec![
                ScalingPolicy {
                    policy_type: ScalingPolicyType::Pods,
                    value: 4,
                    period_seconds: 15
                },
                ScalingPolicy {
                    policy_type: ScalingPolicyType::Percent,
                    value: 100,
                    period_seconds: 15
                },
            ],
        }
    );
    assert_eq!(down.stabilization_window_seconds, 300);
    assert_eq!(
        down.policies,
        vec![ScalingPolicy {
            policy_type: ScalingPolicyType::Percent,
            value: 100,
            period_seconds: 15
        }]
    );
}

#[test]
fn resolved_and_offline_specs_of_appendix_a1_agree() {
    let so: ScaledObject = object(A1);
    let env = ResolvedTrigger {
        resolved_env: [(
            "RABBIT_URL".to_owned(),
            "amqp://guest:guest@localhost:5672/shop".to_owned(),
        )]
        .into(),
        ..Default::default()
    };
    let resolved = [env, ResolvedTrigger::default()];
    let online = scaled_object_policy_with(&so, Resolution::Resolved(&resolved)).unwrap();
    let offline = scaled_object_policy(&so).unwrap();
    assert_eq!(online.triggers, offline.triggers);
}

/// Every table row for a type ebb-scalers implements gives what the parser gives.
#[test]
fn offline_table_agrees_with_the_scalers_parsers() {
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "rabbitmq",
            &[
                ("host", "amqp://u:p@localhost/v"),
                ("queueName", "a/b c"),
                ("mode", "QueueLength"),
                ("value", "7.5"),
                ("activationValue", "2"),
            ],
        ),
        (
            "rabbitmq",
            &[
                ("host", "amqp://u:p@localhost/v"),
                ("queueName", "q"),
                ("queueLength", "12"),
            ],
        ),
        (
            "rabbitmq",
            &[("host", "amqp://u:p@localhost/v"), ("queueName", "q")],
        ),
        (
            "redis",
            &[
                ("address", "localhost:6379"),
                ("listName", "jobs"),
                ("listLength", "10"),
                ("activationListLength", "3"),
            ],
        ),
        (
            "redis",
            &[("address", "localhost:6379"), ("listName", "jobs")],
        ),
        (
            "redis-streams",
            &[
                ("address", "localhost:6379"),
                ("stream", "ev"),
                ("consumerGroup", "g"),
                ("pendingEntriesCount", "10"),
            ],
        ),
        (
            "redis-streams",
            &[
                ("address", "localhost:6379"),
                ("stream", "ev"),
                ("consumerGroup", "g"),
                ("lagCount", "7"),
                ("activationLagCount", "1"),
            ],
        ),
        (
            "redis-streams",
            &[
                ("address", "localhost:6379"),
                ("stream", "ev"),
                ("streamLength", "9"),
            ],
        ),
        (
            "postgresql",
            &[
                ("connection", "postgres://u:p@localhost/db"),
                ("query", "select 1"),
                ("targetQueryValue", "10.5"),
                ("activationTargetQueryValue", "1"),
            ],
        ),
        (
            "mysql",
            &[
                ("host", "localhost"),
                ("port", "3306"),
                ("dbName", "app"),
                ("username", "u"),
                ("password", "p"),
                ("query", "select 1"),
                ("queryValue", "10"),
                ("activationQueryValue", "2"),
            ],
        ),
        (
            "prometheus",
            &[
                ("serverAddress", "http://localhost:9090"),
                ("query", "up"),
                ("threshold", "100"),
                ("activationThreshold", "5"),
            ],
        ),
        (
            "nats-jetstream",
            &[
                ("natsServerMonitoringEndpoint", "localhost:8222"),
                ("account", "$G"),
                ("stream", "orders"),
                ("consumer", "w"),
                ("lagThreshold", "10"),
                ("activationLagThreshold", "1"),
            ],
        ),
        (
            "metrics-api",
            &[
                ("url", "http://localhost/stats"),
                ("valueLocation", "components.worker.tasks"),
                ("targetValue", "10"),
                ("activationTargetValue", "4"),
            ],
        ),
        (
            "kafka",
            &[
                ("bootstrapServers", "kafka:9092"),
                ("consumerGroup", "crawler"),
                ("topic", "pages"),
                ("lagThreshold", "50"),
                ("activationLagThreshold", "5"),
            ],
        ),
        (
            "azure-servicebus",
            &[
                ("queueName", "vm-commands"),
                (
                    "connection",
                    "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=l;SharedAccessKey=a2V5",
                ),
                ("messageCount", "4"),
                ("activationMessageCount", "1"),
            ],
        ),
        (
            "azure-eventhub",
            &[
                (
                    "connection",
                    "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=l;SharedAccessKey=a2V5;EntityPath=pages",
                ),
                (
                    "storageConnection",
                    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net",
                ),
                ("consumerGroup", "crawlers"),
                ("unprocessedEventThreshold", "30"),
                ("activationUnprocessedEventThreshold", "3"),
            ],
        ),
        (
            "aws-sqs-queue",
            &[
                ("queueURL", "https://sqs.eu-west-1.amazonaws.com/1234/jobs"),
                ("awsRegion", "eu-west-1"),
                ("awsAccessKeyID", "AKID"),
                ("awsSecretAccessKey", "secret"),
                ("queueLength", "7"),
                ("activationQueueLength", "2"),
            ],
        ),
        (
            "azure-queue",
            &[
                ("queueName", "work"),
                (
                    "connection",
                    "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net",
                ),
                ("queueLength", "9"),
            ],
        ),
    ];
    // Every table row whose type ebb-scalers implements is compared here.
    let covered: Vec<&str> = cases.iter().map(|(ty, _)| *ty).collect();
    for row in OFFLINE_SPECS {
        for ty in row.types {
            let implemented = registry::find(ty).is_some();
            let compared =
                covered.contains(ty) || ty.ends_with("-streams") || ty.starts_with("redis-");
            assert!(
                !implemented || compared,
                "add a case for {ty}: ebb-scalers implements it"
            );
        }
    }
    let mut checked = 0;
    for (ty, meta) in cases {
        assert!(
            registry::find(ty).is_some(),
            "{ty} is implemented by ebb-scalers"
        );
        let trigger = ScaleTriggers {
            type_: (*ty).to_owned(),
            name: None,
            metadata: meta
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            authentication_ref: None,
            metric_type: None,
            use_cached_metrics: None,
        };
        // Connection keys some parsers read only from a TriggerAuthentication.
        let auth = ResolvedTrigger {
            auth_params: trigger.metadata.clone(),
            ..Default::default()
        };
        let parser = trigger_spec(2, &trigger, false, Some(&auth)).unwrap();
        let table = offline_spec(2, &trigger, MetricType::AverageValue, false).unwrap();
        assert_eq!(parser, table, "{ty} {meta:?}");
        checked += 1;
    }
    assert_eq!(checked, cases.len());
}

#[test]
fn offline_specs_without_cluster_credentials_use_the_table_with_keda_naming() {
    // (type, metadata, metric name, target, activation)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, f64, f64);
    let cases: &[Case<'_>] = &[
        (
            "kafka",
            &[
                ("bootstrapServers", "b"),
                ("consumerGroup", "g"),
                ("topic", "orders.v1"),
            ],
            "s0-kafka-orders-v1",
            10.0,
            0.0,
        ),
        (
            "kafka",
            &[
                ("bootstrapServers", "b"),
                ("consumerGroup", "g"),
                ("lagThreshold", "50"),
                ("activationLagThreshold", "3"),
            ],
            "s0-kafka-g-topics",
            50.0,
            3.0,
        ),
        (
            "aws-sqs-queue",
            &[
                ("queueURL", "https://sqs.eu-west-1.amazonaws.com/1234/jobs"),
                ("awsRegion", "eu-west-1"),
            ],
            "s0-aws-sqs-jobs",
            5.0,
            0.0,
        ),
        (
            "azure-eventhub",
            &[("unprocessedEventThreshold", "100")],
            "s0-azure-eventhub-$Default",
            100.0,
            0.0,
        ),
        (
            "azure-servicebus",
            &[
                ("topicName", "t"),
                ("subscriptionName", "s"),
                ("messageCount", "3"),
            ],
            "s0-azure-servicebus-t",
            3.0,
            0.0,
        ),
        (
            "azure-queue",
            &[("queueName", "work"), ("activationQueueLength", "2")],
            "s0-azure-queue-work",
            5.0,
            2.0,
        ),
    ];
    for (ty, meta, name, target, activation) in cases {
        let trigger = ScaleTriggers {
            type_: (*ty).to_owned(),
            name: Some("t".into()),
            metadata: meta
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            // With an authenticationRef the credentials are the cluster's: offline, the table answers.
            authentication_ref: Some(ebb_api::AuthenticationRef {
                name: "auth".into(),
                kind: None,
            }),
            metric_type: Some("Value".into()),
            use_cached_metrics: None,
        };
        let spec = trigger_spec(0, &trigger, false, None).unwrap();
        assert_eq!(
            (
                spec.name.as_str(),
                spec.metric_name.as_str(),
                spec.target,
                spec.activation_target,
                spec.metric_type
            ),
            ("t", *name, *target, *activation, MetricType::Value),
            "{ty}"
        );
    }
}

#[test]
fn bad_targets_and_unknown_types_are_errors_naming_the_trigger() {
    let trigger = |ty: &str, meta: &[(&str, &str)]| ScaleTriggers {
        type_: ty.to_owned(),
        name: None,
        metadata: meta
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        authentication_ref: None,
        metric_type: None,
        use_cached_metrics: None,
    };
    let err = trigger_spec(
        1,
        &trigger(
            "kafka",
            &[
                ("bootstrapServers", "b:9092"),
                ("consumerGroup", "g"),
                ("lagThreshold", "2.5"),
            ],
        ),
        false,
        None,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"spec.triggers[1] (kafka): lagThreshold: "2.5" is not an integer"#
    );
    let err = trigger_spec(0, &trigger("gcp-pubsub", &[]), false, None).unwrap_err();
    assert_eq!(err.reason(), "no_metric_spec");
    assert!(
        err.to_string()
            .starts_with("spec.triggers[0] (gcp-pubsub): "),
        "{err}"
    );
    // A parser error that is not about a cluster-resolved key is reported as such.
    let err = trigger_spec(
        0,
        &trigger(
            "rabbitmq",
            &[("host", "amqp://h/v"), ("queueName", "q"), ("value", "x")],
        ),
        false,
        None,
    )
    .unwrap_err();
    assert!(
        matches!(err, PolicyError::Trigger { index: 0, .. }),
        "{err}"
    );
}

#[test]
fn behavior_converts_and_paused_directions_are_disabled() {
    let so: ScaledObject = object(
        r#"
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: w
  annotations: {autoscaling.keda.sh/paused-scale-in: "true"}
spec:
  scaleTargetRef: {name: w}
  minReplicaCount: 2
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleUp:
          stabilizationWindowSeconds: 30
          selectPolicy: Min
          policies: [{type: Pods, value: 2, periodSeconds: 60}]
  triggers:
  - type: prometheus
    metadata: {serverAddress: "http://p:9090", query: up, threshold: "3"}
"#,
    );
    let hpa = hpa_spec(&so).unwrap();
    assert_eq!((hpa.min_replicas, hpa.max_replicas), (2, 100));
    let b = hpa.behavior.unwrap();
    assert_eq!(
        b.scale_up,
        Some(ScalingRules {
            stabilization_window_seconds: Some(30),
            select_policy: Some(SelectPolicy::Min),
            policies: vec![ScalingPolicy {
                policy_type: ScalingPolicyType::Pods,
                value: 2,
                period_seconds: 60
            }],
        })
    );
    assert_eq!(b.scale_down_rules().select_policy, SelectPolicy::Disabled);
    assert!(scaled_object_policy(&so).unwrap().pause.paused_scale_in);
}

#[test]
fn behavior_values_the_api_server_refuses_are_errors() {
    let b: HorizontalPodAutoscalerBehavior =
        object("scaleDown: {policies: [{type: Pods, value: 0, periodSeconds: 15}]}");
    assert_eq!(
        behavior(&b).unwrap_err().to_string(),
        "spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown.policies[0].value: 0 must be greater than 0"
    );
}

#[test]
fn scaled_job_policy_reads_strategy_and_bounds() {
    let sj: ScaledJob = object(
        r#"
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: j}
spec:
  jobTargetRef: {template: {spec: {containers: [{name: c, image: i}]}}}
  maxReplicaCount: 10
  scalingStrategy: {strategy: custom, customScalingQueueLengthDeduction: 1, customScalingRunningJobPercentage: "0.5", multipleScalersCalculation: sum}
  triggers:
  - type: redis
    metadata: {address: "r:6379", listName: jobs, listLength: "2"}
"#,
    );
    let p = scaled_job_policy(&sj).unwrap();
    assert_eq!((p.min_replica_count, p.max_replica_count), (None, Some(10)));
    assert_eq!(
        p.strategy,
        ScalingStrategy::Custom {
            queue_length_deduction: 1,
            running_job_percentage: 0.5
        }
    );
    assert_eq!(p.calculation, MultipleScalersCalculation::Sum);
    let t = trigger_specs(&sj.spec.triggers, false, Resolution::Offline).unwrap();
    assert_eq!(
        (t[0].metric_name.as_str(), t[0].target),
        ("s0-redis-jobs", 2.0)
    );
}
