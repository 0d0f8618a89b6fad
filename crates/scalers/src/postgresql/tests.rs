// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use super::*;
use crate::testutil::{self, CANARY, assert_no_canary, measure_once, unique};

fn trigger(meta: &[(&str, &str)], auth: &[(&str, &str)]) -> TriggerParams {
    TriggerParams::new(KIND, 0, meta.iter().map(|(k, v)| (*k, *v)))
        .with_auth_params(auth.iter().map(|(k, v)| (*k, *v)))
}

#[test]
fn parameter_rules_name_the_key() {
    let conn = [("connection", "postgres://u@h/db")];
    let cases: &[(&[(&str, &str)], &[(&str, &str)], &str)] = &[
        (&[("targetQueryValue", "1")], &conn, "query"),
        (&[("query", "q")], &conn, "targetQueryValue"),
        (
            &[("query", "q"), ("targetQueryValue", "0")],
            &conn,
            "targetQueryValue",
        ),
        (
            &[("query", "q"), ("targetQueryValue", "x")],
            &conn,
            "targetQueryValue",
        ),
        (
            &[
                ("query", "q"),
                ("targetQueryValue", "1"),
                ("activationTargetQueryValue", "x"),
            ],
            &conn,
            "activationTargetQueryValue",
        ),
        (&[("query", "q"), ("targetQueryValue", "1")], &[], "host"),
        (
            &[("query", "q"), ("targetQueryValue", "1"), ("host", "h")],
            &[],
            "port",
        ),
        (
            &[
                ("query", "q"),
                ("targetQueryValue", "1"),
                ("host", "h"),
                ("port", "5432"),
                ("userName", "u"),
                ("dbName", "d"),
            ],
            &[],
            "sslmode",
        ),
        (
            &[
                ("query", "q"),
                ("targetQueryValue", "1"),
                ("host", "h"),
                ("port", "5432"),
                ("userName", "u"),
                ("dbName", "d"),
                ("sslmode", "bogus"),
            ],
            &[],
            "sslmode",
        ),
        (
            &[("query", "q"), ("targetQueryValue", "1")],
            &[("connection", "host=h port=notaport")],
            "connection",
        ),
    ];
    for (meta, auth, key) in cases {
        let err = Config::from_params(&trigger(meta, auth)).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{meta:?}: {err}");
    }
}

#[test]
fn target_is_optional_for_a_modifiers_source_and_name_is_fixed() {
    let mut p = trigger(&[("query", "q")], &[("connection", "postgres://u@h/db")]);
    p.as_metric_source = true;
    let c = Config::from_params(&p).unwrap();
    assert_eq!(c.target, 0.0);
    assert_eq!(c.metric_name, "s0-postgresql");
}

#[test]
fn sslmodes_map_to_tls_behaviour() {
    for (mode, tls) in [
        ("disable", PgTls::Disable),
        ("require", PgTls::Unverified),
        ("prefer", PgTls::Unverified),
        ("verify-full", PgTls::Verified),
    ] {
        let p = trigger(
            &[
                ("query", "q"),
                ("targetQueryValue", "1"),
                ("host", "h"),
                ("port", "5432"),
                ("userName", "u"),
                ("dbName", "d"),
                ("sslmode", mode),
            ],
            &[("password", "p")],
        );
        assert_eq!(
            Config::from_params(&p).unwrap().connection.tls,
            tls,
            "{mode}"
        );
    }
}

async fn setup_table() -> (tokio_postgres::Client, String) {
    testutil::init();
    let url = testutil::postgres_url();
    testutil::require("PostgreSQL", &testutil::host_port(&url)).await;
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let table = unique("ebb_tasks");
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id serial, state text);
             INSERT INTO {table}(state) SELECT 'queued' FROM generate_series(1, 12);
             INSERT INTO {table}(state) SELECT 'done' FROM generate_series(1, 4);"
        ))
        .await
        .unwrap();
    (client, table)
}

#[tokio::test]
async fn counts_twelve_pending_rows_through_a_connection_string_and_discrete_params() {
    let (client, table) = setup_table().await;
    let url = testutil::postgres_url();
    let query = format!("SELECT count(*) FROM {table} WHERE state = 'queued'");
    let meta = [
        ("query", query.as_str()),
        ("targetQueryValue", "5"),
        ("activationTargetQueryValue", "12"),
    ];
    let m = measure_once(&trigger(&meta, &[("connection", &url)]))
        .await
        .unwrap();
    assert_eq!(m.values[0].value, 12.0);
    assert!(!m.is_active, "12 is not > 12");

    let parsed = url::Url::parse(&url).unwrap();
    let port = parsed.port().unwrap_or(5432).to_string();
    let db = parsed.path().trim_start_matches('/').to_owned();
    let meta = [
        ("query", query.as_str()),
        ("targetQueryValue", "5"),
        ("activationTargetQueryValue", "11"),
        ("host", parsed.host_str().unwrap()),
        ("port", port.as_str()),
        ("userName", parsed.username()),
        ("dbName", db.as_str()),
        ("sslmode", "disable"),
    ];
    let m = measure_once(&trigger(&meta, &[])).await.unwrap();
    assert_eq!(m.values[0].value, 12.0);
    assert!(m.is_active);

    client
        .batch_execute(&format!("DROP TABLE {table}"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_missing_table_is_not_found() {
    testutil::init();
    let url = testutil::postgres_url();
    testutil::require("PostgreSQL", &testutil::host_port(&url)).await;
    let table = unique("ebb_absent");
    let query = format!("SELECT count(*) FROM {table}");
    let err = measure_once(&trigger(
        &[("query", &query), ("targetQueryValue", "1")],
        &[("connection", &url)],
    ))
    .await
    .unwrap_err();
    assert_eq!(
        err.reason(),
        MeasureReason::NotFound,
        "{}",
        err.full_message()
    );
}

#[tokio::test]
async fn wrong_port_never_prints_the_password() {
    testutil::init();
    let conn = format!("postgres://postgres:{CANARY}@127.0.0.1:1/postgres?sslmode=disable");
    let err = measure_once(&trigger(
        &[("query", "SELECT 1"), ("targetQueryValue", "1")],
        &[("connection", &conn)],
    ))
    .await
    .unwrap_err();
    assert_no_canary(&err);
    assert_eq!(
        err.reason(),
        MeasureReason::Unreachable,
        "{}",
        err.full_message()
    );
    let meta = [
        ("query", "SELECT 1"),
        ("targetQueryValue", "1"),
        ("host", "127.0.0.1"),
        ("port", "1"),
        ("userName", "postgres"),
        ("dbName", "postgres"),
        ("sslmode", "disable"),
    ];
    let err = measure_once(&trigger(&meta, &[("password", CANARY)]))
        .await
        .unwrap_err();
    assert_no_canary(&err);
}
