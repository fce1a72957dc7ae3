//! Network modes on the real engine: the egress proxy's allowlist, and per-user internal
//! networks that reach neither each other nor the hub.

use std::time::Duration;

use bollard::query_parameters::{InspectContainerOptions, InspectNetworkOptions};
use cchub_e2e::{HubOptions, TestHub};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Starts a one-line echo server on host loopback as the listed upstream.
async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for _ in 0..20 {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let mut buffer = [0u8; 256];
                if let Ok(n) = stream.read(&mut buffer).await {
                    let _ = stream.write_all(b"upstream says: ").await;
                    let _ = stream.write_all(&buffer[..n]).await;
                }
            });
        }
    });
    port
}

/// Sends a CONNECT for `target` through the container's proxy relay and then `payload`;
/// prints everything that comes back.
fn connect_script(target: &str, payload: &str) -> String {
    format!(
        r#"exec 3<>/dev/tcp/127.0.0.1/4142 || exit 9
printf 'CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n' >&3
IFS= read -r status <&3; echo "$status"
if echo "$status" | grep -q ' 200 '; then
  IFS= read -r blank <&3
  printf '{payload}\n' >&3
  timeout 5 cat <&3
fi"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_passes_listed_hosts_only() {
    let port = echo_server().await;
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some(format!(
            "security:\n  network_mode: proxy\nresources:\n  tiers:\n    free: {{ egress_allowlist: ['127.0.0.1:{port}', 'localhost:{port}', '*.example.org'] }}\n"
        )),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let wren = hub.create_user("wren").await.unwrap();
    hub.start_workspace(&wren).await.unwrap();

    let (_, out) = hub.exec(&wren, "ls /sys/class/net; echo $HTTPS_PROXY").await.unwrap();
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["lo", "http://127.0.0.1:4142"], "{out}");

    let (_, out) = hub.exec_bash(&wren, &connect_script(&format!("127.0.0.1:{port}"), "hello")).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("upstream says: hello"), "{out}");

    for target in ["example.com:443", &format!("127.0.0.1:{}", port + 1), "example.org:443", "169.254.169.254:80"] {
        let (_, out) = hub.exec_bash(&wren, &connect_script(target, "x")).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 403"), "{target}: {out}");
    }
    // A listed name that leads to the hub's own host is refused all the same.
    let (_, out) = hub.exec_bash(&wren, &connect_script(&format!("localhost:{port}"), "x")).await.unwrap();
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    let (_, out) = hub.exec_bash(&wren, "exec 3<>/dev/tcp/127.0.0.1/4142; printf 'GET http://example.com/ HTTP/1.1\\r\\nHost: example.com\\r\\n\\r\\n' >&3; head -1 <&3").await.unwrap();
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");

    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, allowed) = hub.request(Method::GET, "/api/admin/audit?action=egress.allow", Some(&hub.admin.access), None).await.unwrap();
    let (_, denied) = hub.request(Method::GET, "/api/admin/audit?action=egress.deny", Some(&hub.admin.access), None).await.unwrap();
    assert_eq!(allowed.as_array().unwrap().len(), 1, "{allowed}");
    assert_eq!(denied.as_array().unwrap().len(), 5, "{denied}");
    assert_eq!(allowed[0]["target"], format!("127.0.0.1:{port}"));
    assert_eq!(allowed[0]["actor"], "wren");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_networks_are_isolated() {
    // User ids restart at 1 in every test hub, so each hub takes a /21 of its own from
    // 10.128.0.0/9 to keep its networks clear of other test runs on the same engine.
    let block = rand::random::<u32>() % 4096;
    let pool = std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(10, 128, 0, 0)) + block * 2048);
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some(format!(
            "security:\n  internal_subnet_pool: {pool}/21\nresources:\n  tiers:\n    free: {{ network_mode: internal }}\n"
        )),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let xan = hub.create_user("xan").await.unwrap();
    let yul = hub.create_user("yul").await.unwrap();
    let xan_id = hub.start_workspace(&xan).await.unwrap();
    let yul_id = hub.start_workspace(&yul).await.unwrap();

    let address_of = |inspect: bollard::models::ContainerInspectResponse| -> (String, String, String) {
        let networks = inspect.network_settings.unwrap().networks.unwrap();
        let (name, endpoint) = networks.into_iter().next().unwrap();
        (name, endpoint.ip_address.unwrap(), endpoint.gateway.unwrap_or_default())
    };
    let (xan_net, _xan_ip, xan_gateway) = address_of(hub.runtime.client().inspect_container(&xan_id, None::<InspectContainerOptions>).await.unwrap());
    let (yul_net, yul_ip, _) = address_of(hub.runtime.client().inspect_container(&yul_id, None::<InspectContainerOptions>).await.unwrap());
    assert_ne!(xan_net, yul_net, "each user has a network of their own");

    let network = hub.runtime.client().inspect_network(&xan_net, None::<InspectNetworkOptions>).await.unwrap();
    assert_eq!(network.internal, Some(true));
    assert_eq!(network.options.unwrap()["com.docker.network.bridge.enable_icc"], "false");
    let expected = hub.state.config.security.internal_subnet_pool.network_for(&hub.instance, xan.user_id).unwrap();
    assert_eq!(network.ipam.unwrap().config.unwrap()[0].subnet.as_deref(), Some(expected.subnet.as_str()));

    // Yul serves on 8080; Yul can reach it, Xan cannot, and neither reaches the hub.
    hub.exec(&yul, "nohup socat TCP-LISTEN:8080,reuseaddr,fork SYSTEM:'echo hello-from-yul' >/dev/null 2>&1 &").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let probe = |address: &str, port: u16| format!("timeout 3 bash -c 'exec 3<>/dev/tcp/{address}/{port} && cat <&3' 2>&1; echo rc=$?");
    let (_, own) = hub.exec_bash(&yul, &probe(&yul_ip, 8080)).await.unwrap();
    assert!(own.contains("hello-from-yul"), "control: the listener answers its own container: {own}");
    let (_, cross) = hub.exec_bash(&xan, &probe(&yul_ip, 8080)).await.unwrap();
    assert!(!cross.contains("hello-from-yul"), "{cross}");
    assert!(!cross.contains("rc=0"), "{cross}");

    let hub_port: u16 = hub.url.rsplit(':').next().unwrap().parse().unwrap();
    for address in [xan_gateway.as_str(), "127.0.0.1"] {
        let (_, out) = hub.exec_bash(&xan, &probe(address, hub_port)).await.unwrap();
        assert!(!out.contains("rc=0"), "the hub at {address}:{hub_port} must be unreachable: {out}");
    }

    // A host service on the bridge's own address, as a service on 0.0.0.0 would be, is
    // dropped by the host firewall. The control shows that it answers on the host.
    let host_service = tokio::net::TcpListener::bind((xan_gateway.as_str(), 0)).await.unwrap();
    let service_port = host_service.local_addr().unwrap().port();
    tokio::spawn(async move {
        for _ in 0..5 {
            let Ok((mut stream, _)) = host_service.accept().await else { return };
            let _ = stream.write_all(b"host-service\n").await;
        }
    });
    let mut control = tokio::net::TcpStream::connect((xan_gateway.as_str(), service_port)).await.unwrap();
    let mut greeting = String::new();
    control.read_to_string(&mut greeting).await.unwrap();
    assert_eq!(greeting, "host-service\n");
    let (_, out) = hub.exec_bash(&xan, &probe(&xan_gateway, service_port)).await.unwrap();
    assert!(!out.contains("host-service"), "a host service on {xan_gateway}:{service_port} must be unreachable: {out}");
    assert!(!out.contains("rc=0"), "{out}");
    let (status, report) = hub.request(Method::GET, "/api/admin/doctor", Some(&hub.admin.access), None).await.unwrap();
    assert!(status.is_success(), "{report}");
    let network_check = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "network").unwrap().clone();
    assert_eq!(network_check["status"], "PASS", "{network_check}");

    // Moving Xan to a tier without an internal network removes Xan's network.
    let path = format!("/api/admin/users/{}", xan.user_id);
    let (status, body) = hub.request(Method::PATCH, &path, Some(&hub.admin.access), Some(serde_json::json!({"tier": "pro"}))).await.unwrap();
    assert!(status.is_success(), "{body}");
    // The running container keeps its network until a stop; the next start applies the tier.
    hub.stop_workspace(&xan).await.unwrap();
    hub.start_workspace(&xan).await.unwrap();
    let gone = hub.runtime.client().inspect_network(&xan_net, None::<InspectNetworkOptions>).await;
    assert!(gone.is_err(), "{xan_net} must be removed once unused");
    let still = hub.runtime.client().inspect_network(&yul_net, None::<InspectNetworkOptions>).await;
    assert!(still.is_ok(), "other users keep their networks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bridge_mode_works_and_the_doctor_warns() {
    let hub = TestHub::start_with(HubOptions {
        config_yaml: Some("resources:\n  tiers:\n    pro: { network_mode: bridge }\n".into()),
        ..HubOptions::default()
    })
    .await
    .unwrap();
    let zed = hub.create_user("zed").await.unwrap();
    let zed_id = hub.start_workspace(&zed).await.unwrap();
    let inspect = hub.runtime.client().inspect_container(&zed_id, None::<InspectContainerOptions>).await.unwrap();
    assert_eq!(inspect.host_config.unwrap().network_mode.as_deref(), Some("none"), "the free tier keeps none");

    let (status, report) = hub.request(Method::GET, "/api/admin/doctor", Some(&hub.admin.access), None).await.unwrap();
    assert!(status.is_success(), "{report}");
    let network = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "network").unwrap().clone();
    assert_eq!(network["status"], "WARN", "{network}");
    assert!(network["evidence"].as_str().unwrap().contains("pro"), "{network}");

    let path = format!("/api/admin/users/{}", zed.user_id);
    let (status, body) = hub.request(Method::PATCH, &path, Some(&hub.admin.access), Some(serde_json::json!({"tier": "pro"}))).await.unwrap();
    assert!(status.is_success(), "{body}");
    hub.stop_workspace(&zed).await.unwrap();
    let zed_id = hub.start_workspace(&zed).await.unwrap();
    let inspect = hub.runtime.client().inspect_container(&zed_id, None::<InspectContainerOptions>).await.unwrap();
    assert_eq!(inspect.host_config.unwrap().network_mode.as_deref(), Some("bridge"));
    let (_, out) = hub.exec(&zed, "ls /sys/class/net").await.unwrap();
    assert!(out.split_whitespace().any(|i| i == "eth0"), "{out}");
}
