//! Failed authentications: throttled per source address before any credential is
//! looked at, and summarized in the audit chain once per window.
//!
//! Every 401 takes one unit from its source address's budget (GCRA via `governor`:
//! `auth_failures_per_second` sustained, bursts of `auth_failure_burst`). Once an
//! address has spent it, *every* request from it gets 429 `rate.limited` with
//! `Retry-After` until the budget refills, before its token is parsed, hashed or looked
//! up. A client with a working credential never fails, so it is never slowed by this.
//!
//! A failed attempt with a real API key id (readable from any audit record) is an
//! attempt on that key's tenant. Writing one audit record per attempt would let anyone
//! bloat a tenant's chain, so attempts are counted per tenant and a background task
//! appends one `auth.failed_attempts` record per tenant per window
//! (`audit_failure_window_secs`), giving the count, the key ids, the source addresses
//! and the error codes. A crash loses at most the current window's counts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use phylax_core::audit::{Action, Actor, AuditEvent, Origin, Outcome, RecordedBy};

use crate::error::ApiError;
use crate::state::{now, AppState};

/// Most key ids, addresses and codes named in one summary.
const LISTED: usize = 16;
/// Addresses tracked as blocked at most (older entries are dropped first).
const MAX_BLOCKED: usize = 100_000;

/// Attempts on one tenant in the current window.
#[derive(Debug, Default)]
struct Window {
    first: u64,
    last: u64,
    count: u64,
    key_ids: BTreeSet<String>,
    sources: BTreeSet<String>,
    codes: BTreeSet<String>,
}

/// The throttle and the per-tenant counters.
#[derive(Debug)]
pub struct FailedAuth {
    budget: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    windows: Mutex<BTreeMap<String, Window>>,
}

impl FailedAuth {
    /// `per_second` failures sustained per address, `burst` at once (both at least 1).
    pub fn new(per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            budget: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
            blocked: Mutex::default(),
            windows: Mutex::default(),
        }
    }

    /// 429 when `ip` has spent its failure budget; checked before authentication.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let Some(ip) = ip else { return Ok(()) };
        let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
        match blocked.get(&ip) {
            Some(until) if *until > Instant::now() => Err(limited(*until - Instant::now())),
            Some(_) => {
                blocked.remove(&ip);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts one failed authentication from `ip`.
    pub fn failed(&self, ip: Option<IpAddr>) {
        let Some(ip) = ip else { return };
        if let Err(not_until) = self.budget.check_key(&ip) {
            let wait = not_until.wait_time_from(self.clock.now());
            let mut blocked = self.blocked.lock().unwrap_or_else(PoisonError::into_inner);
            if blocked.len() >= MAX_BLOCKED {
                let now = Instant::now();
                blocked.retain(|_, until| *until > now);
            }
            blocked.insert(ip, Instant::now() + wait.max(Duration::from_secs(1)));
        }
        if self.budget.len() > MAX_BLOCKED {
            self.budget.retain_recent();
        }
    }

    /// Counts a failed attempt with `key_id`, a real key of `tenant`.
    pub fn key_attempt(&self, tenant: &str, key_id: &str, ip: Option<IpAddr>, code: &str) {
        let at = now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let w = windows.entry(tenant.to_owned()).or_default();
        if w.count == 0 {
            w.first = at;
        }
        w.last = at;
        w.count += 1;
        let add = |set: &mut BTreeSet<String>, v: String| {
            if set.len() < LISTED {
                set.insert(v);
            }
        };
        add(&mut w.key_ids, key_id.to_owned());
        add(
            &mut w.sources,
            ip.map_or_else(|| "unknown".to_owned(), |i| i.to_string()),
        );
        add(&mut w.codes, code.to_owned());
    }

    /// The window's summaries, one event per tenant, and a fresh window.
    pub fn take_summaries(&self) -> Vec<AuditEvent> {
        let windows =
            std::mem::take(&mut *self.windows.lock().unwrap_or_else(PoisonError::into_inner));
        windows
            .into_iter()
            .map(|(tenant, w)| summary(tenant, &w))
            .collect()
    }

    /// Appends the window's summaries to their chains.
    pub async fn flush(state: &Arc<AppState>) {
        for event in state.failed_auth.take_summaries() {
            let tenant = event.tenant.clone();
            match crate::auth::audit_if_tenant(state, &tenant, event).await {
                Ok(()) => {}
                Err(e) => {
                    tracing::error!(%tenant, code = %e.body.code, "failed-attempt summary not written")
                }
            }
        }
    }

    /// Flushes every `window` until the server stops.
    pub fn spawn_flusher(state: Arc<AppState>, window: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(window);
            tick.tick().await;
            loop {
                tick.tick().await;
                Self::flush(&state).await;
            }
        })
    }
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn summary(tenant: String, w: &Window) -> AuditEvent {
    AuditEvent {
        actor: Actor {
            id: "unauthenticated".to_owned(),
            role: None,
            source_ip: (w.sources.len() == 1)
                .then(|| w.sources.first().cloned())
                .flatten(),
        },
        action: Action::Authorization,
        operation: Some("auth.failed_attempts".to_owned()),
        record: None,
        time: w.last,
        outcome: Outcome::Denied,
        changed_fields: Vec::new(),
        decision: None,
        reason: Some(format!(
            "{} failed API-key attempts between {} and {}; keys: {}; from: {}; codes: {}",
            w.count,
            w.first,
            w.last,
            join(&w.key_ids),
            join(&w.sources),
            join(&w.codes)
        )),
        recorded_by: Some(RecordedBy {
            origin: Origin::Server,
            credential: "unauthenticated".to_owned(),
        }),
        tenant,
    }
}

fn limited(wait: Duration) -> ApiError {
    crate::rate_limit::too_many(
        wait,
        "too many failed authentications from this address",
        "fix the credential, then wait for the `Retry-After` seconds",
    )
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "tests fail loudly"
    )]
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn an_address_is_blocked_after_its_burst_and_others_are_not() {
        let f = FailedAuth::new(1, 3);
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        for _ in 0..3 {
            assert!(f.check(Some(a)).is_ok());
            f.failed(Some(a));
        }
        assert!(f.check(Some(a)).is_ok(), "the burst itself is allowed");
        f.failed(Some(a));
        let err = f.check(Some(a)).unwrap_err();
        assert_eq!(err.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(err.retry_after.unwrap() >= 1);
        assert!(f.check(Some(b)).is_ok());
    }

    #[test]
    fn attempts_become_one_summary_per_tenant() {
        let f = FailedAuth::new(1, 3);
        for i in 0..50 {
            f.key_attempt(
                "acme",
                &format!("k{}", i % 2),
                None,
                "identity.api_key_invalid",
            );
        }
        f.key_attempt("beta", "k9", None, "identity.api_key_revoked");
        let events = f.take_summaries();
        assert_eq!(events.len(), 2);
        assert!(events[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("50 failed"));
        assert_eq!(events[0].tenant, "acme");
        assert!(f.take_summaries().is_empty());
    }
}
