//! The files API against links and special files a user plants inside the container.

use cchub_e2e::TestHub;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_symlinks_are_not_followed() {
    let hub = TestHub::start().await.unwrap();
    let kim = hub.create_user("kim").await.unwrap();
    hub.start_workspace(&kim).await.unwrap();

    let data_dir = hub.data_dir.display().to_string();
    let plant = format!(
        "cd /workspace && ln -s /etc/passwd passwd && ln -s / root && ln -s /etc etc && ln -s /proc/self proc \
         && ln -s {data_dir} data && ln -s {data_dir}/secrets/jwt.key jwt && mkfifo fifo && echo ok"
    );
    let (code, out) = hub.exec(&kim, &plant).await.unwrap();
    assert_eq!(code, 0, "{out}");

    let host_passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    for path in ["passwd", "root/etc/passwd", "etc/passwd", "etc/shadow", "proc/environ", "data/secrets/jwt.key", "jwt"] {
        let (status, body) = hub.request(Method::GET, &format!("/api/files/content?path={path}"), Some(&kim.access), None).await.unwrap();
        assert!(status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND, "{path}: {status} {body}");
        assert!(body["error"]["code"].is_string(), "{body}");
        let text = body.to_string();
        assert!(!text.contains("root:x:0:0"), "{path} leaked /etc/passwd");
        assert!(!host_passwd.lines().take(1).any(|l| text.contains(l)));
    }
    for path in ["root", "etc", "data", "proc"] {
        let (status, body) = hub.request(Method::GET, &format!("/api/files/tree?path={path}"), Some(&kim.access), None).await.unwrap();
        assert!(status == StatusCode::FORBIDDEN || status == StatusCode::NOT_FOUND, "tree {path}: {status} {body}");
    }
    for path in ["etc/cchub-was-here", "root/tmp/cchub-was-here", "data/cchub-was-here"] {
        let (status, _) = hub
            .request(Method::PUT, &format!("/api/files/content?path={path}"), Some(&kim.access), Some(json!({"content": "x"})))
            .await
            .unwrap();
        assert!(status.is_client_error(), "write through {path}: {status}");
    }
    assert!(!std::path::Path::new("/etc/cchub-was-here").exists());
    assert!(!std::path::Path::new("/tmp/cchub-was-here").exists());
    assert!(!hub.data_dir.join("cchub-was-here").exists());

    // Writing over the link replaces the link, never its target.
    let (status, body) = hub.request(Method::PUT, "/api/files/content?path=passwd", Some(&kim.access), Some(json!({"content": "mine"}))).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(std::fs::read_to_string("/etc/passwd").unwrap(), host_passwd);

    // A FIFO is refused at once instead of hanging a hub thread.
    let (status, body) = hub.request(Method::GET, "/api/files/content?path=fifo", Some(&kim.access), None).await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "not_a_regular_file");

    // The listing shows links as links, without following them.
    let (status, body) = hub.request(Method::GET, "/api/files/tree", Some(&kim.access), None).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let root_entry = body["entries"].as_array().unwrap().iter().find(|e| e["name"] == "root").unwrap().clone();
    assert_eq!(root_entry["kind"], "symlink");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_and_unicode_files_round_trip() {
    let hub = TestHub::start().await.unwrap();
    let lee = hub.create_user("lee").await.unwrap();

    let (status, _) = hub
        .request(Method::PUT, "/api/files/content?path=中文.txt", Some(&lee.access), Some(json!({"content": "第一行\n第二行"})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let (_, body) = hub.request(Method::GET, "/api/files/content?path=中文.txt", Some(&lee.access), None).await.unwrap();
    assert_eq!(body["content"], "第一行\n第二行");
    assert_eq!(body["encoding"], "utf-8");

    let (status, _) = hub
        .request(Method::PUT, "/api/files/content?path=blob.bin", Some(&lee.access), Some(json!({"content": "AP8A/w==", "encoding": "base64"})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let (_, body) = hub.request(Method::GET, "/api/files/content?path=blob.bin", Some(&lee.access), None).await.unwrap();
    assert_eq!(body["encoding"], "base64");
    assert_eq!(body["content"], "AP8A/w==");
    assert_eq!(body["size"], 4);
}
