//! Request entities the engine has already parsed, kept by their exact JSON text.
//!
//! A request brings its principal and resource as Cedar entity JSON, and Cedar's
//! schema-directed parse of that JSON is the largest part of a decision: measured with
//! `perf` on `decision/1000/engine_authorize_from_json_types` (`benches/policy.rs`), it
//! was ~55% of the time, ahead of the entity slice and policy evaluation. The same user
//! and the same record arrive with many requests (a page checking which actions a user
//! may take, a user working through a chart), so the engine keeps what it parsed.
//!
//! A hit is exactly what parsing again would give: the key is the entity's whole JSON
//! text (as serialized from the request, so key order counts; a reordered entity is a
//! miss, never a wrong hit), and an engine has one schema for its lifetime. Only
//! entities that parsed are kept; an invalid one is parsed, and refused, every time.
//!
//! Bounds: [`CAPACITY`] entities, least recently used evicted first, and an entity whose
//! text is longer than [`MAX_TEXT`] bytes is parsed every time and never kept, so the
//! cache holds at most ~2 MiB of text plus the parsed entities whatever requests send.
//!
//! Timing: a hit is faster than a miss, so a caller able to time its own decisions
//! learns whether an entity with exactly that JSON (uid, every attribute and parent) was
//! recently decided on by this engine. Guessing a whole entity is what that takes, and a
//! correct guess reveals only that it was used; `docs/security.md` says so.

use std::num::NonZeroUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};

use cedar_policy::Schema;
use lru::LruCache;
use serde_json::Value;

use super::error::PolicyError;
use super::request::{self, RequestEntity, TypeTable};

/// Entities kept.
pub(crate) const CAPACITY: usize = 512;
/// Longest entity JSON text kept, in bytes.
pub(crate) const MAX_TEXT: usize = 4096;

/// Parsed request entities by JSON text (LRU, bounded).
pub(crate) struct EntityCache {
    entries: Mutex<LruCache<Box<str>, RequestEntity>>,
}

impl std::fmt::Debug for EntityCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EntityCache")
            .field("len", &self.lock().len())
            .finish()
    }
}

impl Default for EntityCache {
    fn default() -> Self {
        Self::with_capacity(CAPACITY)
    }
}

impl EntityCache {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// The cache holds no invariant a panicking holder could break (an entry is
    /// inserted whole or not at all), so a poisoned lock is used as is.
    fn lock(&self) -> MutexGuard<'_, LruCache<Box<str>, RequestEntity>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Parses request entities with the schema, taking each one already parsed from the
    /// cache. Same answers, errors included, as [`request::parse_entity`] on each.
    pub(crate) fn parse(
        &self,
        schema: &Schema,
        types: &TypeTable,
        values: &[Value],
    ) -> Result<Vec<RequestEntity>, PolicyError> {
        crate::limits::check_entity_count(
            "the request",
            values.len(),
            crate::limits::MAX_REQUEST_ENTITIES,
        )?;
        let parsed: Vec<RequestEntity> = values
            .iter()
            .map(|value| {
                // Serializing a `Value` cannot fail (its keys are strings).
                let text = serde_json::to_string(value).unwrap_or_default();
                let keep = !text.is_empty() && text.len() <= MAX_TEXT;
                if keep {
                    if let Some(hit) = self.lock().get(text.as_str()) {
                        return Ok(hit.clone());
                    }
                }
                // Parsed outside the lock: other threads' decisions do not wait on it.
                let parsed = request::parse_entity(schema, types, value)?;
                if keep {
                    self.lock().put(text.into_boxed_str(), parsed.clone());
                }
                Ok(parsed)
            })
            .collect::<Result<_, PolicyError>>()?;
        // One uid, one entity: with two, the decision would depend on their order.
        let mut uids = std::collections::HashSet::with_capacity(parsed.len());
        for e in &parsed {
            let uid = e.uid();
            if !uids.insert(uid.clone()) {
                return Err(PolicyError::Entities {
                    message: format!("the request brings entity `{uid}` twice"),
                });
            }
        }
        Ok(parsed)
    }

    /// Entities held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SCHEMA: &str = r#"
        entity Tenant;
        entity User { tenant: Tenant, level: Long };
        action view appliesTo { principal: User, resource: User };
    "#;

    fn setup() -> (Schema, TypeTable) {
        let (schema, _) = Schema::from_cedarschema_str(SCHEMA).unwrap();
        let types = TypeTable::new(&schema);
        (schema, types)
    }

    fn user(id: &str, level: i64) -> Value {
        json!({"uid": {"type": "User", "id": id},
               "attrs": {"tenant": {"type": "Tenant", "id": "t1"}, "level": level},
               "parents": []})
    }

    fn as_json(entities: &[RequestEntity]) -> Vec<Value> {
        entities
            .iter()
            .map(|e| e.entity.to_json_value().unwrap())
            .collect()
    }

    #[test]
    fn a_hit_is_what_parsing_gives() {
        let (schema, types) = setup();
        let cache = EntityCache::default();
        let values = [user("alice", 1), user("bob", 2)];
        let direct: Vec<RequestEntity> = values
            .iter()
            .map(|v| request::parse_entity(&schema, &types, v).unwrap())
            .collect();
        let first = cache.parse(&schema, &types, &values).unwrap();
        assert_eq!(cache.len(), 2);
        let second = cache.parse(&schema, &types, &values).unwrap();
        assert_eq!(cache.len(), 2, "hits add nothing");
        for got in [&first, &second] {
            assert_eq!(as_json(got), as_json(&direct));
            let refs: Vec<_> = got.iter().map(|e| e.refs.clone()).collect();
            let want: Vec<_> = direct.iter().map(|e| e.refs.clone()).collect();
            assert_eq!(refs, want);
        }
    }

    #[test]
    fn a_changed_attribute_is_a_miss_not_the_old_entity() {
        let (schema, types) = setup();
        let cache = EntityCache::default();
        cache.parse(&schema, &types, &[user("alice", 1)]).unwrap();
        let changed = cache.parse(&schema, &types, &[user("alice", 7)]).unwrap();
        assert_eq!(
            as_json(&changed)[0]["attrs"]["level"],
            json!(7),
            "same uid, new attribute value"
        );
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn invalid_entities_are_refused_every_time_and_never_kept() {
        let (schema, types) = setup();
        let cache = EntityCache::default();
        let bad = json!({"uid": {"type": "User", "id": "eve"},
                         "attrs": {"tenant": {"type": "Tenant", "id": "t1"}, "level": "high"},
                         "parents": []});
        let direct = request::parse_entity(&schema, &types, &bad).unwrap_err();
        for _ in 0..2 {
            let err = cache
                .parse(&schema, &types, std::slice::from_ref(&bad))
                .unwrap_err();
            assert_eq!(err, direct);
        }
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn bounded_by_count_and_text_size() {
        let (schema, types) = setup();
        let cache = EntityCache::with_capacity(3);
        for i in 0..10 {
            cache
                .parse(&schema, &types, &[user(&format!("u{i}"), i)])
                .unwrap();
        }
        assert_eq!(cache.len(), 3, "least recently used evicted");
        let cache = EntityCache::default();
        let long = user(&"x".repeat(MAX_TEXT), 1);
        let parsed = cache.parse(&schema, &types, &[long]).unwrap();
        assert_eq!(parsed.len(), 1, "a long entity still parses");
        assert_eq!(cache.len(), 0, "but is not kept");
    }
}
