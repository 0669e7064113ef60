//! Requests in Cedar's standard JSON forms, and their parsing against the schema.
//!
//! Entity uids are `{"type": "User", "id": "alice"}`; entities are Cedar's entity JSON
//! (`uid`, `attrs`, `parents`, optional `tags`); the context is a JSON object. All are
//! parsed with the schema, so `"10.0.0.1"` becomes an `ipaddr` where the schema says
//! so, and a wrong attribute type, an unknown entity type or a missing context field
//! is an error (and so a deny), never a guess.

use std::collections::HashMap;

use cedar_policy::{Context, Entity, EntityId, EntityTypeName, EntityUid, Request, Schema};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::PolicyError;

/// An entity uid in Cedar's JSON form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityRef {
    /// Entity type, with its namespace if any: `User`, `Action`, `App::Document`.
    #[serde(rename = "type")]
    pub entity_type: String,
    /// Entity id.
    pub id: String,
}

impl EntityRef {
    /// A uid from its type and id.
    pub fn new(entity_type: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            entity_type: entity_type.into(),
            id: id.into(),
        }
    }
}

impl std::fmt::Display for EntityRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}::{:?}", self.entity_type, self.id)
    }
}

/// `{}`: the default context of a request.
pub(crate) fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// One authorization request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// Who asks.
    pub principal: EntityRef,
    /// What they want to do (type `Action`).
    pub action: EntityRef,
    /// On what.
    pub resource: EntityRef,
    /// The context record (e.g. `{"mfa": true}`); `{}` when absent.
    #[serde(default = "empty_object")]
    pub context: Value,
    /// The request's own entities (principal and resource with their attributes), in
    /// Cedar's entity JSON. They are joined to the engine's base entities; an entity
    /// given here replaces a base entity with the same uid for this request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Value>,
    /// The tenant whose policies apply, in addition to the platform policies. When
    /// absent it is the resource's tenant (the resource itself if it is a tenant, else
    /// its tenant attribute); when given it must agree with the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// Entity type names of a schema, looked up by their text without re-parsing.
#[derive(Debug, Default)]
pub(crate) struct TypeTable {
    types: HashMap<String, EntityTypeName>,
}

impl TypeTable {
    pub(crate) fn new(schema: &Schema) -> Self {
        let mut types = HashMap::new();
        for t in schema.entity_types() {
            types.insert(t.to_string(), t.clone());
        }
        for a in schema.actions() {
            let t = a.type_name();
            types.insert(t.to_string(), t.clone());
        }
        Self { types }
    }

    /// The uid, if its type is one of the schema's.
    pub(crate) fn uid(&self, entity_type: &str, id: &str) -> Option<EntityUid> {
        self.types
            .get(entity_type)
            .map(|t| EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id)))
    }

    /// The uid, or an error naming the unknown type.
    pub(crate) fn require(&self, what: &str, r: &EntityRef) -> Result<EntityUid, PolicyError> {
        self.uid(&r.entity_type, &r.id)
            .ok_or_else(|| PolicyError::Request {
                message: format!(
                    "the {what} `{r}` has entity type `{}`, which the schema does not declare",
                    r.entity_type
                ),
            })
    }

    /// Every uid-shaped object (`{"type", "id"}` strings, or `__entity`) inside a JSON
    /// value whose type is in the schema. Over-approximates the entities a value refers
    /// to, which is what the entity slice needs.
    pub(crate) fn collect_refs(&self, value: &Value, out: &mut Vec<EntityUid>) {
        match value {
            Value::Object(map) => {
                if let (Some(Value::String(t)), Some(Value::String(id))) =
                    (map.get("type"), map.get("id"))
                {
                    if let Some(uid) = self.uid(t, id) {
                        out.push(uid);
                    }
                }
                for v in map.values() {
                    self.collect_refs(v, out);
                }
            }
            Value::Array(items) => {
                for v in items {
                    self.collect_refs(v, out);
                }
            }
            _ => {}
        }
    }
}

/// An entity brought by a request, parsed with the schema, with the uids it refers to.
#[derive(Clone, Debug)]
pub struct RequestEntity {
    pub(crate) entity: Entity,
    pub(crate) refs: Vec<EntityUid>,
}

impl RequestEntity {
    /// The entity's uid.
    pub fn uid(&self) -> EntityUid {
        self.entity.uid()
    }
}

/// Parses one request entity with the schema (the engine reaches this through its
/// [`EntityCache`](super::entity_cache::EntityCache)).
pub(crate) fn parse_entity(
    schema: &Schema,
    types: &TypeTable,
    value: &Value,
) -> Result<RequestEntity, PolicyError> {
    crate::limits::check_value_nesting("a request entity", value)?;
    let mut refs = Vec::new();
    if let Value::Object(map) = value {
        for key in ["attrs", "parents", "tags"] {
            if let Some(v) = map.get(key) {
                types.collect_refs(v, &mut refs);
            }
        }
    }
    let entity = Entity::from_json_value(value.clone(), Some(schema)).map_err(|err| {
        PolicyError::Entities {
            message: crate::policy::source::one_line(&err),
        }
    })?;
    Ok(RequestEntity { entity, refs })
}

/// Parses a context for an action with the schema.
pub(crate) fn parse_context(
    schema: &Schema,
    action: &EntityUid,
    context: &Value,
) -> Result<Context, PolicyError> {
    Context::from_json_value(context.clone(), Some((schema, action))).map_err(|err| {
        PolicyError::Request {
            message: format!(
                "context for action `{action}`: {}",
                crate::policy::source::one_line(&err)
            ),
        }
    })
}

/// Builds a request validated against the schema.
pub(crate) fn build_request(
    schema: &Schema,
    principal: EntityUid,
    action: EntityUid,
    resource: EntityUid,
    context: Context,
) -> Result<Request, PolicyError> {
    Request::new(principal, action, resource, context, Some(schema)).map_err(|err| {
        PolicyError::Request {
            message: crate::policy::source::one_line(&err),
        }
    })
}
