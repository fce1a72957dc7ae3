//! Admission control and idle handling on the real engine: a start beyond the host-wide
//! budget waits in a queue with its position, an idle workspace is paused, a paused one
//! frees its share and resumes on the next request.

use std::time::{Duration, Instant};

use bollard::query_parameters::InspectContainerOptions;
use cchub_e2e::{HubOptions, ShellSocket, TestHub};
use reqwest::{Method, StatusCode};

/// Waits until the engine reports `state` for `container`, for at most `limit`.
async fn wait_for_state(hub: &TestHub, container: &str, state: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let inspect = hub.runtime.client().inspect_container(container, None::<InspectContainerOptions>).await.unwrap();
        let now = inspect.state.and_then(|s| s.status).map(|s| s.to_string()).unwrap_or_default();
        if now == state {
            return;
        }
        assert!(Instant::now() < deadline, "{container} is {now}, not {state}, after {limit:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn third_user_queues_until_a_place_frees() {
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some("admission:\n  max_running: 2\n".into()),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let ada = hub.create_user("ada").await.unwrap();
    let ben = hub.create_user("ben").await.unwrap();
    let cy = hub.create_user("cy").await.unwrap();
    hub.start_workspace(&ada).await.unwrap();
    hub.start_workspace(&ben).await.unwrap();

    let (status, body) = hub.request(Method::POST, "/api/workspace/start", Some(&cy.access), None).await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "queued", "{body}");
    assert_eq!(body["error"]["position"], 1, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("number 1"), "{body}");
    assert_eq!(hub.container_ids().await.unwrap().len(), 2, "no third container was made");

    // The terminal reports the same error instead of opening.
    let error = match ShellSocket::connect(&hub, &cy).await {
        Ok(_) => panic!("the terminal opened beyond the budget"),
        Err(err) => format!("{err:#}"),
    };
    assert!(error.contains("queued"), "{error}");

    // Ada stops; Cy, first in line, starts.
    let (status, _) = hub.request(Method::POST, "/api/workspace/stop", Some(&ada.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    hub.start_workspace(&cy).await.unwrap();

    // Now Ada is the one who waits.
    let (status, body) = hub.request(Method::POST, "/api/workspace/start", Some(&ada.access), None).await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["position"], 1, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_workspace_pauses_frees_its_share_and_resumes() {
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some("admission:\n  max_running: 1\nresources:\n  tiers:\n    free: { idle_pause_secs: 5, idle_stop_secs: 0 }\n".into()),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let dora = hub.create_user("dora").await.unwrap();
    let eli = hub.create_user("eli").await.unwrap();
    let first = hub.start_workspace(&dora).await.unwrap();
    hub.exec(&dora, "echo kept > /workspace/kept.txt").await.unwrap();

    // A page polling the workspace's status does not keep it awake.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, status) = hub.request(Method::GET, "/api/workspace", Some(&dora.access), None).await.unwrap();
        if status["state"] == "paused" {
            break;
        }
        assert!(Instant::now() < deadline, "the workspace was not paused while its status was polled: {status}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (_, audit) = hub.request(Method::GET, "/api/admin/audit?action=container.idle_pause", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(audit[0]["actor"], "dora", "{audit}");

    // A paused workspace does not count against the budget.
    let second = hub.start_workspace(&eli).await.unwrap();
    wait_for_state(&hub, &second, "running", Duration::from_secs(5)).await;
    let (status, body) = hub.request(Method::POST, "/api/workspace/start", Some(&dora.access), None).await.unwrap();
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "queued", "{body}");
    wait_for_state(&hub, &first, "paused", Duration::from_secs(1)).await;

    // Eli stops; Dora's next request resumes the same container with its files.
    hub.request(Method::POST, "/api/workspace/stop", Some(&eli.access), None).await.unwrap();
    let (status, body) = hub.request(Method::POST, "/api/workspace/start", Some(&dora.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["action"], "unpaused", "{body}");
    assert_eq!(body["container"]["id"], first.as_str());
    let mut shell = ShellSocket::connect(&hub, &dora).await.unwrap();
    shell.type_text("cat /workspace/kept.txt\n").await.unwrap();
    shell.wait_for("kept\r\n", Duration::from_secs(10)).await.unwrap();

    // An open terminal keeps the workspace from being paused.
    tokio::time::sleep(Duration::from_secs(8)).await;
    wait_for_state(&hub, &first, "running", Duration::from_secs(1)).await;
    shell.close().await.unwrap();
}
