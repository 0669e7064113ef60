//! Field-level authorization: which fields of a record a principal may read.
//!
//! Design: one action (`readField` by default) asked once per field, with the record
//! as the resource and the field in the context as an entity, `context.field ==
//! Field::"/diagnosis"`. Field ids are JSON pointers, the same strings
//! [`crate::crypto::Keyring::decrypt_record`] takes, so the answer's `readable` set
//! goes straight into record decryption and only permitted fields come back.
//! Classifying fields is data, not code: base entities such as
//! `Field::"/diagnosis" in FieldClass::"clinical"`; a field nobody classified is in no
//! class, so rules like "staff read non-clinical fields only" fail closed on it.
//!
//! All fields share one parse of the request and one entity slice.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::answer::{Effect, EvaluationError};
use super::engine::Engine;
use super::error::PolicyError;
use super::request::{self, EntityRef};

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Which of these fields of a record may the principal read?
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldsRequest {
    /// Who asks.
    pub principal: EntityRef,
    /// The record.
    pub resource: EntityRef,
    /// The fields, as JSON pointers (`/diagnosis`, `/contact/email`).
    pub fields: Vec<String>,
    /// The context, without `field` (the engine adds it per field).
    #[serde(default = "empty_object")]
    pub context: Value,
    /// Entities of the principal and the record, in Cedar's entity JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Value>,
    /// Tenant, as in an authorization request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The fields the principal may read, usable as the `readable` set of record
/// decryption.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldsResponse {
    /// Pointers the principal may read.
    pub readable: BTreeSet<String>,
    /// Pointers the principal may not read (including those whose check failed).
    pub denied: BTreeSet<String>,
    /// Evaluation errors, per policy (each made its field denied).
    pub errors: Vec<EvaluationError>,
    /// Audit flags of the determining policies of every field.
    pub audit_flags: Vec<String>,
    /// `sha256:` + hex of the bundle that decided.
    pub bundle_hash: String,
}

impl Engine {
    /// Decides the field action once per field, sharing the parse and the slice.
    pub fn readable_fields(&self, req: &FieldsRequest) -> Result<FieldsResponse, PolicyError> {
        crate::limits::check_count(
            "fields of a request",
            req.fields.len(),
            crate::limits::MAX_FIELDS,
        )?;
        crate::limits::check_value_nesting("the context", &req.context)?;
        crate::stack::deep(crate::stack::DECISION_RED_ZONE, || self.decide_fields(req))
    }

    fn decide_fields(&self, req: &FieldsRequest) -> Result<FieldsResponse, PolicyError> {
        let (Some(action), Some(field_type)) = self.field_mapping() else {
            return Err(PolicyError::Request {
                message: format!(
                    "the schema has no field action `{}` or field entity type `{}`, so field-level checks are not available",
                    self.options().field_action,
                    self.options().field_type
                ),
            });
        };
        let action = action.clone();
        let field_type = field_type.to_string();
        let schema = self.schema();
        let types = self.types();
        let Value::Object(base_context) = &req.context else {
            return Err(PolicyError::Request {
                message: "the context must be a JSON object".to_owned(),
            });
        };
        let entities = self.entity_cache().parse(schema, types, &req.entities)?;
        let principal = types.require("principal", &req.principal)?;
        let resource = types.require("resource", &req.resource)?;
        let tenant = self.request_tenant(&resource, &entities, req.tenant.as_deref())?;

        let mut roots = vec![principal.clone(), action.clone(), resource.clone()];
        types.collect_refs(&req.context, &mut roots);
        for field in &req.fields {
            if let Some(uid) = types.uid(&field_type, field) {
                roots.push(uid);
            }
        }
        let store = self.base_store().slice(roots.iter(), &entities)?;

        let mut out = FieldsResponse {
            readable: BTreeSet::new(),
            denied: BTreeSet::new(),
            errors: Vec::new(),
            audit_flags: Vec::new(),
            bundle_hash: self.bundle_hash().to_owned(),
        };
        let mut flags = BTreeSet::new();
        for field in &req.fields {
            let mut context = base_context.clone();
            context.insert(
                "field".to_owned(),
                json!({"__entity": {"type": field_type, "id": field}}),
            );
            let context = request::parse_context(schema, &action, &Value::Object(context))?;
            let request = request::build_request(
                schema,
                principal.clone(),
                action.clone(),
                resource.clone(),
                context,
            )?;
            let decision = self.evaluate(&request, tenant.as_deref(), &store);
            flags.extend(decision.audit_flags);
            out.errors.extend(decision.errors);
            if decision.decision == Effect::Allow {
                out.readable.insert(field.clone());
            } else {
                out.denied.insert(field.clone());
            }
        }
        out.audit_flags = flags.into_iter().collect();
        Ok(out)
    }
}
