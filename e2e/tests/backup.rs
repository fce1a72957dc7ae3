//! Backups on the real engine: a backup taken while a user writes restores to a consistent
//! state, verify catches a corrupted archive, and restoring one user leaves the others alone.

use std::time::Duration;

use cchub_e2e::{postgres_backend, TestHub};
use cchub_server::backup;

fn quiet(_: &str) {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_verify_and_restore_one_user() {
    let hub = TestHub::start().await.unwrap();
    let sam = hub.create_user("sam").await.unwrap();
    let tea = hub.create_user("tea").await.unwrap();
    hub.start_workspace(&sam).await.unwrap();
    hub.start_workspace(&tea).await.unwrap();
    hub.exec(&sam, "echo before > /workspace/state.txt && echo home-note > ~/note.txt").await.unwrap();
    hub.exec(&tea, "echo tea-before > /workspace/state.txt").await.unwrap();

    // Sam rewrites a 1000-line file over and over while the backup runs; each rewrite is
    // a complete file renamed into place.
    let writer = {
        let runtime = hub.runtime.clone();
        let name = hub.container_name(sam.user_id);
        tokio::spawn(async move {
            let script = "for i in $(seq 1 300); do seq 1 1000 > /workspace/.lines.tmp && mv /workspace/.lines.tmp /workspace/lines.txt; done";
            cchub_e2e::exec_in_container(&runtime, &name, script).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let state = &hub.state;
    let manifest = backup::create(&state.config, &state.store, &hub.runtime, 7, &quiet).await.unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(60), writer).await;
    assert_eq!(manifest.users.len(), 2, "sam and tea; the admin never started a workspace: {manifest:?}");
    assert_eq!(backup::list(&state.config).unwrap()[0].name, manifest.name);
    let expected_database = if postgres_backend() { "database.pgdump" } else { "database.sqlite" };
    assert_eq!(manifest.database.file, expected_database);

    let report = backup::verify(&state.config, &manifest.name, &quiet).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // Both users change their files; Sam's are restored, Tea's stay new.
    hub.exec(&sam, "echo after > /workspace/state.txt && rm ~/note.txt").await.unwrap();
    hub.exec(&tea, "echo tea-after > /workspace/state.txt").await.unwrap();
    let restored = backup::restore(&state.config, &hub.runtime, &manifest.name, Some("sam"), &quiet).await.unwrap();
    assert_eq!(restored, 1);
    hub.start_workspace(&sam).await.unwrap();
    let (_, out) = hub.exec(&sam, "cat /workspace/state.txt ~/note.txt; wc -l < /workspace/lines.txt; stat -c %u /workspace/state.txt").await.unwrap();
    assert_eq!(out, "before\nhome-note\n1000\n1000\n", "sam's files as backed up, whole and owned by the user");
    let (_, out) = hub.exec(&tea, "cat /workspace/state.txt").await.unwrap();
    assert_eq!(out.trim(), "tea-after", "tea is untouched");

    // A flipped byte in an archive is caught.
    let dir = state.config.layout().backups_dir().join(&manifest.name);
    let archive = dir.join(&manifest.users.iter().find(|u| u.username == "tea").unwrap().archive.file);
    let mut bytes = std::fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let report = backup::verify(&state.config, &manifest.name, &quiet).await.unwrap();
    assert!(report.problems.iter().any(|p| p.contains("SHA-256")), "{:?}", report.problems);

    assert!(backup::verify(&state.config, "../etc", &quiet).await.is_err(), "names are checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmounted_images_are_backed_up_and_restored() {
    let hub = TestHub::start().await.unwrap();
    let uli = hub.create_user("uli").await.unwrap();
    hub.start_workspace(&uli).await.unwrap();
    hub.exec(&uli, "echo kept-through-reboot > /workspace/reboot.txt").await.unwrap();
    hub.stop_workspace(&uli).await.unwrap();

    // As after a reboot: the image is there, its mount point empty.
    let mnt = hub.state.config.layout().user(uli.user_id).mnt;
    let unmount = std::process::Command::new("umount").arg(&mnt).output().unwrap();
    assert!(unmount.status.success(), "{}", String::from_utf8_lossy(&unmount.stderr));
    assert!(!mnt.join("workspace/reboot.txt").exists());

    let state = &hub.state;
    let manifest = backup::create(&state.config, &state.store, &hub.runtime, 7, &quiet).await.unwrap();
    let archive = state.config.layout().backups_dir().join(&manifest.name).join(&manifest.users[0].archive.file);
    let listing = std::process::Command::new("tar").arg("--zstd").arg("-tf").arg(&archive).output().unwrap();
    assert!(String::from_utf8_lossy(&listing.stdout).contains("workspace/reboot.txt"), "{}", String::from_utf8_lossy(&listing.stdout));

    // A restore into an unmounted image lands inside the image, not under it: the file
    // changed after the backup is put back as it was.
    std::fs::write(mnt.join("workspace/reboot.txt"), "changed later\n").unwrap();
    let unmount = std::process::Command::new("umount").arg(&mnt).output().unwrap();
    assert!(unmount.status.success(), "{}", String::from_utf8_lossy(&unmount.stderr));
    backup::restore(&state.config, &hub.runtime, &manifest.name, Some("uli"), &quiet).await.unwrap();
    hub.start_workspace(&uli).await.unwrap();
    let (_, out) = hub.exec(&uli, "cat /workspace/reboot.txt").await.unwrap();
    assert_eq!(out.trim(), "kept-through-reboot");
}
