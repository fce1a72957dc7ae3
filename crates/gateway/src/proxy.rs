//! The egress proxy of network mode `proxy`: an HTTP CONNECT proxy on a second per-user
//! socket that opens tunnels only to the hosts of the user's tier allowlist.

use std::net::{IpAddr, SocketAddr};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use cchub_policy::egress_allowed;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::{Accounting, GatewayError, SocketOwner};

/// Maximum size of the request head read before the tunnel opens.
const MAX_HEAD: usize = 8 * 1024;
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct ProxyListener {
    path: PathBuf,
    allowlist: Vec<String>,
    task: JoinHandle<()>,
}

impl ProxyListener {
    pub(crate) fn bind(accounting: Arc<dyn Accounting>, user_id: i64, path: &Path, owner: Option<SocketOwner>, allowlist: Vec<String>, allow_private: bool) -> Result<Self, GatewayError> {
        let socket_error = |source| GatewayError::Socket { path: path.to_path_buf(), source };
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(socket_error(std::io::Error::other("a file that is not a socket is in the way")));
            }
            std::fs::remove_file(path).map_err(socket_error)?;
        }
        let listener = UnixListener::bind(path).map_err(socket_error)?;
        match owner {
            Some(owner) => {
                std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid)).map_err(socket_error)?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(socket_error)?;
            }
            None => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).map_err(socket_error)?,
        }
        let list = Arc::new(allowlist.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let accounting = accounting.clone();
                let list = list.clone();
                tokio::spawn(async move {
                    if let Err(err) = serve(stream, user_id, &list, allow_private, accounting.as_ref()).await {
                        debug!(user_id, error = %err, "egress proxy connection ended with an error");
                    }
                });
            }
        });
        Ok(Self {
            path: path.to_path_buf(),
            allowlist,
            task,
        })
    }

    pub(crate) fn matches(&self, path: &Path, allowlist: &[String]) -> bool {
        !self.task.is_finished() && self.path == path && self.allowlist == allowlist && path.exists()
    }
}

impl Drop for ProxyListener {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn respond(stream: &mut UnixStream, status: &str, message: &str) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{message}",
        message.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// Splits `host:port` or `[v6]:port`.
fn split_target(target: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = target.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        (host, port)
    } else {
        target.rsplit_once(':')?
    };
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    (!host.is_empty()).then(|| (host.to_string(), port))
}

async fn serve(mut client: UnixStream, user_id: i64, allowlist: &[String], allow_private: bool, accounting: &dyn Accounting) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            if head.len() > MAX_HEAD {
                return Err(std::io::Error::other("request head too long"));
            }
            let n = client.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::other("closed before the request head ended"));
            }
            head.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    };
    if tokio::time::timeout(HEAD_TIMEOUT, read_head).await.is_err() {
        return respond(&mut client, "408 Request Timeout", "cchub proxy: the request head did not arrive in time\n").await;
    }
    let end = head.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4).unwrap_or(head.len());
    let leftover = head.split_off(end);
    let text = String::from_utf8_lossy(&head).to_string();
    let mut words = text.lines().next().unwrap_or_default().split_whitespace();
    let (method, target) = (words.next().unwrap_or_default(), words.next().unwrap_or_default());

    if method != "CONNECT" {
        return respond(&mut client, "405 Method Not Allowed", "cchub proxy: only CONNECT tunnels are offered; use https:// addresses\n").await;
    }
    let Some((host, port)) = split_target(target) else {
        return respond(&mut client, "400 Bad Request", "cchub proxy: the CONNECT target must be host:port\n").await;
    };
    if !egress_allowed(allowlist, &host, port) {
        accounting.egress(user_id, &host, port, false).await;
        info!(user_id, host = %host, port, "egress denied");
        let message = format!("cchub proxy: {host}:{port} is not in your tier's egress allowlist; ask your administrator\n");
        return respond(&mut client, "403 Forbidden", &message).await;
    }
    let addresses = match resolve(&host, port, allow_private).await {
        Ok(addresses) => addresses,
        Err(message) => {
            accounting.egress(user_id, &host, port, false).await;
            warn!(user_id, host = %host, port, reason = %message, "egress refused after resolution");
            return respond(&mut client, "403 Forbidden", &format!("cchub proxy: {message}\n")).await;
        }
    };
    accounting.egress(user_id, &host, port, true).await;
    let upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addresses.as_slice())).await {
        Ok(Ok(upstream)) => upstream,
        Ok(Err(err)) => {
            warn!(user_id, host = %host, port, error = %err, "egress connect failed");
            return respond(&mut client, "502 Bad Gateway", &format!("cchub proxy: cannot connect to {host}:{port}\n")).await;
        }
        Err(_) => return respond(&mut client, "504 Gateway Timeout", &format!("cchub proxy: {host}:{port} did not answer\n")).await,
    };
    // Connecting to one of the host's own addresses picks that same address as the
    // source, which catches every interface address without listing them.
    if let (Ok(local), Ok(peer)) = (upstream.local_addr(), upstream.peer_addr()) {
        if local.ip() == peer.ip() && host.parse::<IpAddr>().is_err() {
            accounting.egress(user_id, &host, port, false).await;
            warn!(user_id, host = %host, port, address = %peer.ip(), "egress denied: the name leads to this host");
            return respond(&mut client, "403 Forbidden", &format!("cchub proxy: {host} resolves to {}, an address of the hub's host\n", peer.ip())).await;
        }
    }
    info!(user_id, host = %host, port, "egress tunnel opened");
    client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await?;
    let mut upstream = upstream;
    if !leftover.is_empty() {
        upstream.write_all(&leftover).await?;
    }
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

/// Resolves an allowed target to the addresses to connect to. An address literal was
/// listed as such and is used as given. A name must not lead to the host itself or to
/// link-local addresses (cloud metadata): a listed domain whose records point there, by
/// mistake or by rebinding, is refused. Private ranges, where other workspaces and the
/// host's services live, are refused too unless `allow_private` (internal mirrors).
async fn resolve(host: &str, port: u16, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let lookup = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((host, port))).await;
    let addresses: Vec<SocketAddr> = match lookup {
        Ok(Ok(found)) => found.collect(),
        Ok(Err(err)) => return Err(format!("cannot resolve {host}: {err}")),
        Err(_) => return Err(format!("resolving {host} took too long")),
    };
    if addresses.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if let Some(local) = addresses.iter().find(|a| is_host_local(a.ip())) {
        return Err(format!("{host} resolves to {}, a loopback or link-local address; list the address itself if it is meant", local.ip()));
    }
    if let Some(private) = addresses.iter().find(|a| !allow_private && is_private(a.ip())) {
        return Err(format!(
            "{host} resolves to {}, a private address; list the address itself, or set security.egress_allow_private for internal mirrors",
            private.ip()
        ));
    }
    Ok(addresses)
}

/// Private and shared address space: RFC 1918, carrier-grade NAT (100.64.0.0/10) and
/// IPv6 unique local addresses, also as IPv4-mapped IPv6.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private() || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => (v6.segments()[0] & 0xfe00) == 0xfc00 || v6.to_ipv4_mapped().is_some_and(|v4| is_private(IpAddr::V4(v4))),
    }
}

fn is_host_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => {
            let link_local = (v6.segments()[0] & 0xffc0) == 0xfe80;
            let mapped_local = v6.to_ipv4_mapped().is_some_and(|v4| is_host_local(IpAddr::V4(v4)));
            v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || link_local || mapped_local
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{is_host_local, is_private, split_target};

    #[test]
    fn targets_are_split() {
        assert_eq!(split_target("pypi.org:443"), Some(("pypi.org".into(), 443)));
        assert_eq!(split_target("[::1]:8443"), Some(("::1".into(), 8443)));
        assert_eq!(split_target("pypi.org"), None);
        assert_eq!(split_target("pypi.org:0"), None);
        assert_eq!(split_target(":443"), None);
    }

    #[test]
    fn private_addresses_are_recognised() {
        for private in ["10.0.0.1", "172.17.0.1", "192.168.1.5", "100.64.0.1", "100.127.255.254", "fd00::1", "::ffff:10.1.2.3"] {
            assert!(is_private(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "100.128.0.1", "172.32.0.1", "2001:db8::1", "::ffff:1.1.1.1"] {
            assert!(!is_private(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn host_local_addresses_are_recognised() {
        for local in ["127.0.0.1", "127.9.9.9", "169.254.169.254", "0.0.0.0", "::1", "fe80::1", "::ffff:127.0.0.1", "224.0.0.1"] {
            assert!(is_host_local(local.parse().unwrap()), "{local}");
        }
        for remote in ["151.101.0.223", "10.1.2.3", "2a04:4e42::223"] {
            assert!(!is_host_local(remote.parse().unwrap()), "{remote}");
        }
    }

    #[tokio::test]
    async fn names_that_lead_home_are_refused() {
        let refused = super::resolve("localhost", 443, true).await.unwrap_err();
        assert!(refused.contains("loopback"), "{refused}");
        assert_eq!(super::resolve("127.0.0.1", 443, false).await.unwrap(), ["127.0.0.1:443".parse().unwrap()]);
        // A listed address literal is used as given, private or not.
        assert_eq!(super::resolve("10.9.8.7", 443, false).await.unwrap(), ["10.9.8.7:443".parse().unwrap()]);
    }
}
