//! The web UI served by a real hub: static files with their caching and security headers,
//! and Debian's Chromium driving sign-in, the language switch, the workspace page and an
//! admin's tier change (`web/e2e/ui.mjs`). Needs `npm ci && npm run build` in web/ first,
//! as the test command does.

use std::path::PathBuf;

use cchub_e2e::{HubOptions, TestHub, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};

fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web")
}

async fn hub_with_ui() -> TestHub {
    let dist = web_dir().join("dist");
    assert!(dist.join("index.html").is_file(), "the web UI is not built: run `npm ci && npm run build` in web/");
    TestHub::start_with(HubOptions {
        config_yaml: Some(format!("server:\n  web_dir: {}\n", dist.display())),
        ..HubOptions::default()
    })
    .await
    .unwrap()
}

async fn get(hub: &TestHub, path: &str) -> reqwest::Response {
    reqwest::Client::new().get(format!("{}{path}", hub.url)).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_have_cache_and_csp() {
    let hub = hub_with_ui().await;

    let index = get(&hub, "/").await;
    assert_eq!(index.status(), StatusCode::OK);
    let headers = index.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("connect-src 'self';"), "connections, WebSockets included, go to this origin only: {csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let html = index.text().await.unwrap();
    let script = html.split("src=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("index.html names its script");
    assert!(script.starts_with("/assets/"), "{html}");

    let asset = get(&hub, script).await;
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(asset.headers()["content-type"], "text/javascript; charset=utf-8");

    // Application paths get the page; API paths and missing files keep their errors.
    let admin = get(&hub, "/admin").await;
    assert_eq!(admin.status(), StatusCode::OK);
    assert!(admin.text().await.unwrap().contains("<div id=\"app\">"));
    let api = get(&hub, "/api/nothing-here").await;
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    assert_eq!(api.json::<serde_json::Value>().await.unwrap()["error"]["code"], "route_not_found");
    for path in ["/assets/missing.js", "/.env", "/assets/..%2f..%2fsecrets"] {
        assert_eq!(get(&hub, path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = hub.request(Method::DELETE, "/", None, None).await.unwrap();
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_walks_every_screen() {
    let hub = hub_with_ui().await;
    let user = hub.create_user("lin").await.unwrap();
    hub.start_workspace(&user).await.unwrap();

    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = web_dir().join("e2e/ui.mjs");
    let run = tokio::process::Command::new("node")
        .arg(&script)
        .current_dir(web_dir())
        .env("HUB_URL", &hub.url)
        .env("USER_NAME", "lin")
        .env("USER_PASSWORD", "lin-password-1")
        .env("ADMIN_NAME", "admin")
        .env("ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("SHOTS", &shots)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(180), run).await.expect("the browser script timed out").unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "browser checks failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("web UI checks passed"), "{stdout}");
    let (_, saved) = hub.exec(&user, "cat /workspace/notes.md; wc -c < /workspace/data.txt").await.unwrap();
    assert!(saved.contains("# 标题 saved-$((1))"), "the editor saved the file: {saved}");
    assert!(saved.contains("300000"), "the upload arrived whole: {saved}");
    for shot in ["login-zh.png", "workspace-zh.png", "chat-en.png", "files-en.png", "terminal-en.png", "admin-en.png", "admin-containers-en.png", "admin-doctor-en.png", "workspace-en-dark-phone.png"] {
        assert!(shots.join(shot).is_file(), "{shot} missing");
    }
}
