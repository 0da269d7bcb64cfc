//! Which connections a transport lets in: at most `max_connections` in all
//! and at most `max_connections_per_ip` from one client address, so that one
//! client holding idle sockets cannot take every place and lock the others
//! out. A connection is let in with a [`Permit`] that gives its place back
//! when the connection's task drops it.
//!
//! IPv4 clients count per address. IPv6 clients count per /64: a single
//! host is usually handed a whole /64 and can pick any address in it, so a
//! per-address count would not limit it at all. IPv4-mapped IPv6 addresses
//! (a dual-stack listener's view of IPv4 clients) count as the IPv4 address.
//!
//! Every open connection holds one entry at most, so the table is bounded
//! by the global limit; entries go when their count drops to zero.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use prometheus::{IntCounter, IntGauge};

/// Why a connection was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The transport holds `max_connections` already.
    Full,
    /// This client address holds `max_connections_per_ip` already.
    PerIp,
}

/// The connection metrics of one transport.
#[derive(Clone)]
pub struct ConnectionMetrics {
    /// Connections open now.
    pub open: IntGauge,
    /// Connections turned away because the transport was full.
    pub refused_full: IntCounter,
    /// Connections turned away because their address was at its limit.
    pub refused_per_ip: IntCounter,
}

/// The limits of one transport, shared by its accept loop and its
/// connections' permits.
#[derive(Clone)]
pub struct Admission(Arc<Inner>);

struct Inner {
    max: usize,
    per_ip_max: usize,
    metrics: Option<ConnectionMetrics>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    open: usize,
    per_ip: HashMap<IpAddr, usize>,
}

impl Admission {
    /// At most `max` connections, `per_ip_max` of them from one client.
    pub fn new(max: usize, per_ip_max: usize, metrics: Option<ConnectionMetrics>) -> Admission {
        assert!(max > 0 && per_ip_max > 0, "connection limits must be at least 1");
        Admission(Arc::new(Inner {
            max,
            per_ip_max,
            metrics,
            state: Mutex::new(State::default()),
        }))
    }

    /// Lets a connection from `peer` in, or says why not (and counts the refusal).
    pub fn admit(&self, peer: IpAddr) -> Result<Permit, Refusal> {
        let key = client_key(peer);
        let refusal = {
            let mut state = self.lock();
            let from_peer = state.per_ip.get(&key).copied().unwrap_or(0);
            if state.open >= self.0.max {
                Refusal::Full
            } else if from_peer >= self.0.per_ip_max {
                Refusal::PerIp
            } else {
                state.open += 1;
                state.per_ip.insert(key, from_peer + 1);
                debug_assert!(state.per_ip.len() <= state.open);
                if let Some(metrics) = &self.0.metrics {
                    metrics.open.inc();
                }
                return Ok(Permit {
                    admission: self.clone(),
                    key,
                });
            }
        };
        if let Some(metrics) = &self.0.metrics {
            match refusal {
                Refusal::Full => metrics.refused_full.inc(),
                Refusal::PerIp => metrics.refused_per_ip.inc(),
            }
        }
        Err(refusal)
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().open
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The critical sections only count; a panic in one cannot leave the
        // counts half-updated, so a poisoned lock is still consistent.
        self.0.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn release(&self, key: IpAddr) {
        let mut state = self.lock();
        assert!(state.open > 0, "a permit released twice");
        state.open -= 1;
        match state.per_ip.get_mut(&key) {
            Some(count) if *count > 1 => *count -= 1,
            Some(_) => {
                state.per_ip.remove(&key);
            }
            None => unreachable!("a permit for an address with no connections"),
        }
        if let Some(metrics) = &self.0.metrics {
            metrics.open.dec();
        }
    }
}

/// One admitted connection's place; dropping it gives the place back.
pub struct Permit {
    admission: Admission,
    key: IpAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.admission.release(self.key);
    }
}

/// What a client is counted as: its IPv4 address, or its IPv6 /64.
fn client_key(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn each_address_gets_its_own_share_of_the_places() {
        let admission = Admission::new(5, 2, None);
        let a1 = admission.admit(ip("127.0.0.1")).unwrap();
        let _a2 = admission.admit(ip("127.0.0.1")).unwrap();
        assert_eq!(admission.admit(ip("127.0.0.1")).err(), Some(Refusal::PerIp));
        let _b1 = admission.admit(ip("127.0.0.2")).unwrap();
        drop(a1);
        let _a3 = admission.admit(ip("127.0.0.1")).unwrap();
        assert_eq!(admission.open(), 3);
    }

    #[test]
    fn the_global_limit_holds_whatever_the_addresses() {
        let admission = Admission::new(2, 2, None);
        let permits: Vec<Permit> = ["10.0.0.1", "10.0.0.2"]
            .iter()
            .map(|a| admission.admit(ip(a)).unwrap())
            .collect();
        assert_eq!(admission.admit(ip("10.0.0.3")).err(), Some(Refusal::Full));
        drop(permits);
        assert_eq!(admission.open(), 0);
        assert!(admission.lock().per_ip.is_empty(), "no entry outlives its connections");
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let admission = Admission::new(10, 1, None);
        let _a = admission.admit(ip("2001:db8:1:2::1")).unwrap();
        let same_64 = admission.admit(ip("2001:db8:1:2:ffff::9"));
        assert_eq!(same_64.err(), Some(Refusal::PerIp));
        let _other_64 = admission.admit(ip("2001:db8:1:3::1")).unwrap();
        let _v4 = admission.admit(ip("192.0.2.7")).unwrap();
        assert_eq!(admission.admit(ip("::ffff:192.0.2.7")).err(), Some(Refusal::PerIp));
    }

    #[test]
    fn refusals_and_open_connections_are_counted() {
        let metrics = ConnectionMetrics {
            open: IntGauge::new("open", "open").unwrap(),
            refused_full: IntCounter::new("full", "full").unwrap(),
            refused_per_ip: IntCounter::new("per_ip", "per_ip").unwrap(),
        };
        let admission = Admission::new(2, 1, Some(metrics.clone()));
        let a = admission.admit(ip("127.0.0.1")).unwrap();
        assert!(admission.admit(ip("127.0.0.1")).is_err());
        let _b = admission.admit(ip("127.0.0.2")).unwrap();
        assert!(admission.admit(ip("127.0.0.3")).is_err());
        assert_eq!(metrics.open.get(), 2);
        drop(a);
        assert_eq!(
            (
                metrics.open.get(),
                metrics.refused_per_ip.get(),
                metrics.refused_full.get()
            ),
            (1, 1, 1)
        );
    }
}
