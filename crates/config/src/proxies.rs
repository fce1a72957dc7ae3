//! Reverse proxies whose `X-Forwarded-For` header the hub believes.

use std::net::IpAddr;

/// An address range such as `10.0.0.0/8`, `::1/128`, or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parses `ADDRESS` or `ADDRESS/PREFIX`; host bits must be zero.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| format!("{text:?} is not an IP address or range such as 10.0.0.0/8"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("{text:?}: the prefix length must be 0 to {max}"))?,
            None => max,
        };
        let range = Self { network, prefix };
        if !range.contains(network) || range.masked(network) != bits(network) {
            return Err(format!("{text:?} has bits set after the prefix; write the network address"));
        }
        Ok(range)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        if ip.is_ipv4() != self.network.is_ipv4() {
            return false;
        }
        self.masked(ip) == self.masked(self.network)
    }

    fn masked(&self, ip: IpAddr) -> u128 {
        let width = if ip.is_ipv4() { 32 } else { 128 };
        let shift = width - u32::from(self.prefix);
        if shift >= 128 { 0 } else { (bits(ip) >> shift) << shift }
    }
}

fn bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Returns the IPv4 address of an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), as seen
/// on an IPv6 socket, and any other address as it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The proxies in `server.trusted_proxies`; empty means the socket peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpRange>);

impl TrustedProxies {
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        entries.into_iter().filter(|e| !e.trim().is_empty()).map(IpRange::parse).collect::<Result<Vec<_>, _>>().map(Self)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(ip))
    }

    /// Returns the client's address: the socket peer, unless the peer is a trusted proxy. Then
    /// `X-Forwarded-For` is read from the right, past every trusted proxy, and the first
    /// other address is the client. An entry that is not an address ends the walk at the
    /// last trusted hop, since whatever wrote it cannot be believed.
    pub fn client_address(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops = forwarded_for.iter().flat_map(|value| value.split(',')).map(str::trim).filter(|hop| !hop.is_empty());
        for hop in hops.collect::<Vec<_>>().into_iter().rev() {
            let Ok(address) = hop.parse::<IpAddr>() else { return client };
            client = canonical(address);
            if !self.trusts(client) {
                return client;
            }
        }
        client
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let range = IpRange::parse("10.1.0.0/16").unwrap();
        assert!(range.contains(ip("10.1.200.3")));
        assert!(!range.contains(ip("10.2.0.1")));
        assert!(IpRange::parse("::1").unwrap().contains(ip("::1")));
        assert!(IpRange::parse("127.0.0.1").unwrap().contains(ip("::ffff:127.0.0.1")));
        assert!(IpRange::parse("0.0.0.0/0").unwrap().contains(ip("192.0.2.1")));
        assert!(!IpRange::parse("0.0.0.0/0").unwrap().contains(ip("::2")));
    }

    #[test]
    fn bad_ranges_are_rejected() {
        for bad in ["10.1.0.1/16", "10.0.0.0/33", "nonsense", "::1/129", "10.0.0.0/x"] {
            assert!(IpRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn client_behind_trusted_proxy() {
        let proxies = TrustedProxies::parse(["127.0.0.1", "10.0.0.0/8"]).unwrap();
        // A peer that is not a proxy cannot claim another address.
        assert_eq!(proxies.client_address(ip("192.0.2.7"), &["198.51.100.1"]), ip("192.0.2.7"));
        // nginx on loopback appends the client's address.
        assert_eq!(proxies.client_address(ip("127.0.0.1"), &["192.0.2.7"]), ip("192.0.2.7"));
        // A forged entry on the left is ignored: the rightmost untrusted hop wins.
        assert_eq!(proxies.client_address(ip("127.0.0.1"), &["203.0.113.9, 192.0.2.7"]), ip("192.0.2.7"));
        // Trusted hops are skipped, across repeated headers too.
        assert_eq!(proxies.client_address(ip("127.0.0.1"), &["192.0.2.7", "10.0.0.5"]), ip("192.0.2.7"));
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(proxies.client_address(ip("127.0.0.1"), &["192.0.2.7, junk"]), ip("127.0.0.1"));
        // No header: the proxy itself.
        assert_eq!(proxies.client_address(ip("127.0.0.1"), &[]), ip("127.0.0.1"));
        // Without trusted proxies the header is never read.
        assert_eq!(TrustedProxies::default().client_address(ip("127.0.0.1"), &["192.0.2.7"]), ip("127.0.0.1"));
    }
}
