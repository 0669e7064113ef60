//! Batch decisions: many (action, resource) pairs for one principal in one call.
//!
//! The principal, the shared entities and the entity slice are parsed and built once
//! for the whole batch; each item then costs one context parse (shared between items
//! of the same action) and one Cedar evaluation. A bad item gets its own error answer
//! and does not spoil the others.

use std::collections::HashMap;

use cedar_policy::{Context, EntityUid};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::answer::Decision;
use super::engine::Engine;
use super::error::PolicyError;
use super::request::{self, EntityRef};
use crate::calls::Answer;

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Many decisions for one principal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchRequest {
    /// Who asks.
    pub principal: EntityRef,
    /// Context shared by the items that do not bring their own.
    #[serde(default = "empty_object")]
    pub context: Value,
    /// Entities of the principal and of every resource, in Cedar's entity JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Value>,
    /// The pairs to decide.
    pub items: Vec<BatchItem>,
    /// Tenant for every item (each must agree with its resource); absent: each item's
    /// resource's tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// One (action, resource) pair of a batch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchItem {
    /// The action.
    pub action: EntityRef,
    /// The resource.
    pub resource: EntityRef,
    /// This item's context, replacing the batch's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

/// One answer per item, in order: `{"ok": Decision}` or `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BatchResponse {
    /// The answers.
    pub decisions: Vec<Answer<Decision>>,
}

impl Engine {
    /// Decides every item of a batch. Errors in what the items share (principal,
    /// entities) fail the whole batch; an item's own error fails only that item.
    pub fn authorize_batch(&self, req: &BatchRequest) -> Result<BatchResponse, PolicyError> {
        crate::limits::check_count(
            "items of a batch",
            req.items.len(),
            crate::limits::MAX_BATCH_ITEMS,
        )?;
        crate::limits::check_value_nesting("the context", &req.context)?;
        for item in &req.items {
            if let Some(ctx) = &item.context {
                crate::limits::check_value_nesting("an item's context", ctx)?;
            }
        }
        crate::stack::deep(crate::stack::DECISION_RED_ZONE, || self.decide_batch(req))
    }

    fn decide_batch(&self, req: &BatchRequest) -> Result<BatchResponse, PolicyError> {
        let schema = self.schema();
        let types = self.types();
        let entities = self.entity_cache().parse(schema, types, &req.entities)?;
        let principal = types.require("principal", &req.principal)?;

        // Resolve every item's uids first, so the slice is built once for all.
        let mut resolved: Vec<Result<(EntityUid, EntityUid), PolicyError>> =
            Vec::with_capacity(req.items.len());
        let mut roots = vec![principal.clone()];
        let mut context_refs = Vec::new();
        types.collect_refs(&req.context, &mut context_refs);
        for item in &req.items {
            let pair = types
                .require("action", &item.action)
                .and_then(|a| types.require("resource", &item.resource).map(|r| (a, r)));
            if let Ok((a, r)) = &pair {
                roots.push(a.clone());
                roots.push(r.clone());
            }
            if let Some(ctx) = &item.context {
                types.collect_refs(ctx, &mut context_refs);
            }
            resolved.push(pair);
        }
        let needs_slice = !entities.is_empty() || !context_refs.is_empty();
        roots.extend(context_refs);
        let slice = if !needs_slice {
            None
        } else {
            Some(self.base_store().slice(roots.iter(), &entities)?)
        };
        let store = slice.as_ref().unwrap_or_else(|| self.base_entities());

        let mut shared_contexts: HashMap<EntityUid, Result<Context, PolicyError>> = HashMap::new();
        let decisions = req
            .items
            .iter()
            .zip(resolved)
            .map(|(item, pair)| {
                let result = pair.and_then(|(action, resource)| {
                    let context = match &item.context {
                        Some(ctx) => request::parse_context(schema, &action, ctx)?,
                        None => shared_contexts
                            .entry(action.clone())
                            .or_insert_with(|| {
                                request::parse_context(schema, &action, &req.context)
                            })
                            .clone()?,
                    };
                    let tenant =
                        self.request_tenant(&resource, &entities, req.tenant.as_deref())?;
                    let request = request::build_request(
                        schema,
                        principal.clone(),
                        action,
                        resource,
                        context,
                    )?;
                    Ok(self.evaluate(&request, tenant.as_deref(), store))
                });
                Answer::from_result(result)
            })
            .collect();
        Ok(BatchResponse { decisions })
    }
}
