//! A 100 MB upload and download go through the hub with constant memory.

use cchub_e2e::TestHub;
use futures_util::StreamExt;
use reqwest::StatusCode;

const SIZE: usize = 100 << 20;
const CHUNK: usize = 256 << 10;

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Deterministic content, so both ends can check it without keeping it.
fn byte_at(index: usize) -> u8 {
    (index.wrapping_mul(2_654_435_761) >> 13) as u8
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_megabytes_with_constant_memory() {
    let hub = TestHub::start().await.unwrap();
    let pia = hub.create_user("pia").await.unwrap();

    // Reset the peak to the current size; the test process contains both hub and client.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = peak_rss_kib();

    let boundary = "cchub-test-boundary";
    let head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n");
    let tail = format!("\r\n--{boundary}--\r\n");
    let chunks = (0..SIZE / CHUNK).map(|n| {
        let bytes: Vec<u8> = (n * CHUNK..(n + 1) * CHUNK).map(byte_at).collect();
        Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))
    });
    let body = futures_util::stream::iter(std::iter::once(Ok(bytes::Bytes::from(head)))
        .chain(chunks)
        .chain(std::iter::once(Ok(bytes::Bytes::from(tail)))));
    let response = hub
        .client
        .post(format!("{}/api/files/upload", hub.url))
        .bearer_auth(&pia.access)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());

    let on_disk = hub.data_dir.join("users").join(pia.user_id.to_string()).join("mnt/workspace/big.bin");
    assert_eq!(std::fs::metadata(&on_disk).unwrap().len(), SIZE as u64);

    let response = hub.client.get(format!("{}/api/files/download?path=big.bin", hub.url)).bearer_auth(&pia.access).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-length"], SIZE.to_string().as_str());
    let mut stream = response.bytes_stream();
    let mut offset = 0usize;
    while let Some(chunk) = stream.next().await {
        for byte in chunk.unwrap() {
            assert_eq!(byte, byte_at(offset), "byte {offset} differs");
            offset += 1;
        }
    }
    assert_eq!(offset, SIZE);

    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    assert!(grown_mib < 40, "peak memory grew by {grown_mib} MiB while moving 100 MiB each way");
}
