//! Ports for processes this one starts (a test's nats-server, a loadgen stack's services):
//! see [`free_port`].

use std::net::{Ipv4Addr, TcpListener};

/// A port that is free now, for a process started later (a nats-server, a loadgen stack's
/// service). Taken below the kernel's ephemeral range (`ip_local_port_range`, 32768–60999 on
/// Linux): a port the kernel hands out for `bind(0)` is also one it hands out to outgoing
/// connections, so between this call and the child's bind a database or broker connection of
/// an earlier service could take it ("Address already in use" in a chaos run). Ports handed
/// out by this process are not handed out twice (another process may: a child binds soon after).
/// Falls back to `bind(0)` — and so to the race — if no port below the range is free.
pub fn free_port() -> std::io::Result<u16> {
    use std::{
        collections::HashSet,
        hash::{BuildHasher, RandomState},
        sync::Mutex,
    };
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    // Up to 17,768 ports right below the ephemeral range (15000–32767 with Linux's default);
    // none when the range starts at the privileged ports (a `1024 65535` tuning).
    let high = ephemeral_range_start().min(32_768);
    let low = high.saturating_sub(17_768).max(1_024);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    let seed = RandomState::new();
    let tries = if high > low { 200u32 } else { 0 };
    for attempt in 0..tries {
        let port = (low + (seed.hash_one(attempt) % u64::from(high - low)) as u32) as u16;
        if given.contains(&port) {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            given.insert(port);
            return Ok(port);
        }
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let port = listener.local_addr()?.port();
    given.insert(port);
    Ok(port)
}

/// The first port of the kernel's ephemeral range (32768 where it cannot be read).
fn ephemeral_range_start() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

#[cfg(test)]
mod tests {
    #[test]
    fn free_ports_are_distinct_and_below_the_ephemeral_range() {
        let start = super::ephemeral_range_start();
        let ports: Vec<u16> = (0..50)
            .map(|_| super::free_port().expect("a port"))
            .collect();
        let distinct: std::collections::HashSet<_> = ports.iter().collect();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        // (A range starting at the privileged ports leaves nothing below it: bind(0) then.)
        if start > 2_048 {
            assert!(
                ports.iter().all(|p| u32::from(*p) < start),
                "{ports:?} (ephemeral from {start})"
            );
        }
    }
}
