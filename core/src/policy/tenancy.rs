//! Tenant layering: which tenant a request is in, and what a tenant's policies may name.
//!
//! A request in tenant `T` is evaluated against the platform policies and `T`'s own
//! policies only. Cedar's rule that a satisfied `forbid` always wins means a tenant
//! permit can never lift a platform forbid (the pack's isolation forbids keep every
//! principal inside its tenant). At load time a tenant's policy is rejected if it names
//! another tenant, or a base entity whose tenant attribute is another tenant.

use cedar_policy::{EntityTypeName, EntityUid, EvalResult, Policy};

use super::error::PolicyError;
use super::slice::BaseStore;

/// Checks a tenant id is usable as a policy-id prefix.
pub(crate) fn check_tenant_id(tenant: &str) -> Result<(), PolicyError> {
    if tenant.is_empty() || tenant.contains('/') || tenant.len() > 256 {
        return Err(PolicyError::TenantPolicy {
            tenant: tenant.to_owned(),
            policy: String::new(),
            reason: "a tenant id must be 1 to 256 bytes without `/`".to_owned(),
        });
    }
    Ok(())
}

/// The tenant an entity belongs to through its tenant attribute.
pub(crate) fn tenant_of_attr(
    value: Option<Result<EvalResult, impl std::fmt::Debug>>,
    tenant_type: &EntityTypeName,
) -> Option<String> {
    match value {
        Some(Ok(EvalResult::EntityUid(uid))) if uid.type_name() == tenant_type => {
            Some(uid.id().unescaped().to_owned())
        }
        _ => None,
    }
}

/// Rejects a tenant policy that names another tenant or another tenant's entity.
pub(crate) fn check_tenant_policy(
    tenant: &str,
    policy: &Policy,
    tenant_type: Option<&EntityTypeName>,
    tenant_attr: &str,
    base: &BaseStore,
) -> Result<(), PolicyError> {
    let Some(tenant_type) = tenant_type else {
        return Ok(());
    };
    let reject = |uid: &EntityUid, why: String| PolicyError::TenantPolicy {
        tenant: tenant.to_owned(),
        policy: policy.id().to_string(),
        reason: format!("it names `{uid}`, {why}"),
    };
    for uid in policy.entity_literals() {
        if uid.type_name() == tenant_type {
            if uid.id().unescaped() != tenant {
                return Err(reject(&uid, "another tenant".to_owned()));
            }
            continue;
        }
        if let Some(entity) = base.entities.get(&uid) {
            if let Some(owner) = tenant_of_attr(entity.attr(tenant_attr), tenant_type) {
                if owner != tenant {
                    return Err(reject(&uid, format!("an entity of tenant `{owner}`")));
                }
            }
        }
    }
    Ok(())
}
