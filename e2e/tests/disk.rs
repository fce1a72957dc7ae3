//! Per-user disk images: the tier's disk size is enforced inside the container, other users and
//! the hub are unaffected, and plain folders move into an image without loss.

use cchub_e2e::{HubOptions, TestHub};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_past_the_quota_fails_with_enospc() {
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some("resources:\n  tiers:\n    free: { disk: 64M }\n".into()),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let quinn = hub.create_user("quinn").await.unwrap();
    let rosa = hub.create_user("rosa").await.unwrap();
    hub.start_workspace(&quinn).await.unwrap();
    hub.start_workspace(&rosa).await.unwrap();

    let (_, out) = hub.exec(&quinn, "df -k /workspace | tail -1; grep -c ' /workspace ' /proc/self/mountinfo").await.unwrap();
    let size_kib: u64 = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(size_kib < 70 * 1024, "the workspace should be a 64 MiB disk: {out}");

    let (code, out) = hub.exec(&quinn, "dd if=/dev/zero of=/workspace/fill bs=1M count=100 2>&1").await.unwrap();
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("No space left on device"), "{out}");

    // Rosa, the hub's database and the data directory are unaffected.
    let (code, out) = hub.exec(&rosa, "dd if=/dev/zero of=/workspace/ok bs=1M count=10 2>&1 && echo written").await.unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(hub.create_user("sam").await.is_ok());
    let (status, _) = hub.request(Method::PUT, "/api/files/content?path=after.txt", Some(&rosa.access), Some(json!({"content": "fine"}))).await.unwrap();
    assert_eq!(status, StatusCode::OK);

    // The hub's resource check reports the full disk.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, rows) = hub.request(Method::GET, "/api/admin/audit?action=container.disk_full", Some(&hub.admin.access), None).await.unwrap();
        if let Some(row) = rows.as_array().and_then(|rows| rows.first()) {
            assert_eq!(row["actor"], "quinn", "{row}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no container.disk_full audit row within 15 s");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }

    // An upload to the full disk gets the same error as a save.
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(vec![b'u'; 2 << 20]).file_name("big.bin"));
    let response = hub.client.post(format!("{}/api/files/upload?path=", hub.url)).bearer_auth(&quinn.access).multipart(form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::INSUFFICIENT_STORAGE);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "disk_full", "{body}");

    // Quinn can free space again and write.
    let (code, out) = hub.exec(&quinn, "rm /workspace/fill && echo again > /workspace/again.txt && cat /workspace/again.txt").await.unwrap();
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_folders_move_into_an_image() {
    let first = TestHub::start_with(HubOptions {
        config_yaml: Some("containers:\n  disk_images: false\n".into()),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let tess = first.create_user("tess").await.unwrap();
    let (status, _) = first
        .request(Method::PUT, "/api/files/content?path=kept.txt", Some(&tess.access), Some(json!({"content": "before the image"})))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    first.start_workspace(&tess).await.unwrap();
    first.exec(&tess, "mkdir -p /workspace/deep/er && echo nested > /workspace/deep/er/file && ln -s kept.txt /workspace/link && echo home > ~/.profile-note").await.unwrap();
    let upstream = first.mock.as_ref().unwrap().url();
    let mock = first.mock.clone();
    let (data_dir, instance, tempdir) = first.stop_keeping_state().await;

    let second = TestHub::start_with(HubOptions {
        upstream: Some(upstream),
        reuse: Some((data_dir.clone(), instance)),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let _keep = (tempdir, mock);
    let tess = second.login("tess", "tess-password-1").await.unwrap();
    second.start_workspace(&tess).await.unwrap();

    let (code, out) = second
        .exec(&tess, "cat /workspace/kept.txt /workspace/deep/er/file /workspace/link ~/.profile-note; stat -c %u /workspace/kept.txt; grep ' /workspace ' /proc/self/mountinfo")
        .await
        .unwrap();
    assert_eq!(code, 0, "{out}");
    // The API wrote kept.txt without a final newline, so cat runs it into the next file.
    assert!(out.contains("before the imagenested\nbefore the imagehome\n1000"), "{out}");
    let user_root = data_dir.join("users").join(tess.user_id.to_string());
    assert!(user_root.join("disk.img").is_file());
    assert!(!user_root.join("mnt.before-disk-image").exists(), "the old folder is removed after the move");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mount_point = user_root.join("mnt").to_string_lossy().to_string();
    let mounted = mountinfo.lines().any(|l| l.contains(&mount_point) && (l.contains(" - xfs ") || l.contains(" - ext4 ")));
    assert!(mounted, "the image is mounted: {mountinfo}");
}
