//! The shipped nginx configuration (deploy/nginx/cchub.conf) in front of a real hub:
//! Debian's nginx with a self-signed certificate, and sign-in, a chat run and a terminal
//! session driven through it over HTTPS and WSS.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cchub_e2e::{repo_root, ChatSocket, HubOptions, ShellSocket, TestHub, ADMIN_PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_tungstenite::Connector;

const NGINX: &str = "/usr/sbin/nginx";

/// The client address of the test's HTTPS requests: another loopback address than the
/// one nginx uses towards the hub, so the hub's view of the client can be checked.
const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// Runs `openssl` with `args`, then each option with its path.
fn openssl(args: &[&str], paths: &[(&str, &Path)]) -> anyhow::Result<()> {
    let mut command = Command::new("openssl");
    command.args(args);
    for (option, path) in paths {
        command.arg(option).arg(path);
    }
    let output = command.output().context("cannot run openssl")?;
    if !output.status.success() {
        bail!("openssl {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
    }
    Ok(())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running nginx with the shipped configuration, its paths and ports moved into a
/// temporary folder. Stopped when dropped.
struct Nginx {
    dir: tempfile::TempDir,
    child: Option<Child>,
    http: SocketAddr,
    https: SocketAddr,
    ca_pem: Vec<u8>,
}

impl Nginx {
    /// Writes the certificate and the configuration and runs `nginx -t` on them.
    fn prepare(hub: SocketAddr) -> anyhow::Result<Self> {
        if !Path::new(NGINX).exists() {
            bail!("{NGINX} is missing; scripts/test.sh installs Debian's nginx package");
        }
        let dir = tempfile::Builder::new().prefix("cchub-nginx-").tempdir()?;
        let root = dir.path();
        for sub in ["cache", "acme", "tmp"] {
            std::fs::create_dir_all(root.join(sub))?;
        }

        // A private CA, which the clients below trust, and a server certificate for
        // 127.0.0.1 signed by it. A self-signed certificate will not do: rustls refuses a
        // CA certificate presented as the server's own.
        let ca_key = root.join("ca.key");
        let ca_pem = root.join("ca.pem");
        openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cchub-e2e-ca"], &[("-keyout", &ca_key), ("-out", &ca_pem)])?;
        let csr = root.join("server.csr");
        openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1"], &[("-keyout", &root.join("privkey.pem")), ("-out", &csr)])?;
        let extensions = root.join("server.ext");
        std::fs::write(&extensions, "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")?;
        openssl(
            &["x509", "-req", "-days", "2", "-CAcreateserial"],
            &[("-in", &csr), ("-CA", &ca_pem), ("-CAkey", &ca_key), ("-extfile", &extensions), ("-out", &root.join("fullchain.pem"))],
        )?;

        let http = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let https = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let shipped = std::fs::read_to_string(repo_root().join("deploy/nginx/cchub.conf"))?;
        // Only addresses and paths change; every directive is the shipped one.
        let replacements = [
            ("listen [::]:80;\n", String::new()),
            ("listen [::]:443 ssl http2;\n", String::new()),
            ("listen 80;", format!("listen {http};")),
            ("listen 443 ssl http2;", format!("listen {https} ssl http2;")),
            ("127.0.0.1:3001", hub.to_string()),
            ("/etc/letsencrypt/live/cchub.example.com/", format!("{}/", root.display())),
            ("/var/cache/cchub-nginx", root.join("cache").display().to_string()),
            ("/var/www/certbot", root.join("acme").display().to_string()),
            ("cchub.example.com", "127.0.0.1".to_string()),
        ];
        let mut config = shipped.clone();
        for (from, to) in &replacements {
            if !config.contains(from) {
                bail!("deploy/nginx/cchub.conf no longer contains {from:?}; update this test's replacements");
            }
            config = config.replace(from, to);
        }
        std::fs::write(root.join("cchub.conf"), config)?;

        // The main file a distribution's nginx.conf would be, with its paths in the folder.
        let tmp = root.join("tmp");
        let main = format!(
            "user root;\nworker_processes 1;\npid {pid};\nerror_log {root}/error.log;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log {root}/access.log;\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n\
             fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n  include {root}/cchub.conf;\n}}\n",
            pid = root.join("nginx.pid").display(),
            root = root.display(),
            tmp = tmp.display(),
        );
        std::fs::write(root.join("nginx.conf"), main)?;

        let check = Command::new(NGINX).args(Self::args(root)).arg("-t").output()?;
        if !check.status.success() {
            bail!("nginx -t rejected the configuration: {}", String::from_utf8_lossy(&check.stderr));
        }
        let ca_pem = std::fs::read(root.join("ca.pem"))?;
        Ok(Self { dir, child: None, http, https, ca_pem })
    }

    fn args(root: &Path) -> Vec<String> {
        vec!["-p".into(), format!("{}/", root.display()), "-e".into(), root.join("error.log").display().to_string(), "-c".into(), root.join("nginx.conf").display().to_string()]
    }

    /// Starts nginx in the foreground and waits until its HTTPS port accepts connections.
    async fn start(mut self) -> anyhow::Result<Self> {
        let child = Command::new(NGINX)
            .args(Self::args(self.dir.path()))
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start nginx")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(self.https).await.is_err() {
            if Instant::now() > deadline {
                bail!("nginx did not listen on {} within 10 s: {}", self.https, self.error_log());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(self)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    fn base(&self) -> String {
        format!("https://{}", self.https)
    }

    fn client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&self.ca_pem).unwrap())
            .tls_built_in_root_certs(false)
            .local_address(CLIENT_IP)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
    }

    /// Returns a TLS connector for the WebSocket clients that trusts only the test certificate.
    fn connector(&self) -> Connector {
        let mut roots = rustls::RootCertStore::empty();
        let mut pem = self.ca_pem.as_slice();
        let certificate = rustls_pemfile_first(&mut pem);
        roots.add(certificate).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Connector::Rustls(Arc::new(config))
    }
}

/// Decodes the first PEM certificate, without another crate for the format.
fn rustls_pemfile_first(pem: &mut &[u8]) -> rustls::pki_types::CertificateDer<'static> {
    use base64::Engine;
    let text = std::str::from_utf8(pem).unwrap();
    let body: String = text
        .lines()
        .skip_while(|line| !line.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|line| !line.starts_with("-----END CERTIFICATE-----"))
        .collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    rustls::pki_types::CertificateDer::from(der)
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The worker process exits with its master; the pid file names the master only.
    }
}

fn hub_addr(hub: &TestHub) -> SocketAddr {
    hub.url.trim_start_matches("http://").parse().unwrap()
}

async fn start_hub() -> TestHub {
    let dist = repo_root().join("web/dist");
    assert!(dist.join("index.html").is_file(), "{} is missing; build the web UI first (cd web && npm ci && npm run build)", dist.display());
    TestHub::start_with(HubOptions {
        config_yaml: Some(format!("server:\n  web_dir: {}\n  trusted_proxies: [127.0.0.1]\n", dist.display())),
        ..HubOptions::default()
    })
    .await
    .unwrap()
}

async fn json_body(response: reqwest::Response) -> Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

#[tokio::test]
async fn shipped_config_passes_nginx_t() {
    // Any loopback port stands for the hub; nginx -t does not connect to it.
    let nginx = Nginx::prepare("127.0.0.1:3001".parse().unwrap()).unwrap();
    let config = std::fs::read_to_string(nginx.dir.path().join("cchub.conf")).unwrap();
    assert!(config.contains("Strict-Transport-Security"));
    assert!(config.contains("proxy_set_header Upgrade $http_upgrade;"));
}

#[tokio::test]
async fn sign_in_chat_and_terminal_over_tls() {
    let hub = start_hub().await;
    let nginx = Nginx::prepare(hub_addr(&hub)).unwrap().start().await.unwrap();
    let client = nginx.client();
    let base = nginx.base();

    // Plain HTTP is redirected to HTTPS, path and query kept.
    let response = client.get(format!("http://{}/files?x=1", nginx.http)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(response.headers()["location"], "https://127.0.0.1/files?x=1");

    // Sign-in over HTTPS. The forged X-Forwarded-For is replaced by nginx, so the hub
    // records the real client address.
    let response = client
        .post(format!("{base}/api/auth/login"))
        .header("x-forwarded-for", "203.0.113.9")
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let hsts = response.headers().get("strict-transport-security").expect("HSTS header").to_str().unwrap().to_string();
    assert!(hsts.contains("max-age=63072000"), "{hsts}");
    let login = json_body(response).await;
    let admin_token = login["access_token"].as_str().unwrap().to_string();

    let audit = client
        .get(format!("{base}/api/admin/audit?action=auth.login&actor=admin"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(audit.status(), StatusCode::OK);
    let audit = json_body(audit).await;
    let newest = &audit[0];
    assert_eq!(newest["ip"], CLIENT_IP.to_string(), "the audit log shows the address nginx saw: {newest}");

    // A user made by the admin signs in through nginx and works over WSS.
    let user = hub.create_user("tls-user").await.unwrap();
    let response = client
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"username": user.name, "password": "tls-user-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let token = json_body(response).await["access_token"].as_str().unwrap().to_string();

    let wss = format!("wss://{}", nginx.https);
    let mut chat = ChatSocket::connect_url(&format!("{wss}/ws/chat"), &token, Some(nginx.connector())).await.unwrap();
    chat.send(json!({"type": "prompt", "text": "[[bash: echo through-$((40+2))]] [[text: done over TLS]]"})).await.unwrap();
    let messages = chat.until_done().await.unwrap();
    let transcript = serde_json::to_string(&messages).unwrap();
    assert!(transcript.contains("through-42"), "{transcript}");
    assert!(transcript.contains("done over TLS"), "{transcript}");
    assert_eq!(messages.last().unwrap()["exit_code"], 0, "{transcript}");

    let mut shell = ShellSocket::connect_url(&format!("{wss}/ws/shell"), &token, Some(nginx.connector())).await.unwrap();
    shell.type_text("echo shell-$((6*7))\n").await.unwrap();
    shell.wait_for_text("shell-42", Duration::from_secs(30)).await.unwrap();

    // The web UI's hashed assets come from nginx's cache after the first request.
    let index = client.get(format!("{base}/")).send().await.unwrap().text().await.unwrap();
    let asset = index.split('"').find(|part| part.starts_with("/assets/")).expect("index.html links an asset").to_string();
    let first = client.get(format!("{base}{asset}")).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    // nginx stores the copy once the whole response has passed through.
    first.bytes().await.unwrap();
    // The copy is committed as the upstream response ends, which may trail the client's
    // last byte a little, so a few attempts are allowed.
    let mut status = String::new();
    for _ in 0..10 {
        let again = client.get(format!("{base}{asset}")).send().await.unwrap();
        status = again.headers()["x-cache-status"].to_str().unwrap().to_string();
        again.bytes().await.unwrap();
        if status == "HIT" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "HIT");

    // The metrics stay off the public address, even with the right token.
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::NOT_FOUND);

    // A body over the proxy's limit is refused by nginx before it reaches the hub, with
    // an error in the hub's JSON shape: 2 MiB for the API, 22 MiB for file content.
    for (path, size) in [("/api/admin/users", 3 << 20), ("/api/files/content?path=big.txt", 23 << 20)] {
        let big = client.put(format!("{base}{path}")).bearer_auth(&token).header("content-type", "application/json").body(vec![b'x'; size]).send().await.unwrap();
        assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        let body = json_body(big).await;
        assert_eq!(body["error"]["code"], "body_too_large", "{path}: {body}");
    }
    assert!(nginx.error_log().contains("client intended to send too large body"), "{}", nginx.error_log());
    // A file near the hub's limit still passes nginx: 12 MiB of base64 is 16 MiB of JSON.
    let content = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, vec![7u8; 12 << 20]);
    let near = client
        .put(format!("{base}/api/files/content?path=near.bin"))
        .bearer_auth(&token)
        .json(&json!({"content": content, "encoding": "base64"}))
        .send()
        .await
        .unwrap();
    assert_eq!(near.status(), StatusCode::OK, "{}", near.text().await.unwrap());

    // A burst of sign-ins hits nginx's rate limit, whose error is JSON too. Each attempt
    // uses another name, so the hub's own per-account limit does not respond first.
    let mut limited = None;
    for attempt in 0..20 {
        let response = client
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"username": format!("nobody{attempt}"), "password": "wrong-password"}))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(json_body(response).await);
            break;
        }
    }
    let limited = limited.expect("20 sign-ins in a burst reach nginx's limit");
    assert_eq!(limited["error"]["code"], "rate_limited", "nginx's limit answers first: {limited}");
    assert!(nginx.error_log().contains("limiting requests"), "{}", nginx.error_log());
}
