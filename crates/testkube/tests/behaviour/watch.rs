//! Watches: resume from a resourceVersion, 410 Gone, bookmarks, selectors, and kube-runtime's watcher and
//! reflector working unmodified (including across dropped connections and forced 410s).

use std::time::Duration;

use ebb_testkube::TestKube;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use serde_json::json;

use crate::{eventually, kube};

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}})).unwrap()
}

async fn next<K>(
    stream: &mut (impl futures::Stream<Item = kube::Result<WatchEvent<K>>> + Unpin),
) -> WatchEvent<K> {
    tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .expect("an event within 5s")
        .expect("stream open")
        .expect("event decodes")
}

fn name_of(e: &WatchEvent<ConfigMap>) -> (String, String) {
    match e {
        WatchEvent::Added(o) => ("ADDED".into(), o.metadata.name.clone().unwrap()),
        WatchEvent::Modified(o) => ("MODIFIED".into(), o.metadata.name.clone().unwrap()),
        WatchEvent::Deleted(o) => ("DELETED".into(), o.metadata.name.clone().unwrap()),
        WatchEvent::Bookmark(_) => ("BOOKMARK".into(), String::new()),
        WatchEvent::Error(e) => ("ERROR".into(), e.code.to_string()),
    }
}

/// API concepts, "Efficient detection of changes": a watch from a list's resourceVersion sees exactly the
/// changes after it, in order.
#[tokio::test]
async fn watch_resumes_from_a_resource_version() {
    let kube = kube().await;
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &cm("before", json!({})))
        .await
        .unwrap();
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    api.create(&PostParams::default(), &cm("after", json!({})))
        .await
        .unwrap();
    api.patch(
        "after",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .unwrap();
    api.delete("before", &Default::default()).await.unwrap();
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(name_of(&next(&mut stream).await));
    }
    let want = [
        ("ADDED", "after"),
        ("MODIFIED", "after"),
        ("DELETED", "before"),
    ];
    assert_eq!(seen, want.map(|(a, b)| (a.to_string(), b.to_string())));
}

/// API concepts, "410 Gone responses": a watch from a resourceVersion older than the retained history
/// gets an ERROR event carrying a 410 Status.
#[tokio::test]
async fn watch_from_a_compacted_resource_version_gets_410_gone() {
    let kube = TestKube::builder().history_limit(3).start().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    for i in 0..5 {
        api.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match next(&mut stream).await {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410, got {:?}", name_of(&other)),
    }
    // A list at an exact, compacted resourceVersion is 410 too.
    let err = api
        .list(
            &ListParams::default()
                .at(&rv)
                .matching(kube::api::VersionMatch::Exact),
        )
        .await
        .unwrap_err();
    assert_eq!(crate::code(&err), 410);
}

/// API concepts, "Watch bookmarks": with allowWatchBookmarks the server sends BOOKMARK events carrying the
/// current resourceVersion.
#[tokio::test]
async fn bookmarks_carry_the_current_resource_version() {
    let kube = TestKube::builder()
        .bookmark_interval(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    // A change elsewhere moves the resourceVersion; the bookmark tells this watch about it.
    let other: Api<ConfigMap> = Api::namespaced(kube.client(), "kube-system");
    other
        .create(&PostParams::default(), &cm("elsewhere", json!({})))
        .await
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match next(&mut stream).await {
        WatchEvent::Bookmark(b) => assert_eq!(
            b.metadata.resource_version,
            kube.resource_version().to_string()
        ),
        other => panic!("expected a bookmark, got {:?}", name_of(&other)),
    }
}

/// API concepts, "Watch" with a label selector: an object that stops matching is DELETED for the watch,
/// one that starts matching is ADDED.
#[tokio::test]
async fn selector_watch_sees_objects_enter_and_leave_the_selection() {
    let kube = kube().await;
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    let rv = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut stream = api
        .watch(&WatchParams::default().labels("team=a"), &rv)
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &cm("x", json!({"team": "b"})))
        .await
        .unwrap();
    api.patch(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": "a"}}})),
    )
    .await
    .unwrap();
    api.patch(
        "x",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": "c"}}})),
    )
    .await
    .unwrap();
    assert_eq!(
        name_of(&next(&mut stream).await),
        ("ADDED".into(), "x".into())
    );
    assert_eq!(
        name_of(&next(&mut stream).await),
        ("DELETED".into(), "x".into())
    );
}

/// kube-runtime's watcher + reflector (what `Controller` is built on) keep a cache in sync, and recover
/// from dropped watch connections and from a forced 410 by re-listing.
#[tokio::test]
async fn reflector_stays_in_sync_across_dropped_watches_and_410() {
    let kube = kube().await;
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    let (reader, writer) = reflector::store();
    let stream =
        reflector(writer, watcher(api.clone(), watcher::Config::default())).applied_objects();
    // Errors (the 410) are items of the stream; like a Controller, keep polling past them.
    let driver = tokio::spawn(stream.for_each(|_| async {}));
    reader.wait_until_ready().await.unwrap();
    assert_eq!(reader.len(), 1);
    api.create(&PostParams::default(), &cm("b", json!({})))
        .await
        .unwrap();
    eventually("b in the cache", || async { reader.len() == 2 }).await;

    kube.faults().drop_watches();
    api.create(&PostParams::default(), &cm("c", json!({})))
        .await
        .unwrap();
    eventually("c in the cache after the drop", || async {
        reader.len() == 3
    })
    .await;

    let lists_before = kube.counts().get(ebb_testkube::Verb::List, "configmaps");
    // The next watch after the drop is told 410 Gone; the watcher must re-list to recover.
    kube.faults().expire_next_watches(1);
    kube.faults().drop_watches();
    api.delete("a", &Default::default()).await.unwrap();
    eventually("a gone from the cache after a 410", || async {
        reader.len() == 2
    })
    .await;
    eventually("the watcher re-listed", || async {
        kube.counts().get(ebb_testkube::Verb::List, "configmaps") > lists_before
    })
    .await;
    driver.abort();
}

/// Streaming lists (sendInitialEvents=true): initial ADDED events, then a bookmark marking their end.
#[tokio::test]
async fn watcher_with_streaming_lists_gets_initial_events() {
    let kube = kube().await;
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    api.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(api.clone(), watcher::Config::default().streaming_lists()),
    );
    let driver = tokio::spawn(async move { stream.try_for_each(|_| async { Ok(()) }).await });
    tokio::time::timeout(Duration::from_secs(5), reader.wait_until_ready())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reader.len(), 1);
    assert_eq!(
        kube.counts().get(ebb_testkube::Verb::List, "configmaps"),
        0,
        "no list call"
    );
    driver.abort();
}

/// API concepts, "Watch" timeoutSeconds: the server ends the watch after the timeout (clients re-watch).
#[tokio::test]
async fn watch_ends_after_timeout_seconds() {
    let kube = kube().await;
    let api: Api<ConfigMap> = Api::default_namespaced(kube.client());
    let rv = kube.resource_version().to_string();
    let started = std::time::Instant::now();
    let stream = api
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap();
    let events: Vec<_> = tokio::time::timeout(Duration::from_secs(5), stream.collect::<Vec<_>>())
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .all(|e| matches!(e, Ok(WatchEvent::Bookmark(_))))
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// kube-runtime's `Controller` runs unmodified: it reconciles an Ebb ScaledObject and its owned Deployment.
#[tokio::test]
async fn kube_runtime_controller_reconciles_against_testkube() {
    use std::sync::Arc;

    use k8s_openapi::api::apps::v1::Deployment;
    use kube::runtime::Controller;
    use kube::runtime::controller::Action;

    let kube = kube().await;
    let scaled: Api<ebb_api::ScaledObject> = Api::default_namespaced(kube.client());
    let deployments: Api<Deployment> = Api::default_namespaced(kube.client());
    async fn reconcile(
        so: Arc<ebb_api::ScaledObject>,
        api: Arc<Api<ebb_api::ScaledObject>>,
    ) -> kube::Result<Action> {
        let name = so.metadata.name.clone().unwrap_or_default();
        let status = json!({"status": {"originalReplicaCount": 1}});
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
            .await?;
        Ok(Action::await_change())
    }
    let ctx = Arc::new(scaled.clone());
    let controller = Controller::new(scaled.clone(), watcher::Config::default())
        .owns(deployments, watcher::Config::default())
        .run(reconcile, |_, _, _| Action::await_change(), ctx)
        .for_each(|_| async {});
    let driver = tokio::spawn(controller);
    scaled
        .create(
            &PostParams::default(),
            &crate::subresources::scaled_object("so"),
        )
        .await
        .unwrap();
    eventually("reconciled", || async {
        scaled
            .get("so")
            .await
            .unwrap()
            .status
            .and_then(|s| s.original_replica_count)
            == Some(1)
    })
    .await;
    // At steady state the controller makes no writes: its own status write changed nothing further.
    let before = kube.counts();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(kube.counts().since(&before).writes(), 0);
    driver.abort();
}
