//! A hub restart adopts the running containers: files intact, no duplicate container,
//! and the agent reaches the model again through a re-created gateway socket.

use cchub_e2e::{chat, HubOptions, TestHub};
use reqwest::{Method, StatusCode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_adopts_containers() {
    let first = TestHub::start().await.unwrap();
    let vic = first.create_user("vic").await.unwrap();
    let messages = chat(&first, &vic, "[[bash: echo before-restart > state.txt]]").await.unwrap();
    assert_eq!(messages.last().unwrap()["exit_code"], 0);
    let containers_before = first.container_ids().await.unwrap();
    assert_eq!(containers_before.len(), 1);
    let upstream = first.mock.as_ref().unwrap().url();
    let mock = first.mock.clone();

    let (data_dir, instance, tempdir) = first.stop_keeping_state().await;
    let second = TestHub::start_with(HubOptions {
        upstream: Some(upstream),
        reuse: Some((data_dir, instance)),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let _keep = (tempdir, mock);

    assert_eq!(second.container_ids().await.unwrap(), containers_before, "the same container is adopted");
    let vic = second.login("vic", "vic-password-1").await.unwrap();
    let (status, body) = second.request(Method::GET, "/api/files/content?path=state.txt", Some(&vic.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["content"], "before-restart\n");

    let (_, body) = second.request(Method::POST, "/api/workspace/start", Some(&vic.access), None).await.unwrap();
    assert_eq!(body["action"], "already_running", "{body}");
    assert_eq!(second.container_ids().await.unwrap(), containers_before, "no duplicate container");

    // The old socket died with the first hub; the adopted container reaches the model.
    let messages = chat(&second, &vic, "[[bash: cat state.txt]] [[text: read it]]").await.unwrap();
    let done = messages.last().unwrap();
    assert_eq!(done["exit_code"], 0, "{messages:?}");
    assert!(serde_json::to_string(&messages).unwrap().contains("before-restart"));
}
