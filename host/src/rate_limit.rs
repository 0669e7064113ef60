//! Per-credential rate limiting: GCRA (`governor`), one cell per credential id.
//!
//! Each credential (an API key id, a JWT subject, the admin token) has its own budget of
//! `rate_limit_per_second` with bursts of `rate_limit_burst`. A request over budget gets
//! 429 `rate.limited` with `Retry-After` in whole seconds (rounded up).

use std::num::NonZeroU32;
use std::time::Duration;

use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::ApiError;

/// The limiter.
#[derive(Debug)]
pub struct Limiter {
    inner: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl Limiter {
    /// `per_second` sustained, `burst` at once (both at least 1).
    pub fn new(per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_second(rate).allow_burst(burst);
        Self {
            inner: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from `key`'s budget, or says how long to wait.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        // Keys are credential ids (never secrets); the map is pruned as it grows.
        match self.inner.check_key(&key.to_owned()) {
            Ok(()) => {
                if self.inner.len() > 100_000 {
                    self.inner.retain_recent();
                }
                Ok(())
            }
            Err(not_until) => Err(too_many(
                not_until.wait_time_from(self.clock.now()),
                "too many requests for this credential",
                "slow down: wait for the `Retry-After` seconds, or ask the operator for a higher limit",
            )),
        }
    }
}

/// 429 `rate.limited` with `Retry-After`: `wait` in whole seconds, rounded up, at least 1.
pub fn too_many(wait: Duration, what: &str, hint: &str) -> ApiError {
    let secs = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
    let mut err = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate.limited",
        format!("{what}; retry in {secs} s"),
        hint,
    );
    err.retry_after = Some(secs);
    err
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_limited() {
        let l = Limiter::new(1, 3);
        for _ in 0..3 {
            assert!(l.check("a").is_ok());
        }
        let err = l.check("a").err();
        assert_eq!(
            err.as_ref().map(|e| e.status),
            Some(StatusCode::TOO_MANY_REQUESTS)
        );
        assert_eq!(err.and_then(|e| e.retry_after), Some(1));
        assert!(l.check("b").is_ok(), "budgets are per key");
    }
}
