//! The engine: policies parsed and validated once, base entities built once, then many
//! fast decisions.
//!
//! Per request the engine parses only the request itself (uids, context, the request's
//! own entities, all against the schema), picks the prebuilt policy set of the
//! request's tenant (platform ∪ tenant), joins the request's entities to the base (see
//! [`super::slice`]) and calls Cedar's authorizer. Nothing else is parsed, cloned or
//! rebuilt per request.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use cedar_policy::{
    AuthorizationError, Authorizer, Entities, EntityTypeName, EntityUid, PolicyId, PolicySet,
    Request, Schema,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::answer::{Decision, Effect, EvaluationError};
use super::entity_cache::EntityCache;
use super::error::PolicyError;
use super::request::{self, AuthorizeRequest, EntityRef, RequestEntity, TypeTable};
use super::slice::BaseStore;
use super::source::{self, PolicyFile};
use super::tenancy;
use crate::limits;

fn default_tenant_type() -> String {
    "Tenant".to_owned()
}
fn default_tenant_attribute() -> String {
    "tenant".to_owned()
}
fn default_field_action() -> EntityRef {
    EntityRef::new("Action", "readField")
}
fn default_field_type() -> String {
    "Field".to_owned()
}

/// How the engine maps tenants and fields onto the schema. The defaults fit the
/// healthcare pack; a schema without such types simply has no tenant layering or
/// field checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineOptions {
    /// Entity type of tenants (default `Tenant`).
    #[serde(default = "default_tenant_type")]
    pub tenant_type: String,
    /// Attribute naming an entity's tenant (default `tenant`).
    #[serde(default = "default_tenant_attribute")]
    pub tenant_attribute: String,
    /// The action asked once per field by field-level checks (default
    /// `Action::"readField"`); the field is put in the context as `field`.
    #[serde(default = "default_field_action")]
    pub field_action: EntityRef,
    /// Entity type of fields, whose ids are JSON pointers (default `Field`).
    #[serde(default = "default_field_type")]
    pub field_type: String,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            tenant_type: default_tenant_type(),
            tenant_attribute: default_tenant_attribute(),
            field_action: default_field_action(),
            field_type: default_field_type(),
        }
    }
}

/// Everything an engine is built from. A [`super::Bundle`] carries the same, signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineSpec {
    /// The schema, in Cedar schema syntax or Cedar's JSON schema format.
    pub schema: String,
    /// Platform policies: apply to every request.
    pub platform_policies: Vec<PolicyFile>,
    /// Each tenant's own policies: apply only to requests in that tenant.
    #[serde(default)]
    pub tenant_policies: BTreeMap<String, Vec<PolicyFile>>,
    /// Base entities (roles, tenants, ...) in Cedar's entity JSON.
    #[serde(default)]
    pub entities: Vec<Value>,
    /// Tenant and field mapping.
    #[serde(default)]
    pub options: EngineOptions,
}

/// A request parsed against the schema, ready to decide.
#[derive(Clone, Debug)]
pub struct PreparedRequest {
    pub(crate) request: Request,
    pub(crate) entities: Vec<RequestEntity>,
    pub(crate) context_refs: Vec<EntityUid>,
    pub(crate) tenant: Option<String>,
}

impl PreparedRequest {
    /// The Cedar request.
    pub fn request(&self) -> &Request {
        &self.request
    }
    /// The tenant whose policies apply, if any.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }
    /// The request's own entities, as Cedar entities.
    pub fn entities(&self) -> impl Iterator<Item = &cedar_policy::Entity> {
        self.entities.iter().map(|e| &e.entity)
    }
}

/// A Cedar authorization engine with tenant layering, audit flags and a bundle hash.
#[derive(Debug)]
pub struct Engine {
    pub(super) schema: Schema,
    pub(super) types: TypeTable,
    pub(super) base: BaseStore,
    platform: PolicySet,
    tenants: HashMap<String, PolicySet>,
    audit: HashMap<PolicyId, Vec<String>>,
    pub(super) options: EngineOptions,
    pub(super) tenant_type: Option<EntityTypeName>,
    field_action: Option<EntityUid>,
    field_type: Option<EntityTypeName>,
    bundle_hash: String,
    authorizer: Authorizer,
    /// Request entities already parsed (see `entity_cache`).
    pub(super) entity_cache: EntityCache,
    /// Entity types that can be an ancestor of some entity type (`in` them is more than
    /// equality), read from the schema on the first plan.
    pub(super) ancestor_types: std::sync::OnceLock<std::collections::HashSet<String>>,
}

/// Entity literals that a policy dereferences (attribute access, `has`, tags, or the
/// left side of `in` / `is`), read from Cedar's JSON policy form.
fn dereferenced_literals(policy: &cedar_policy::Policy, types: &TypeTable) -> Vec<EntityUid> {
    fn walk(value: &Value, types: &TypeTable, out: &mut Vec<EntityUid>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    if matches!(
                        key.as_str(),
                        "." | "has" | "in" | "is" | "getTag" | "hasTag"
                    ) {
                        if let Some(Value::Object(lit)) = inner
                            .get("left")
                            .and_then(|l| l.get("Value"))
                            .and_then(|v| v.get("__entity"))
                        {
                            if let (Some(Value::String(t)), Some(Value::String(id))) =
                                (lit.get("type"), lit.get("id"))
                            {
                                if let Some(uid) = types.uid(t, id) {
                                    out.push(uid);
                                }
                            }
                        }
                    }
                    walk(inner, types, out);
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, types, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    match policy.to_json() {
        Ok(json) => walk(&json, types, &mut out),
        // Cannot happen for a parsed static policy; fall back to every literal.
        Err(_) => out = policy.entity_literals(),
    }
    out
}

/// Sizes and nesting of a spec, before any recursive code (hashing, parsing) sees it;
/// each policy file and the schema are also checked where they are parsed.
fn check_spec_limits(spec: &EngineSpec) -> Result<(), PolicyError> {
    let policy_bytes: usize = spec
        .platform_policies
        .iter()
        .chain(spec.tenant_policies.values().flatten())
        .map(|f| f.text.len())
        .sum();
    limits::check_total_policy_bytes(policy_bytes)?;
    limits::check_entity_count("the base", spec.entities.len(), limits::MAX_BASE_ENTITIES)?;
    for value in &spec.entities {
        limits::check_value_nesting("a base entity", value)?;
    }
    Ok(())
}

impl Engine {
    /// Builds an engine: parses the schema, parses and strictly validates the platform
    /// and tenant policies, checks tenant policies stay in their tenant, and builds the
    /// base entities. The bundle hash is the hash of the spec's canonical JSON.
    /// Authoring builds only: elsewhere engines come from signed bundles.
    #[cfg(feature = "authoring")]
    pub fn new(spec: &EngineSpec) -> Result<Self, PolicyError> {
        // The limits before hashing too: canonicalization walks the entities recursively.
        check_spec_limits(spec)?;
        let hash = super::bundle::canonical_hash(spec)?;
        Self::with_hash(spec, hash)
    }

    pub(crate) fn with_hash(spec: &EngineSpec, bundle_hash: String) -> Result<Self, PolicyError> {
        crate::stack::deep(crate::stack::BUILD_RED_ZONE, || {
            Self::build(spec, bundle_hash)
        })
    }

    fn build(spec: &EngineSpec, bundle_hash: String) -> Result<Self, PolicyError> {
        check_spec_limits(spec)?;
        let schema = source::parse_schema(&spec.schema, "schema")?;
        let types = TypeTable::new(&schema);
        let options = spec.options.clone();
        let tenant_type = types
            .uid(&options.tenant_type, "")
            .map(|u| u.type_name().clone());
        let field_type = types
            .uid(&options.field_type, "")
            .map(|u| u.type_name().clone());
        let field_action = types.uid(&options.field_action.entity_type, &options.field_action.id);

        // Base entities, with the uids each one names.
        let entities =
            Entities::from_json_value(Value::Array(spec.entities.clone()), Some(&schema)).map_err(
                |err| PolicyError::Entities {
                    message: source::one_line(&err),
                },
            )?;
        let mut refs = HashMap::new();
        for value in &spec.entities {
            let Some(uid) = value
                .get("uid")
                .and_then(|u| Some((u.get("type")?.as_str()?, u.get("id")?.as_str()?)))
                .and_then(|(t, id)| types.uid(t, id))
            else {
                continue;
            };
            let mut named = Vec::new();
            for key in ["attrs", "tags"] {
                if let Some(v) = value.get(key) {
                    types.collect_refs(v, &mut named);
                }
            }
            if !named.is_empty() {
                refs.insert(uid, named.into_boxed_slice());
            }
        }
        let mut base = BaseStore {
            entities,
            refs,
            literals: Vec::new(),
        };

        // Platform layer.
        let platform_layer = source::parse_layer(&spec.platform_policies, "")?;
        // Strict validation where it is compiled in (authoring builds, natively always).
        // A build without it loads only signed bundles, which their signer validated.
        #[cfg(feature = "authoring")]
        source::validate_layer(&schema, &platform_layer, &spec.platform_policies)?;
        let mut literals = Vec::new();
        let mut audit = HashMap::new();
        let mut note = |layer: &source::ParsedLayer, audit: &mut HashMap<PolicyId, Vec<String>>| {
            for p in &layer.policies {
                literals.extend(dereferenced_literals(p, &types));
                if let Some(flags) = p.annotation("audit") {
                    let flags: Vec<String> = flags
                        .split(',')
                        .map(str::trim)
                        .filter(|f| !f.is_empty())
                        .map(str::to_owned)
                        .collect();
                    audit.insert(p.id().clone(), flags);
                }
            }
        };
        note(&platform_layer, &mut audit);
        let platform = source::policy_set([&platform_layer])?;

        // Tenant layers: each validated alone (validation is per policy), checked to stay
        // in its tenant, then combined with the platform layer.
        let mut tenant_layers = Vec::new();
        for (tenant, files) in &spec.tenant_policies {
            tenancy::check_tenant_id(tenant)?;
            let layer = source::parse_layer(files, &format!("{tenant}/"))?;
            for p in &layer.policies {
                tenancy::check_tenant_policy(
                    tenant,
                    p,
                    tenant_type.as_ref(),
                    &options.tenant_attribute,
                    &base,
                )?;
            }
            #[cfg(feature = "authoring")]
            source::validate_layer(&schema, &layer, files)?;
            note(&layer, &mut audit);
            tenant_layers.push((tenant.clone(), layer));
        }
        let mut tenants = HashMap::new();
        for (tenant, layer) in &tenant_layers {
            tenants.insert(
                tenant.clone(),
                source::policy_set([&platform_layer, layer])?,
            );
        }
        literals.sort();
        literals.dedup();
        base.literals = literals;

        Ok(Self {
            schema,
            types,
            base,
            platform,
            tenants,
            audit,
            options,
            tenant_type,
            field_action,
            field_type,
            bundle_hash,
            authorizer: Authorizer::new(),
            entity_cache: EntityCache::default(),
            ancestor_types: std::sync::OnceLock::new(),
        })
    }

    /// `sha256:` + hex of the bundle (or spec) this engine was built from.
    pub fn bundle_hash(&self) -> &str {
        &self.bundle_hash
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The base entities.
    pub fn base_entities(&self) -> &Entities {
        &self.base.entities
    }

    /// The policy set a request in `tenant` is evaluated against (platform ∪ tenant).
    pub fn policy_set(&self, tenant: Option<&str>) -> &PolicySet {
        tenant
            .and_then(|t| self.tenants.get(t))
            .unwrap_or(&self.platform)
    }

    /// The tenant and field mapping.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// The `@audit` flags of these policies, sorted and unique.
    pub(super) fn audit_flags_of(&self, ids: &[PolicyId]) -> Vec<String> {
        let mut flags = BTreeSet::new();
        for id in ids {
            if let Some(f) = self.audit.get(id) {
                flags.extend(f.iter().cloned());
            }
        }
        flags.into_iter().collect()
    }

    /// Decides one request. Any error in the input is returned as an error, which the
    /// caller must treat as a deny.
    pub fn authorize(&self, req: &AuthorizeRequest) -> Result<Decision, PolicyError> {
        crate::stack::deep(crate::stack::DECISION_RED_ZONE, || {
            let prepared = self.prepare(req)?;
            self.decide(&prepared)
        })
    }

    /// Parses a request against the schema without deciding it.
    pub fn prepare(&self, req: &AuthorizeRequest) -> Result<PreparedRequest, PolicyError> {
        limits::check_value_nesting("the context", &req.context)?;
        let entities = self
            .entity_cache
            .parse(&self.schema, &self.types, &req.entities)?;
        let principal = self.types.require("principal", &req.principal)?;
        let action = self.types.require("action", &req.action)?;
        let resource = self.types.require("resource", &req.resource)?;
        let tenant = self.request_tenant(&resource, &entities, req.tenant.as_deref())?;
        let context = request::parse_context(&self.schema, &action, &req.context)?;
        let mut context_refs = Vec::new();
        self.types.collect_refs(&req.context, &mut context_refs);
        let request = request::build_request(&self.schema, principal, action, resource, context)?;
        Ok(PreparedRequest {
            request,
            entities,
            context_refs,
            tenant,
        })
    }

    /// Decides a prepared request.
    pub fn decide(&self, prepared: &PreparedRequest) -> Result<Decision, PolicyError> {
        let tenant = prepared.tenant.as_deref();
        if prepared.entities.is_empty() && prepared.context_refs.is_empty() {
            return Ok(self.evaluate(&prepared.request, tenant, &self.base.entities));
        }
        let r = &prepared.request;
        let roots = [r.principal(), r.action(), r.resource()]
            .into_iter()
            .flatten()
            .chain(prepared.context_refs.iter());
        let slice = self.base.slice(roots, &prepared.entities)?;
        Ok(self.evaluate(r, tenant, &slice))
    }

    /// The tenant of a request: the resource's tenant, checked against the one given.
    pub(crate) fn request_tenant(
        &self,
        resource: &EntityUid,
        entities: &[RequestEntity],
        given: Option<&str>,
    ) -> Result<Option<String>, PolicyError> {
        let derived = self.tenant_type.as_ref().and_then(|tt| {
            if resource.type_name() == tt {
                return Some(resource.id().unescaped().to_owned());
            }
            let attr = &self.options.tenant_attribute;
            match entities.iter().find(|e| &e.uid() == resource) {
                Some(e) => tenancy::tenant_of_attr(e.entity.attr(attr), tt),
                None => self
                    .base
                    .entities
                    .get(resource)
                    .and_then(|e| tenancy::tenant_of_attr(e.attr(attr), tt)),
            }
        });
        match (given, derived) {
            (Some(g), Some(d)) if g != d => Err(PolicyError::TenantMismatch {
                given: g.to_owned(),
                actual: d,
            }),
            (Some(g), _) => Ok(Some(g.to_owned())),
            (None, d) => Ok(d),
        }
    }

    /// Runs Cedar and turns its response into an answer (fail-closed on errors).
    pub(crate) fn evaluate(
        &self,
        request: &Request,
        tenant: Option<&str>,
        entities: &Entities,
    ) -> Decision {
        let set = self.policy_set(tenant);
        let response = self.authorizer.is_authorized(request, set, entities);
        let diagnostics = response.diagnostics();
        let errors: Vec<EvaluationError> = diagnostics
            .errors()
            .map(|err| match err {
                AuthorizationError::PolicyEvaluationError(e) => EvaluationError {
                    policy: e.policy_id().to_string(),
                    message: e.inner().to_string(),
                },
            })
            .collect();
        let cedar_allows = response.decision() == cedar_policy::Decision::Allow;
        let (decision, reasons): (Effect, Vec<&PolicyId>) = if cedar_allows && errors.is_empty() {
            (Effect::Allow, diagnostics.reason().collect())
        } else if cedar_allows {
            (Effect::Deny, Vec::new())
        } else {
            (Effect::Deny, diagnostics.reason().collect())
        };
        let mut flags = BTreeSet::new();
        for id in &reasons {
            if let Some(f) = self.audit.get(*id) {
                flags.extend(f.iter().cloned());
            }
        }
        let mut policies: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        policies.sort();
        let mut errors = errors;
        errors.sort_by(|a, b| a.policy.cmp(&b.policy));
        Decision {
            decision,
            policies,
            errors,
            audit_flags: flags.into_iter().collect(),
            bundle_hash: self.bundle_hash.clone(),
        }
    }

    pub(crate) fn types(&self) -> &TypeTable {
        &self.types
    }

    pub(crate) fn entity_cache(&self) -> &EntityCache {
        &self.entity_cache
    }

    pub(crate) fn base_store(&self) -> &BaseStore {
        &self.base
    }

    pub(crate) fn field_mapping(&self) -> (Option<&EntityUid>, Option<&EntityTypeName>) {
        (self.field_action.as_ref(), self.field_type.as_ref())
    }
}
