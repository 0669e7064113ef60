//! The built-in healthcare pack: schema, policies and base entities of the reference
//! platform (DESIGN.md §1.2), shipped as `.cedarschema`, `.cedar` and entity JSON
//! files in `core/pack/` and compiled in.
//!
//! Roles are base entities (`Role::"owner"` is in `Role::"tenant_admin"`, so owners
//! can do all a tenant admin can); users, records and API keys come with each request
//! or as extra base entities. Field classes `FieldClass::"clinical"` and
//! `FieldClass::"non_clinical"` are base entities; classify your fields with entities
//! such as `{"uid":{"type":"Field","id":"/name"},"parents":[{"type":"FieldClass","id":"non_clinical"}],"attrs":{}}`.
//! The pack is a default, not a limit: bring your own schema and policies with
//! [`EngineSpec`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::engine::{EngineOptions, EngineSpec};
use super::error::PolicyError;
use super::source::PolicyFile;

/// The pack's schema (Cedar syntax).
pub const SCHEMA: &str = include_str!("../../pack/healthcare.cedarschema");
/// The pack's platform policies.
pub const POLICIES: &str = include_str!("../../pack/healthcare.cedar");
/// The pack's base entities (roles, field classes), Cedar entity JSON.
pub const ENTITIES: &str = include_str!("../../pack/healthcare.entities.json");

/// The pack as an engine spec, with extra base entities and tenant policies.
pub fn healthcare(
    tenant_policies: BTreeMap<String, Vec<PolicyFile>>,
    extra_entities: Vec<Value>,
) -> Result<EngineSpec, PolicyError> {
    let mut entities: Vec<Value> =
        serde_json::from_str(ENTITIES).map_err(|err| PolicyError::Entities {
            message: format!("healthcare.entities.json: {err}"),
        })?;
    entities.extend(extra_entities);
    Ok(EngineSpec {
        schema: SCHEMA.to_owned(),
        platform_policies: vec![PolicyFile::new("healthcare.cedar", POLICIES)],
        tenant_policies,
        entities,
        options: EngineOptions::default(),
    })
}
