//! The address a per-client limit counts: the TCP peer, or behind `TRUSTED_PROXY_HOPS` proxies
//! the entry of `X-Forwarded-For` the outermost of them appended (the address it saw).
//!
//! Anonymous operations (seller registration, the storefront's login and `/success`) are
//! limited per client address (crate::auth::limit_writes). Behind an ingress every request
//! arrives from the ingress's address, so without this one client could spend the budget of
//! all. Each proxy appends the address it saw to `X-Forwarded-For`: with `n` trusted proxies
//! the `n`-th entry from the right is the one the outermost of them wrote, and what a client
//! put further left is its own claim, never read. With 0 (the default, no proxy in front) the
//! header is ignored, so a client reaching the service directly cannot pick its address. With
//! `n` > 0, every path to the service must pass all `n` proxies: a client that reaches it
//! past them (a pod or NodePort addressed directly) writes the entries that count.

use std::net::{IpAddr, SocketAddr};

use poem::Request;

/// The most proxies a deployment may declare: more is a misconfiguration, not a topology.
pub const MAX_TRUSTED_PROXY_HOPS: u8 = 5;

/// The client address of `req` with `hops` trusted proxies in front (see the module docs).
pub fn client_ip(req: &Request, hops: u8) -> Option<IpAddr> {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip());
    if hops == 0 {
        return peer;
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    forwarded_client(forwarded, hops).or(peer)
}

/// The `hops`-th entry from the right of the `X-Forwarded-For` values, in order; `None` when
/// there are fewer entries (the request did not come through every proxy) or it is no address.
pub(crate) fn forwarded_client<'a>(
    values: impl Iterator<Item = &'a str>,
    hops: u8,
) -> Option<IpAddr> {
    let entries: Vec<&str> = values.flat_map(|v| v.split(',')).map(str::trim).collect();
    let index = entries.len().checked_sub(usize::from(hops))?;
    parse_entry(entries[index])
}

/// An address as proxies write it: `203.0.113.7`, `2001:db8::1`, or with a port
/// (`203.0.113.7:5150`, `[2001:db8::1]:5150`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(values: &[&str], hops: u8) -> Option<String> {
        forwarded_client(values.iter().copied(), hops).map(|ip| ip.to_string())
    }

    #[test]
    fn the_entry_the_outermost_trusted_proxy_wrote_counts() {
        // The client claims 1.1.1.1; the ingress appended what it saw.
        let header = ["1.1.1.1, 203.0.113.7"];
        assert_eq!(client(&header, 1).as_deref(), Some("203.0.113.7"));
        // Two proxies: a CDN saw the client, the ingress saw the CDN.
        let two = ["1.1.1.1, 203.0.113.7", "198.51.100.2"];
        assert_eq!(client(&two, 2).as_deref(), Some("203.0.113.7"));
    }

    #[test]
    fn ports_and_ipv6_are_read() {
        assert_eq!(
            client(&["203.0.113.7:5150"], 1).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            client(&["[2001:db8::1]:5150"], 1).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(client(&["2001:db8::1"], 1).as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn too_few_entries_or_garbage_is_no_address() {
        assert_eq!(client(&[], 1), None);
        assert_eq!(client(&["203.0.113.7"], 2), None);
        assert_eq!(client(&["unknown"], 1), None);
        assert_eq!(client(&["1.1.1.1, "], 1), None);
    }
}
