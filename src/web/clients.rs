//! Client addresses as the per-client limits count them, and the count of
//! open connections per client (`--web.max-connections-per-client`).
//!
//! An IPv4 client is its address; an IPv6 client is its /64 network, since
//! one host commonly holds a whole /64 and could otherwise present a new
//! address for every connection. An IPv4-mapped IPv6 address counts as the
//! IPv4 address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

/// The unit the per-client limits count by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of a peer address.
    pub fn of(peer: IpAddr) -> Self {
        match peer {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let network = u128::from(v6) & !((1_u128 << 64) - 1);
                    Self(IpAddr::V6(Ipv6Addr::from(network)))
                }
            },
        }
    }
}

impl From<SocketAddr> for ClientKey {
    fn from(peer: SocketAddr) -> Self {
        Self::of(peer.ip())
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Open connections per client, at most `limit` each (0: no limit). Holds
/// an entry only for clients with an open connection, so its size is
/// bounded by the connection cap.
#[derive(Debug)]
pub struct Connections {
    limit: usize,
    open: Mutex<HashMap<ClientKey, usize>>,
}

/// One open connection; counted until dropped.
#[derive(Debug)]
pub struct Connection {
    counter: Arc<Connections>,
    key: ClientKey,
}

impl Connections {
    /// A counter allowing `limit` connections per client (0: no limit).
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Counts a new connection from `key`, or `None` when that client
    /// already has its share open.
    pub fn open(self: &Arc<Self>, key: ClientKey) -> Option<Connection> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if self.limit != 0 && *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Connection {
            counter: Arc::clone(self),
            key,
        })
    }

    /// Open connections of `key`.
    pub fn count(&self, key: ClientKey) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut open = self
            .counter
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ClientKey {
        ClientKey::of(s.parse().unwrap())
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:127.0.0.2"), key("127.0.0.2"));
        assert_ne!(key("127.0.0.1"), key("127.0.0.2"));
        assert_eq!(key("2001:db8:1:2:aaaa::1").to_string(), "2001:db8:1:2::/64");
        assert_eq!(key("10.0.0.1").to_string(), "10.0.0.1");
    }

    #[test]
    fn a_client_gets_its_share_and_no_more() {
        let c = Connections::new(2);
        let (a, b) = (key("127.0.0.2"), key("127.0.0.1"));
        let first = c.open(a).unwrap();
        let _second = c.open(a).unwrap();
        assert!(c.open(a).is_none(), "third from the same client");
        let _other = c.open(b).unwrap();
        drop(first);
        let _again = c.open(a).unwrap();
        assert_eq!((c.count(a), c.count(b)), (2, 1));
    }

    #[test]
    fn closed_clients_leave_no_entry_and_zero_means_unlimited() {
        let c = Connections::new(1);
        drop(c.open(key("127.0.0.2")).unwrap());
        assert!(c.open.lock().unwrap().is_empty());
        let unlimited = Connections::new(0);
        let held: Vec<_> = (0..1000)
            .map(|_| unlimited.open(key("127.0.0.2")).unwrap())
            .collect();
        assert_eq!(unlimited.count(key("127.0.0.2")), held.len());
    }
}
