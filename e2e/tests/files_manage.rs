//! Folder creation, rename, delete, upload and download through the API, including
//! across links a user plants.

use cchub_e2e::TestHub;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manage_files_through_the_api() {
    let hub = TestHub::start().await.unwrap();
    let mo = hub.create_user("mo").await.unwrap();
    let token = Some(mo.access.as_str());

    let (status, body) = hub.request(Method::POST, "/api/files/mkdir", token, Some(json!({"path": "docs/notes", "parents": true}))).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = hub.request(Method::POST, "/api/files/mkdir", token, Some(json!({"path": "docs"}))).await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(b"first".to_vec()).file_name("a.txt"))
        .part("file", reqwest::multipart::Part::bytes("第二".as_bytes().to_vec()).file_name("中文.txt"));
    let response = hub.client.post(format!("{}/api/files/upload?path=docs", hub.url)).bearer_auth(&mo.access).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let uploaded: serde_json::Value = response.json().await.unwrap();
    assert_eq!(uploaded["files"][1]["path"], "docs/中文.txt");

    let (status, _) = hub.request(Method::POST, "/api/files/rename", token, Some(json!({"from": "docs/a.txt", "to": "docs/notes/b.txt"}))).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    let download = hub.client.get(format!("{}/api/files/download?path=docs/notes/b.txt", hub.url)).bearer_auth(&mo.access).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert!(download.headers()["content-disposition"].to_str().unwrap().contains("b.txt"));
    assert_eq!(download.bytes().await.unwrap().as_ref(), b"first");

    // The agent's view agrees, and the files belong to the container's user.
    hub.start_workspace(&mo).await.unwrap();
    let (_, out) = hub.exec(&mo, "cd /workspace && find docs | sort && stat -c %u docs/notes/b.txt docs/notes").await.unwrap();
    assert!(out.contains("docs/notes/b.txt"), "{out}");
    assert!(out.contains("docs/中文.txt"), "{out}");
    assert_eq!(out.lines().filter(|l| *l == "1000").count(), 2, "{out}");

    let (status, body) = hub.request(Method::DELETE, "/api/files?path=docs", token, None).await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "not_empty");
    let (status, _) = hub.request(Method::DELETE, "/api/files?path=docs&recursive=true", token, None).await.unwrap();
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = hub.request(Method::DELETE, "/api/files?path=", token, None).await.unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_do_not_cross_planted_links() {
    let hub = TestHub::start().await.unwrap();
    let ned = hub.create_user("ned").await.unwrap();
    let ola = hub.create_user("ola").await.unwrap();
    hub.start_workspace(&ned).await.unwrap();
    let ola_workspace = hub.data_dir.join("users").join(ola.user_id.to_string()).join("mnt/workspace");
    std::fs::create_dir_all(&ola_workspace).unwrap();
    std::fs::write(ola_workspace.join("keep.txt"), "ola's").unwrap();

    let plant = format!("cd /workspace && ln -s {} ola && ln -s /etc etc && echo mine > mine.txt", ola_workspace.display());
    let (code, out) = hub.exec(&ned, &plant).await.unwrap();
    assert_eq!(code, 0, "{out}");
    let token = Some(ned.access.as_str());

    let attempts = [
        (Method::POST, "/api/files/rename", Some(json!({"from": "mine.txt", "to": "ola/mine.txt"}))),
        (Method::POST, "/api/files/rename", Some(json!({"from": "ola/keep.txt", "to": "stolen.txt"}))),
        (Method::POST, "/api/files/rename", Some(json!({"from": "etc/hostname", "to": "hostname"}))),
        (Method::POST, "/api/files/mkdir", Some(json!({"path": "ola/new"}))),
        (Method::POST, "/api/files/mkdir", Some(json!({"path": "etc/cchub-test", "parents": true}))),
        (Method::DELETE, "/api/files?path=ola/keep.txt", None),
        (Method::DELETE, "/api/files?path=etc/hostname", None),
        (Method::GET, "/api/files/download?path=etc/passwd", None),
        (Method::GET, "/api/files/download?path=ola/keep.txt", None),
    ];
    for (method, path, body) in attempts {
        let (status, text) = hub.request(method.clone(), path, token, body.clone()).await.map(|(s, v)| (s, v.to_string())).unwrap_or_else(|_| (StatusCode::OK, "non-JSON body".into()));
        assert!(status.is_client_error(), "{method} {path} {body:?}: {status} {text}");
    }
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("planted.txt"));
    let response = hub.client.post(format!("{}/api/files/upload?path=ola", hub.url)).bearer_auth(&ned.access).multipart(form).send().await.unwrap();
    assert!(response.status().is_client_error());
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("../escape.txt"));
    let response = hub.client.post(format!("{}/api/files/upload", hub.url)).bearer_auth(&ned.access).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    assert_eq!(std::fs::read_to_string(ola_workspace.join("keep.txt")).unwrap(), "ola's");
    assert!(!ola_workspace.join("mine.txt").exists());
    assert!(!ola_workspace.join("planted.txt").exists());
    assert!(!ola_workspace.join("new").exists());
    assert!(!std::path::Path::new("/etc/cchub-test").exists());
    assert!(std::path::Path::new("/etc/hostname").exists());

    // Deleting the links removes the links only.
    for link in ["ola", "etc"] {
        let (status, _) = hub.request(Method::DELETE, &format!("/api/files?path={link}"), token, None).await.unwrap();
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    assert!(ola_workspace.join("keep.txt").exists());
}
