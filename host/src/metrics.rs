//! Prometheus metrics in the text exposition format, hand-rolled (a few counters and
//! one histogram; no registry crate needed).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Latency histogram bucket bounds, seconds.
const BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    decisions_allow: AtomicU64,
    decisions_deny: AtomicU64,
    audit_events: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    /// Counts one finished request.
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        *lock(&self.requests)
            .entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        let secs = elapsed.as_secs_f64();
        let mut lat = lock(&self.latency);
        let h = lat.entry(route.to_owned()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                if let Some(c) = h.counts.get_mut(i) {
                    *c += 1;
                }
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// Counts decisions.
    pub fn decisions(&self, allowed: u64, denied: u64) {
        self.decisions_allow.fetch_add(allowed, Ordering::Relaxed);
        self.decisions_deny.fetch_add(denied, Ordering::Relaxed);
    }

    /// Counts appended audit events.
    pub fn audit_events(&self, n: u64) {
        self.audit_events.fetch_add(n, Ordering::Relaxed);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP phylax_http_requests_total HTTP requests by method, route and status.\n# TYPE phylax_http_requests_total counter\n");
        for ((method, route, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "phylax_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP phylax_http_request_duration_seconds Request latency by route.\n# TYPE phylax_http_request_duration_seconds histogram\n");
        for (route, h) in lock(&self.latency).iter() {
            for (bound, c) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "phylax_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "phylax_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\nphylax_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\nphylax_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP phylax_decisions_total Authorization decisions by effect.\n# TYPE phylax_decisions_total counter\nphylax_decisions_total{{decision=\"allow\"}} {}\nphylax_decisions_total{{decision=\"deny\"}} {}",
            self.decisions_allow.load(Ordering::Relaxed),
            self.decisions_deny.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP phylax_audit_events_total Audit events committed.\n# TYPE phylax_audit_events_total counter\nphylax_audit_events_total {}",
            self.audit_events.load(Ordering::Relaxed)
        );
        out
    }
}
