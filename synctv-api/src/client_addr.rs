//! The client's address: the TCP peer, or, when the peer is a configured trusted proxy
//! (`server.trusted_proxies`), the rightmost `X-Forwarded-For` address that is not itself a
//! trusted proxy. Anything else in that header is the client's own claim and is ignored, so a
//! client cannot pick its address (and sidestep per-address limits) by sending the header.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

/// The trusted proxies, parsed once (the config was validated).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    pub fn new(entries: &[String]) -> Self {
        let nets = entries
            .iter()
            .filter_map(|e| {
                e.parse::<IpNet>()
                    .ok()
                    .or_else(|| e.parse::<IpAddr>().ok().map(IpNet::from))
            })
            .collect();
        Self { nets }
    }

    fn trusts(&self, ip: &IpAddr) -> bool {
        let ip = canonical(*ip);
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request from `peer` with these headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(&peer) {
            return peer;
        }
        let mut hops: Vec<IpAddr> = Vec::new();
        for v in headers.get_all("x-forwarded-for") {
            let Ok(v) = v.to_str() else { return peer };
            for part in v.split(',') {
                match parse_hop(part.trim()) {
                    Some(ip) => hops.push(ip),
                    // A malformed list cannot be trusted past this point.
                    None => return peer,
                }
            }
        }
        hops.into_iter()
            .rev()
            .find(|ip| !self.trusts(ip))
            .unwrap_or(peer)
    }

    /// The client address of a request, if the server knows its peer.
    pub fn of(&self, parts: &Parts) -> Option<IpAddr> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())?;
        Some(self.client(peer, &parts.headers))
    }
}

/// The client address of a request, as an extractor (`None` when the peer is unknown).
pub struct ClientIp(pub Option<IpAddr>);

impl axum::extract::FromRequestParts<crate::state::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(state.proxies.of(parts)))
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(s: &str) -> Option<IpAddr> {
    s.parse::<IpAddr>()
        .ok()
        .or_else(|| s.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .map(canonical)
}

/// IPv4-mapped IPv6 addresses count as their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_cannot_claim_an_address() {
        let t = TrustedProxies::new(&["10.0.0.0/8".into()]);
        assert_eq!(
            t.client(ip("203.0.113.9"), &headers(&["1.1.1.1"])),
            ip("203.0.113.9")
        );
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &headers(&["1.1.1.1"])),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let t = TrustedProxies::new(&["10.0.0.0/8".into(), "192.0.2.1".into()]);
        // The client claimed 6.6.6.6 itself; the proxies appended what they saw.
        let h = headers(&["6.6.6.6, 198.51.100.7", "10.1.2.3"]);
        assert_eq!(t.client(ip("10.9.9.9"), &h), ip("198.51.100.7"));
        assert_eq!(
            t.client(ip("::ffff:192.0.2.1"), &headers(&["198.51.100.8:4711"])),
            ip("198.51.100.8")
        );
        // Only proxies in the chain, or a malformed entry: the peer.
        assert_eq!(
            t.client(ip("10.9.9.9"), &headers(&["10.0.0.2"])),
            ip("10.9.9.9")
        );
        assert_eq!(
            t.client(ip("10.9.9.9"), &headers(&["6.6.6.6, junk"])),
            ip("10.9.9.9")
        );
    }
}
