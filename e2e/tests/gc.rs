//! Garbage collection on the real engine: an orphan container made behind the hub's back
//! goes, a store row whose container vanished is repaired, active workspaces stay, and a
//! dry run changes nothing.

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptionsBuilder;
use cchub_e2e::TestHub;
use cchub_policy::{LABEL_INSTANCE, LABEL_MANAGED, LABEL_USER_ID};
use cchub_runtime::ContainerRuntime;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_orphans_and_keeps_active_workspaces() {
    let hub = TestHub::start().await.unwrap();
    let quin = hub.create_user("quin").await.unwrap();
    let active = hub.start_workspace(&quin).await.unwrap();
    let rae = hub.create_user("rae").await.unwrap();
    let vanished = hub.start_workspace(&rae).await.unwrap();

    // A container with this hub's labels for a user the store does not know.
    let orphan_name = format!("{}-user-99999", hub.instance);
    let labels = std::collections::HashMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_INSTANCE.to_string(), hub.instance.clone()),
        (LABEL_USER_ID.to_string(), "99999".to_string()),
    ]);
    let body = ContainerCreateBody {
        image: Some(hub.state.config.containers.image.clone()),
        entrypoint: Some(vec!["sleep".into(), "300".into()]),
        labels: Some(labels),
        ..Default::default()
    };
    let options = CreateContainerOptionsBuilder::default().name(&orphan_name).build();
    hub.runtime.client().create_container(Some(options), body).await.unwrap();
    // Rae's container disappears behind the hub's back; the store still has its row.
    hub.runtime.remove(&vanished).await.unwrap();

    let config = &hub.state.config;
    let planned = cchub_server::gc::collect(config, &hub.state.store, &hub.runtime, true).await.unwrap();
    let kinds: Vec<(&str, &str)> = planned.iter().map(|a| (a.kind, a.target.as_str())).collect();
    assert!(kinds.contains(&("orphan_container", orphan_name.as_str())), "{kinds:?}");
    assert!(kinds.contains(&("store_row", hub.container_name(rae.user_id).as_str())), "{kinds:?}");
    assert!(!kinds.iter().any(|(_, target)| *target == hub.container_name(quin.user_id)), "the active workspace is kept: {kinds:?}");
    assert!(hub.runtime.inspect(&orphan_name).await.unwrap().is_some(), "a dry run removes nothing");

    let done = cchub_server::gc::collect(config, &hub.state.store, &hub.runtime, false).await.unwrap();
    // An untagged image still used by some container stays, with an error; the rest must
    // succeed.
    assert!(done.iter().filter(|a| a.kind != "image").all(|a| a.error.is_none()), "{done:?}");
    assert!(hub.runtime.inspect(&orphan_name).await.unwrap().is_none(), "the orphan is gone");
    assert!(hub.state.store.container_for(rae.user_id).await.unwrap().is_none(), "the stale row is gone");
    assert_eq!(hub.runtime.inspect(&hub.container_name(quin.user_id)).await.unwrap().unwrap().id, active);

    let (_, audit) = hub.request(reqwest::Method::GET, "/api/admin/audit?action=gc.orphan_container", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(audit[0]["target"], orphan_name.as_str(), "{audit}");
    let again = cchub_server::gc::collect(config, &hub.state.store, &hub.runtime, false).await.unwrap();
    assert!(again.iter().all(|a| a.kind == "image"), "a second run finds nothing of its own: {again:?}");
}
