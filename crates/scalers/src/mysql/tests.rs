// Table tests spell out their row types inline.
#![allow(clippy::type_complexity)]

use super::*;
use crate::testutil::{self, CANARY, assert_no_canary, measure_once, unique};

fn trigger(meta: &[(&str, &str)], auth: &[(&str, &str)]) -> TriggerParams {
    TriggerParams::new(KIND, 2, meta.iter().map(|(k, v)| (*k, *v)))
        .with_auth_params(auth.iter().map(|(k, v)| (*k, *v)))
}

#[test]
fn go_dsns_become_urls() {
    let (url, tls) =
        go_dsn_to_url("user:p@ss@tcp(db.example:3307)/orders?tls=skip-verify").unwrap();
    assert_eq!(url, "mysql://user:p%40ss@db.example:3307/orders");
    assert_eq!(tls, MysqlTls::Unverified);
    let (url, tls) = go_dsn_to_url("root@tcp(127.0.0.1:3306)/test").unwrap();
    assert_eq!(
        (url.as_str(), tls),
        ("mysql://root@127.0.0.1:3306/test", MysqlTls::Off)
    );
}

#[test]
fn metric_name_uses_what_follows_the_last_slash() {
    let c = Config::from_params(&trigger(
        &[("query", "q"), ("queryValue", "1")],
        &[("connectionString", "u:p@tcp(h:3306)/stats")],
    ))
    .unwrap();
    assert_eq!(c.metric_name, "s2-mysql-stats");
    let c = Config::from_params(&trigger(
        &[
            ("query", "q"),
            ("queryValue", "1.5"),
            ("host", "h"),
            ("port", "3306"),
            ("username", "u"),
            ("dbName", "jobs"),
        ],
        &[],
    ))
    .unwrap();
    assert_eq!(
        (c.metric_name.as_str(), c.target, c.activation),
        ("s2-mysql-jobs", 1.5, 0.0)
    );
}

#[test]
fn parameter_rules_name_the_key() {
    let dsn = [("connectionString", "u:p@tcp(h:3306)/db")];
    let cases: &[(&[(&str, &str)], &[(&str, &str)], &str)] = &[
        (&[("queryValue", "1")], &dsn, "query"),
        (&[("query", "q")], &dsn, "queryValue"),
        (
            &[("query", "q"), ("queryValue", "many")],
            &dsn,
            "queryValue",
        ),
        (
            &[
                ("query", "q"),
                ("queryValue", "1"),
                ("activationQueryValue", "x"),
            ],
            &dsn,
            "activationQueryValue",
        ),
        (&[("query", "q"), ("queryValue", "1")], &[], "host"),
        (
            &[("query", "q"), ("queryValue", "1"), ("host", "h")],
            &[],
            "port",
        ),
        (
            &[
                ("query", "q"),
                ("queryValue", "1"),
                ("host", "h"),
                ("port", "3306"),
            ],
            &[],
            "dbName",
        ),
        (
            &[
                ("query", "q"),
                ("queryValue", "1"),
                ("host", "h"),
                ("port", "3306"),
                ("dbName", "d"),
            ],
            &[],
            "username",
        ),
        (
            &[("query", "q"), ("queryValue", "1")],
            &[("connectionString", "nonsense")],
            "connectionString",
        ),
    ];
    for (meta, auth, key) in cases {
        let err = Config::from_params(&trigger(meta, auth)).unwrap_err();
        assert_eq!(err.key(), Some(*key), "{meta:?}: {err}");
    }
}

async fn setup_table() -> (mysql_async::Conn, String) {
    testutil::init();
    let url = testutil::mysql_url();
    testutil::require("MariaDB", &testutil::host_port(&url)).await;
    let mut conn = mysql_async::Conn::new(mysql_async::Opts::from_url(&url).unwrap())
        .await
        .unwrap();
    let table = unique("ebb_tasks");
    conn.query_drop(format!(
        "CREATE TABLE {table} (id INT AUTO_INCREMENT PRIMARY KEY, state VARCHAR(16))"
    ))
    .await
    .unwrap();
    let values = std::iter::repeat_n("('queued')", 12)
        .chain(std::iter::repeat_n("('done')", 3))
        .collect::<Vec<_>>()
        .join(",");
    conn.query_drop(format!("INSERT INTO {table}(state) VALUES {values}"))
        .await
        .unwrap();
    (conn, table)
}

fn url_parts() -> (String, String, String, Option<String>, String) {
    let u = url::Url::parse(&testutil::mysql_url()).unwrap();
    (
        u.host_str().unwrap().to_owned(),
        u.port().unwrap_or(3306).to_string(),
        u.username().to_owned(),
        u.password().map(str::to_owned),
        u.path().trim_start_matches('/').to_owned(),
    )
}

#[tokio::test]
async fn counts_twelve_pending_rows_through_a_go_dsn_and_discrete_params() {
    let (mut conn, table) = setup_table().await;
    let (host, port, user, password, db) = url_parts();
    let query = format!("SELECT COUNT(*) FROM {table} WHERE state = 'queued'");
    let userinfo = match &password {
        Some(p) => format!("{user}:{p}"),
        None => user.clone(),
    };
    let dsn = format!("{userinfo}@tcp({host}:{port})/{db}");
    let m = measure_once(&trigger(
        &[
            ("query", &query),
            ("queryValue", "4"),
            ("activationQueryValue", "12"),
        ],
        &[("connectionString", &dsn)],
    ))
    .await
    .unwrap();
    assert_eq!(m.values[0].value, 12.0);
    assert!(!m.is_active);
    assert_eq!(m.values[0].metric_name, format!("s2-mysql-{db}"));

    let mut auth = vec![];
    if let Some(p) = &password {
        auth.push(("password", p.as_str()));
    }
    let meta = [
        ("query", query.as_str()),
        ("queryValue", "4"),
        ("activationQueryValue", "11"),
        ("host", &host),
        ("port", &port),
        ("username", &user),
        ("dbName", &db),
    ];
    let m = measure_once(&trigger(&meta, &auth)).await.unwrap();
    assert_eq!(m.values[0].value, 12.0);
    assert!(m.is_active);

    conn.query_drop(format!("DROP TABLE {table}"))
        .await
        .unwrap();
    conn.disconnect().await.unwrap();
}

#[tokio::test]
async fn wrong_password_is_unauthorized_and_never_printed() {
    testutil::init();
    let (host, port, user, _, db) = url_parts();
    testutil::require("MariaDB", &format!("{host}:{port}")).await;
    let meta = [
        ("query", "SELECT 1"),
        ("queryValue", "1"),
        ("host", host.as_str()),
        ("port", port.as_str()),
        ("username", user.as_str()),
        ("dbName", db.as_str()),
    ];
    let err = measure_once(&trigger(&meta, &[("password", CANARY)]))
        .await
        .unwrap_err();
    assert_no_canary(&err);
    assert_eq!(
        err.reason(),
        MeasureReason::Unauthorized,
        "{}",
        err.full_message()
    );
    let dsn = format!("{user}:{CANARY}@tcp(127.0.0.1:1)/{db}");
    let err = measure_once(&trigger(
        &[("query", "SELECT 1"), ("queryValue", "1")],
        &[("connectionString", &dsn)],
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
}
