//! From a token's claims to the principal the policies expect.
//!
//! The healthcare pack models callers as Cedar entities `Phylax::User::"<id>"` with a
//! tenant, roles, and `context.mfa`. Identity providers spell these differently, so the
//! claim names are configuration ([`ClaimMapping`]); the defaults follow Auth0, where
//! custom claims must be namespaced URLs added by an Action:
//!
//! | [`Identity`] field | default claim | accepted shapes |
//! | --- | --- | --- |
//! | `principalId` | `sub` | non-empty string |
//! | `tenantId` | `https://phylax.dev/tenant` | non-empty string (required unless `requireTenant: false`) |
//! | `roles` | `https://phylax.dev/roles` | array of strings, or one space-separated string; absent = no roles |
//! | `mfa` | `amr` contains one of `mfaValues` (default `["mfa"]`) | array of strings or one string; absent = false |
//! | `claims` | each name in `expose` | copied as is when present |
//!
//! Claim names are matched exactly as top-level keys (namespaced names contain dots and
//! slashes, so there is no path syntax). An Okta or Keycloak setup changes the names,
//! e.g. `tenant: "org_id"`, `roles: "groups"`. The integration layer turns an
//! [`Identity`] into the Cedar principal entity and request context.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::JwtError;

/// Which claims hold the principal, tenant, roles and authentication methods.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ClaimMapping {
    /// The principal id (default `sub`).
    pub principal: String,
    /// The tenant id (default `https://phylax.dev/tenant`).
    pub tenant: String,
    /// The roles (default `https://phylax.dev/roles`).
    pub roles: String,
    /// Authentication methods (default `amr`, RFC 8176).
    pub amr: String,
    /// `amr` values that mean multi-factor (default `["mfa"]`; add e.g. `otp`, `hwk`).
    pub mfa_values: Vec<String>,
    /// Other claims to copy into [`Identity::claims`].
    pub expose: Vec<String>,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            principal: "sub".to_owned(),
            tenant: "https://phylax.dev/tenant".to_owned(),
            roles: "https://phylax.dev/roles".to_owned(),
            amr: "amr".to_owned(),
            mfa_values: vec!["mfa".to_owned()],
            expose: Vec::new(),
        }
    }
}

/// Who the token says the caller is, in the shape the policies use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Identity {
    /// The principal's id: the Cedar principal is `Phylax::User::"<principalId>"`.
    pub principal_id: String,
    /// The tenant the principal acts in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Roles, in token order, without duplicates.
    pub roles: Vec<String>,
    /// Whether the login used multiple factors (`context.mfa`).
    pub mfa: bool,
    /// The token's issuer.
    pub issuer: String,
    /// The token's expiry, unix seconds.
    pub expires_at: u64,
    /// The claims listed in [`ClaimMapping::expose`] that were present.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub claims: Map<String, Value>,
}

impl ClaimMapping {
    pub(crate) fn validate(&self) -> Result<(), JwtError> {
        if [&self.principal, &self.tenant, &self.roles, &self.amr]
            .iter()
            .any(|name| name.is_empty())
        {
            return Err(JwtError::InvalidConfig {
                reason: "claim names must not be empty",
            });
        }
        Ok(())
    }

    /// Maps verified claims to an identity.
    pub fn map(
        &self,
        claims: &Map<String, Value>,
        require_tenant: bool,
    ) -> Result<Identity, JwtError> {
        let principal_id = required_string(claims, &self.principal)?;
        let tenant_id = match claims.get(&self.tenant) {
            None | Some(Value::Null) if require_tenant => {
                return Err(JwtError::MissingClaim {
                    claim: self.tenant.clone(),
                })
            }
            None | Some(Value::Null) => None,
            Some(_) => Some(required_string(claims, &self.tenant)?),
        };
        let mut roles = Vec::new();
        for role in string_list(claims, &self.roles)? {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        let mfa = string_list(claims, &self.amr)?
            .iter()
            .any(|method| self.mfa_values.contains(method));
        let claims_out = self
            .expose
            .iter()
            .filter_map(|name| claims.get(name).map(|value| (name.clone(), value.clone())))
            .collect();
        Ok(Identity {
            principal_id,
            tenant_id,
            roles,
            mfa,
            issuer: claims
                .get("iss")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            expires_at: claims
                .get("exp")
                .and_then(Value::as_u64)
                .unwrap_or_else(|| {
                    // Fractional `exp` (already validated as a non-negative number).
                    #[allow(
                        clippy::cast_possible_truncation,
                        clippy::cast_sign_loss,
                        reason = "validated non-negative; `as` saturates"
                    )]
                    let floored = claims
                        .get("exp")
                        .and_then(Value::as_f64)
                        .unwrap_or(0.0)
                        .floor() as u64;
                    floored
                }),
            claims: claims_out,
        })
    }
}

fn required_string(claims: &Map<String, Value>, name: &str) -> Result<String, JwtError> {
    match claims.get(name) {
        None | Some(Value::Null) => Err(JwtError::MissingClaim {
            claim: name.to_owned(),
        }),
        Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        Some(_) => Err(JwtError::InvalidClaim {
            claim: name.to_owned(),
            reason: "expected a non-empty string",
        }),
    }
}

fn string_list(claims: &Map<String, Value>, name: &str) -> Result<Vec<String>, JwtError> {
    let invalid = || JwtError::InvalidClaim {
        claim: name.to_owned(),
        reason: "expected an array of strings or a space-separated string",
    };
    match claims.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(text.split_whitespace().map(str::to_owned).collect()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(invalid))
            .collect(),
        Some(_) => Err(invalid()),
    }
}
