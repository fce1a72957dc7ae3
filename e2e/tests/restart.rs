//! A hub restart adopts the running containers: files intact, no duplicate container,
//! and the agent reaches the model again through a re-created gateway socket.

use cchub_e2e::{cchub_binary, chat, repo_root, HubOptions, TestHub};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_serve_on_one_data_dir_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let instance = format!("e2elock{}", std::process::id());
    let data_dir = data.path().to_path_buf();
    let serve = move |port: u16| {
        let mut command = std::process::Command::new(cchub_binary());
        command
            .arg("serve")
            .env("CCHUB_DATA_DIR", &data_dir)
            .env("CCHUB_INSTANCE", &instance)
            .env("CCHUB_LISTEN", format!("127.0.0.1:{port}"))
            .env("CCHUB_MODEL_UPSTREAM", "http://127.0.0.1:9")
            .env("CCHUB_LOG_FORMAT", "text")
            .current_dir(repo_root())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        command
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut first = serve(port).spawn().expect("the cchub binary starts");
    let client = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..100 {
        if client.get(format!("http://127.0.0.1:{port}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            ready = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(ready, "the first hub did not answer /healthz within 20 s");

    let other_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut second_command = serve(other_port);
    let second = tokio::time::timeout(std::time::Duration::from_secs(30), tokio::task::spawn_blocking(move || second_command.output()))
        .await
        .expect("the second hub exits at once")
        .unwrap()
        .unwrap();
    let _ = rustix::process::kill_process(rustix::process::Pid::from_raw(first.id() as i32).unwrap(), rustix::process::Signal::TERM);
    let _ = first.wait();

    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains(&format!("another cchub serve (pid {})", first.id())), "{stderr}");
    assert!(stderr.contains("already uses the data directory"), "{stderr}");
}
