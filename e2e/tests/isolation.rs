//! Two users at once: each receives only their own events and files.

use cchub_e2e::{chat, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_see_only_their_own_work() {
    let hub = TestHub::start().await.unwrap();
    let alice = hub.create_user("alice").await.unwrap();
    let bob = hub.create_user("bob").await.unwrap();

    let (a, b) = tokio::join!(
        chat(&hub, &alice, "[[bash: echo alice-secret > mine.txt && echo ran-for-alice]] [[text: alice done]]"),
        chat(&hub, &bob, "[[bash: echo bob-secret > mine.txt && echo ran-for-bob]] [[text: bob done]]"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let a_text = serde_json::to_string(&a).unwrap();
    let b_text = serde_json::to_string(&b).unwrap();
    assert!(a_text.contains("ran-for-alice"), "{a_text}");
    assert!(!a_text.contains("ran-for-bob"), "{a_text}");
    assert!(b_text.contains("ran-for-bob"), "{b_text}");
    assert!(!b_text.contains("ran-for-alice"), "{b_text}");
    assert_eq!(a.last().unwrap()["exit_code"], 0);
    assert_eq!(b.last().unwrap()["exit_code"], 0);

    for (session, expected) in [(&alice, "alice-secret\n"), (&bob, "bob-secret\n")] {
        let (status, body) = hub.request(Method::GET, "/api/files/content?path=mine.txt", Some(&session.access), None).await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["content"], expected);
    }

    // Alice tries every way the API offers to reach Bob's folder.
    let bob_root = hub.data_dir.join("users").join(bob.user_id.to_string());
    let bob_workspace = bob_root.join("mnt/workspace");
    // Query values exactly as sent on the wire; the hub decodes each once.
    let attempts = [
        format!("../../{}/mnt/workspace/mine.txt", bob.user_id),
        url_encode(&format!("/{}", bob_workspace.join("mine.txt").display())),
        url_encode(&bob_workspace.join("mine.txt").display().to_string()),
        format!("%2e%2e/%2e%2e/{}/mnt/workspace/mine.txt", bob.user_id),
        format!("..%2f..%2f{}%2fmnt%2fworkspace%2fmine.txt", bob.user_id),
        format!("x/%2e%2e/%2e%2e/%2e%2e/{}/mnt/workspace/mine.txt", bob.user_id),
        "mine.txt%00.png".to_string(),
    ];
    for query in &attempts {
        for endpoint in ["/api/files/content", "/api/files/tree"] {
            let (status, body) = hub.request(Method::GET, &format!("{endpoint}?path={query}"), Some(&alice.access), None).await.unwrap();
            assert!(status.is_client_error(), "{endpoint} {query}: {status} {body}");
            assert!(!body.to_string().contains("bob-secret"));
        }
        let (status, _) = hub
            .request(Method::PUT, &format!("/api/files/content?path={query}"), Some(&alice.access), Some(json!({"content": "overwritten"})))
            .await
            .unwrap();
        assert!(status.is_client_error(), "write {query}: {status}");
    }
    // Encoded twice, the dots reach the hub as a literal name: it stays in Alice's tree.
    let (status, body) = hub
        .request(Method::PUT, "/api/files/content?path=%252e%252e", Some(&alice.access), Some(json!({"content": "literal"})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    let alice_workspace = hub.data_dir.join("users").join(alice.user_id.to_string()).join("mnt/workspace");
    assert_eq!(std::fs::read_to_string(alice_workspace.join("%2e%2e")).unwrap(), "literal");
    assert_eq!(std::fs::read_to_string(bob_workspace.join("mine.txt")).unwrap(), "bob-secret\n");

    // A symbolic link Alice plants in her own workspace towards Bob's files.
    let (code, out) = hub.exec(&alice, &format!("ln -s {} /workspace/to-bob && ln -s ../../{}/mnt/workspace /workspace/rel-bob", bob_workspace.display(), bob.user_id)).await.unwrap();
    assert_eq!(code, 0, "{out}");
    for path in ["to-bob/mine.txt", "rel-bob/mine.txt", "to-bob", "rel-bob"] {
        let (status, body) = hub.request(Method::GET, &format!("/api/files/content?path={path}"), Some(&alice.access), None).await.unwrap();
        assert!(status.is_client_error(), "{path}: {status} {body}");
        assert!(!body.to_string().contains("bob-secret"));
        let (status, body) = hub.request(Method::GET, &format!("/api/files/tree?path={path}"), Some(&alice.access), None).await.unwrap();
        assert!(status.is_client_error(), "tree {path}: {status} {body}");
    }
    let (status, _) = hub
        .request(Method::PUT, "/api/files/content?path=to-bob/planted.txt", Some(&alice.access), Some(json!({"content": "x"})))
        .await
        .unwrap();
    assert!(status.is_client_error());
    assert!(!bob_workspace.join("planted.txt").exists());

    // A host account that shares the containers' uid 1000 cannot reach them either.
    let host_read = std::process::Command::new("setpriv")
        .args(["--reuid=1000", "--regid=1000", "--clear-groups", "cat"])
        .arg(bob_workspace.join("mine.txt"))
        .output()
        .unwrap();
    assert!(!host_read.status.success(), "uid 1000 on the host read Bob's file");
    assert!(String::from_utf8_lossy(&host_read.stderr).contains("Permission denied"), "{host_read:?}");
    let host_socket = std::process::Command::new("setpriv")
        .args(["--reuid=1000", "--regid=1000", "--clear-groups", "socat", "-u", "/dev/null"])
        .arg(format!("UNIX-CONNECT:{}", bob_root.join("run/model.sock").display()))
        .output()
        .unwrap();
    assert!(!host_socket.status.success(), "uid 1000 on the host reached Bob's gateway socket");

    // Inside the container Bob's folders do not exist at all.
    let (_, out) = hub.exec(&alice, &format!("ls {} 2>&1; cat {} 2>&1", bob_root.display(), bob_workspace.join("mine.txt").display())).await.unwrap();
    assert!(out.contains("No such file"), "{out}");
    assert!(!out.contains("bob-secret"));
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_id_never_gets_old_files() {
    // After a database restore from an older backup, a new account can get the id of an
    // account that the restore forgot, whose folder is still on disk.
    let hub = TestHub::start().await.unwrap();
    let judy = hub.create_user("judy").await.unwrap();
    let root = hub.data_dir.join("users").join(judy.user_id.to_string());
    std::fs::create_dir_all(root.join("mnt/workspace")).unwrap();
    std::fs::write(root.join("owner.json"), r#"{"username":"ivan","created_at":1}"#).unwrap();
    std::fs::write(root.join("mnt/workspace/ivan-secret.txt"), "ivan's notes").unwrap();

    hub.start_workspace(&judy).await.unwrap();
    let (_, out) = hub.exec(&judy, "ls -A /workspace; cat /workspace/ivan-secret.txt 2>&1").await.unwrap();
    assert!(!out.contains("ivan's notes"), "the new account sees the old account's file: {out}");

    // The old files are kept aside for an administrator, and the move is audited.
    let orphaned: Vec<_> = std::fs::read_dir(hub.data_dir.join("users/orphaned")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(orphaned.len(), 1, "{orphaned:?}");
    assert_eq!(std::fs::read_to_string(orphaned[0].join("mnt/workspace/ivan-secret.txt")).unwrap(), "ivan's notes");
    let (_, audit) = hub.request(reqwest::Method::GET, "/api/admin/audit?action=workspace.foreign_folder_moved", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(audit[0]["detail"]["previous_owner"], "ivan", "{audit}");

    // The folder is now marked as Judy's, and a second start keeps her files.
    hub.exec(&judy, "echo mine > /workspace/judy.txt").await.unwrap();
    hub.stop_workspace(&judy).await.unwrap();
    hub.start_workspace(&judy).await.unwrap();
    let (_, out) = hub.exec(&judy, "cat /workspace/judy.txt").await.unwrap();
    assert_eq!(out.trim(), "mine");
}
