//! The privilege model: which credential may call which route, decided in one place.
//!
//! Every `/v1` route has one row in [`ROUTES`]: the scope it needs and its [`Reach`].
//! [`crate::auth::authenticate`] looks the matched route up and calls [`decide`] before
//! any handler runs (and before the body is read); a route without a row is refused
//! with 500, so a new route cannot ship unguarded. `docs/security.md` ("Privilege
//! model") is the same table in prose, and `host/tests/privileges.rs` walks it over
//! HTTP for every credential kind, route and tenant.
//!
//! The one rule behind the table: **no credential reaches past what it was given, nor
//! mints a credential stronger than itself** ([`may_issue`]).
//! - A tenant API key holds its scopes (`*` = all) in its own tenant only.
//! - A user JWT holds the scopes of its roles ([`user_scopes`]) in its own tenant only;
//!   the administrator roles' extra scopes need a multi-factor login (`amr`).
//! - The platform admin runs every tenant's control plane, and reaches a tenant's data
//!   only with a break-glass reason, written to that tenant's chain before the answer;
//!   issuing or rotating a key that reaches data is reaching data.

use axum::http::StatusCode;

use crate::auth::Credential;
use crate::error::ApiError;

/// What a route touches, which decides who may call it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Needs any valid credential and touches no tenant (the bundle public key).
    Any,
    /// The console session: any valid credential reaches the handler, which lets in
    /// only those [`console_access`] admits.
    Session,
    /// The platform's control plane: the platform admin only.
    Platform,
    /// A tenant's control plane: the tenant's credentials with the scope, and the
    /// platform admin (each action audited in the tenant's chain).
    Control,
    /// A tenant's data: the tenant's credentials with the scope; the platform admin
    /// only with a break-glass reason (audited before the answer).
    Data,
}

/// One route's row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteRule {
    /// HTTP method.
    pub method: &'static str,
    /// The route as the router and `/openapi.json` spell it.
    pub path: &'static str,
    /// The scope a tenant credential needs (none for `Any` and `Platform`).
    pub scope: Option<&'static str>,
    /// What it touches.
    pub reach: Reach,
}

const fn row(
    method: &'static str,
    path: &'static str,
    scope: Option<&'static str>,
    reach: Reach,
) -> RouteRule {
    RouteRule {
        method,
        path,
        scope,
        reach,
    }
}

use Reach::{Any, Control, Data, Platform, Session};

/// Every `/v1` route.
pub const ROUTES: &[RouteRule] = &[
    row("POST", "/v1/authorize", Some("authorize"), Data),
    row("POST", "/v1/authorize/batch", Some("authorize"), Data),
    row("POST", "/v1/authorize/fields", Some("authorize"), Data),
    row("POST", "/v1/authorize/plan", Some("authorize"), Data),
    row("POST", "/v1/tenants", None, Platform),
    row("GET", "/v1/tenants", None, Platform),
    row("GET", "/v1/tenants/{tenant}", Some("tenant:read"), Control),
    row("DELETE", "/v1/tenants/{tenant}", None, Platform),
    row("POST", "/v1/tenants/{tenant}/offboard", None, Platform),
    row(
        "POST",
        "/v1/tenants/{tenant}/cancel-offboarding",
        None,
        Platform,
    ),
    row(
        "GET",
        "/v1/tenants/{tenant}/settings",
        Some("tenant:read"),
        Control,
    ),
    row("PUT", "/v1/tenants/{tenant}/settings", None, Platform),
    row(
        "GET",
        "/v1/tenants/{tenant}/export",
        Some("tenant:export"),
        Data,
    ),
    row(
        "GET",
        "/v1/tenants/{tenant}/policies",
        Some("policies:read"),
        Control,
    ),
    row(
        "PUT",
        "/v1/tenants/{tenant}/policies",
        Some("policies:write"),
        Control,
    ),
    row(
        "GET",
        "/v1/tenants/{tenant}/policies/versions",
        Some("policies:read"),
        Control,
    ),
    row(
        "GET",
        "/v1/tenants/{tenant}/policies/versions/{version}",
        Some("policies:read"),
        Control,
    ),
    row(
        "GET",
        "/v1/tenants/{tenant}/bundle",
        Some("policies:read"),
        Control,
    ),
    row("GET", "/v1/bundles/public-key", None, Any),
    row("POST", "/v1/session", None, Session),
    row("GET", "/v1/session", None, Session),
    row("DELETE", "/v1/session", None, Session),
    row(
        "POST",
        "/v1/tenants/{tenant}/keys/rotate",
        Some("keys:rotate"),
        Control,
    ),
    row(
        "POST",
        "/v1/tenants/{tenant}/transit/encrypt",
        Some("transit:encrypt"),
        Data,
    ),
    row(
        "POST",
        "/v1/tenants/{tenant}/transit/decrypt",
        Some("transit:decrypt"),
        Data,
    ),
    row(
        "POST",
        "/v1/tenants/{tenant}/transit/rewrap",
        Some("transit:encrypt"),
        Data,
    ),
    row(
        "POST",
        "/v1/tenants/{tenant}/transit/needs-rewrap",
        Some("transit:encrypt"),
        Data,
    ),
    row(
        "POST",
        "/v1/tenants/{tenant}/transit/blind-index",
        Some("transit:encrypt"),
        Data,
    ),
    row(
        "POST",
        "/v1/tenants/{tenant}/transit/encrypt-record",
        Some("transit:encrypt"),
        Data,
    ),
    row(
        "POST",
        "/v1/tenants/{tenant}/transit/decrypt-record",
        Some("transit:decrypt"),
        Data,
    ),
    row(
        "POST",
        "/v1/tenants/{tenant}/audit/events",
        Some("audit:write"),
        Data,
    ),
    row(
        "GET",
        "/v1/tenants/{tenant}/audit/events",
        Some("audit:read"),
        Data,
    ),
    row(
        "GET",
        "/v1/tenants/{tenant}/audit/export",
        Some("audit:read"),
        Data,
    ),
    row(
        "POST",
        "/v1/tenants/{tenant}/audit/verify",
        Some("audit:read"),
        Data,
    ),
    row(
        "POST",
        "/v1/tenants/{tenant}/api-keys",
        Some("api_keys:manage"),
        Control,
    ),
    row(
        "GET",
        "/v1/tenants/{tenant}/api-keys",
        Some("api_keys:manage"),
        Control,
    ),
    row(
        "POST",
        "/v1/tenants/{tenant}/api-keys/{key_id}/rotate",
        Some("api_keys:manage"),
        Control,
    ),
    row(
        "DELETE",
        "/v1/tenants/{tenant}/api-keys/{key_id}",
        Some("api_keys:manage"),
        Control,
    ),
];

/// The routes that change a tenant's data or configuration, refused with 409
/// `tenant.offboarding` during the export window (and `tenant.shredded` after it).
/// Reads, decryption, exports, audit events (reads are audited) and revoking an API key
/// stay open. Every other route of [`ROUTES`] is not a write.
pub const TENANT_WRITES: &[(&str, &str)] = &[
    ("PUT", "/v1/tenants/{tenant}/policies"),
    ("PUT", "/v1/tenants/{tenant}/settings"),
    ("POST", "/v1/tenants/{tenant}/keys/rotate"),
    ("POST", "/v1/tenants/{tenant}/transit/encrypt"),
    ("POST", "/v1/tenants/{tenant}/transit/rewrap"),
    ("POST", "/v1/tenants/{tenant}/transit/encrypt-record"),
    ("POST", "/v1/tenants/{tenant}/api-keys"),
    ("POST", "/v1/tenants/{tenant}/api-keys/{key_id}/rotate"),
];

/// Whether a route is one of [`TENANT_WRITES`].
pub fn is_tenant_write(rule: &RouteRule) -> bool {
    TENANT_WRITES
        .iter()
        .any(|(m, p)| *m == rule.method && *p == rule.path)
}

/// Every scope a tenant credential can hold (`*` holds all).
pub const SCOPES: &[&str] = &[
    "authorize",
    "transit:encrypt",
    "transit:decrypt",
    "keys:rotate",
    "audit:write",
    "audit:read",
    "policies:read",
    "policies:write",
    "api_keys:manage",
    "tenant:read",
    "tenant:export",
];

/// Roles whose scopes beyond [`BASE_USER_SCOPES`] need a multi-factor login.
pub const ADMIN_ROLES: &[&str] = &["owner", "tenant_admin"];
/// What every user of a tenant holds, whatever the role.
pub const BASE_USER_SCOPES: &[&str] = &["authorize", "audit:write"];
/// What a provider holds (reading and writing PHI through the server).
pub const PROVIDER_SCOPES: &[&str] = &[
    "authorize",
    "audit:write",
    "transit:encrypt",
    "transit:decrypt",
];

/// Scopes that make a tenant API key an administrator of the console (one is enough);
/// each page still needs the scope of the routes it calls.
pub const CONSOLE_SCOPES: &[&str] = &[
    "audit:read",
    "policies:write",
    "api_keys:manage",
    "keys:rotate",
];

/// Whether `credential` may sign in to the admin console: the platform admin; an API
/// key holding one of [`CONSOLE_SCOPES`] (or `*`); a user whose role is an
/// administrator role ([`ADMIN_ROLES`]) and who signed in with MFA.
pub fn console_access(credential: &Credential) -> Result<(), ApiError> {
    let not_admin = |what: &str| {
        Err(ApiError::forbidden(
            "console.not_admin",
            format!("{what} cannot sign in to the admin console"),
            "sign in with the platform admin token, a tenant API key with an admin scope (audit:read, policies:write, api_keys:manage or keys:rotate), or as an owner or tenant admin with MFA",
        ))
    };
    match credential {
        Credential::Admin => Ok(()),
        Credential::ApiKey { scopes, .. } => {
            if scopes
                .iter()
                .any(|s| s == "*" || CONSOLE_SCOPES.contains(&s.as_str()))
            {
                Ok(())
            } else {
                not_admin("an API key without an admin scope")
            }
        }
        Credential::User { roles, mfa, .. } => {
            if !roles.iter().any(|r| ADMIN_ROLES.contains(&r.as_str())) {
                not_admin("a user without an administrator role")
            } else if !mfa {
                Err(ApiError::forbidden(
                    "auth.mfa_required",
                    "an administrator signs in to the console with a multi-factor login",
                    "sign in again with a second factor (the token's `amr` must show MFA)",
                ))
            } else {
                Ok(())
            }
        }
    }
}

/// The scopes a credential holds in its tenant (`*` for the platform admin).
pub fn held_scopes(credential: &Credential) -> Vec<String> {
    match credential {
        Credential::Admin => vec!["*".to_owned()],
        Credential::ApiKey { scopes, .. } => scopes.clone(),
        Credential::User { roles, mfa, .. } => user_scopes(roles, *mfa)
            .0
            .into_iter()
            .map(str::to_owned)
            .collect(),
    }
}

/// The row of a matched route.
pub fn rule(method: &str, path: &str) -> Option<&'static RouteRule> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// Whether `scope` reaches a tenant's data: some [`Reach::Data`] route needs it.
pub fn is_data_scope(scope: &str) -> bool {
    scope == "*"
        || ROUTES
            .iter()
            .any(|r| r.reach == Data && r.scope == Some(scope))
}

/// A user's scopes from its roles, and those it would hold with MFA but does not.
pub fn user_scopes(roles: &[String], mfa: bool) -> (Vec<&'static str>, Vec<&'static str>) {
    let has = |r: &str| roles.iter().any(|x| x == r);
    let mut held: Vec<&'static str> = BASE_USER_SCOPES.to_vec();
    if has("provider") {
        held.extend(PROVIDER_SCOPES);
    }
    let mut needs_mfa = Vec::new();
    if ADMIN_ROLES.iter().any(|r| has(r)) {
        if mfa {
            held.extend(SCOPES);
        } else {
            needs_mfa.extend(SCOPES.iter().filter(|s| !held.contains(s)));
        }
    }
    held.sort_unstable();
    held.dedup();
    (held, needs_mfa)
}

/// Whether the credential holds `scope` (in its own tenant).
pub fn holds(credential: &Credential, scope: &str) -> bool {
    match credential {
        Credential::Admin => true,
        Credential::ApiKey { scopes, .. } => scopes.iter().any(|s| s == scope || s == "*"),
        Credential::User { roles, mfa, .. } => user_scopes(roles, *mfa).0.contains(&scope),
    }
}

/// What [`decide`] answers.
#[derive(Debug)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Go ahead, after writing the break-glass access to the tenant's chain.
    BreakGlass,
    /// Refused (the caller audits it in the tenant's chain).
    Deny(ApiError),
}

fn forbidden(code: &str, message: String, hint: &str) -> Verdict {
    Verdict::Deny(ApiError::forbidden(code, message, hint))
}

/// The decision for `credential` calling `rule` on `tenant` (the path's tenant, else
/// `X-Phylax-Tenant`, else the credential's own), with an optional break-glass reason.
pub fn decide(
    credential: &Credential,
    rule: &RouteRule,
    tenant: Option<&str>,
    break_glass: Option<&str>,
) -> Verdict {
    let admin = matches!(credential, Credential::Admin);
    if matches!(rule.reach, Any | Session) {
        return Verdict::Allow;
    }
    if let (Some(own), Some(named)) = (credential.tenant(), tenant) {
        if own != named {
            return forbidden(
                "auth.other_tenant",
                format!("this credential belongs to another tenant, not `{named}`"),
                "use a credential of the tenant you address",
            );
        }
    }
    match rule.reach {
        Any | Session => return Verdict::Allow,
        Platform if admin => return Verdict::Allow,
        Platform => {
            return forbidden(
                "auth.forbidden",
                "only the platform admin may do this".to_owned(),
                "use the platform admin token",
            )
        }
        Control | Data => {}
    }
    let Some(tenant) = tenant else {
        return Verdict::Deny(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.tenant_missing",
            "this route needs a tenant",
            "as platform admin, name the tenant in `X-Phylax-Tenant`",
        ));
    };
    let scope = rule.scope.unwrap_or("*");
    match credential {
        Credential::Admin => match (rule.reach, break_glass) {
            (Data, Some(reason)) if !reason.trim().is_empty() => Verdict::BreakGlass,
            (Data, _) => forbidden(
                "auth.break_glass_required",
                format!("platform admin access to the data of tenant `{tenant}` needs a break-glass reason"),
                "send the reason in `X-Phylax-Break-Glass`; the access is audited in the tenant's chain",
            ),
            _ => Verdict::Allow,
        },
        cred if holds(cred, scope) => Verdict::Allow,
        Credential::User { roles, mfa, .. } if user_scopes(roles, *mfa).1.contains(&scope) => {
            forbidden(
                "auth.mfa_required",
                format!("the `{scope}` scope of an administrator needs a multi-factor login"),
                "sign in again with a second factor (the token's `amr` must show MFA)",
            )
        }
        _ => forbidden(
            "auth.scope",
            format!("this credential lacks the `{scope}` scope"),
            "issue an API key with the scope this route needs",
        ),
    }
}

/// What issuing (or rotating into) a key with `scopes` and `expires_at` needs from
/// `credential`: refused when the key would be stronger than the issuer (a scope it
/// lacks, `*` without holding `*`, or a longer life than the issuing key's).
/// `Ok(true)` means the platform admin is reaching data: a break-glass action.
pub fn may_issue(
    credential: &Credential,
    scopes: &[String],
    expires_at: Option<u64>,
    break_glass: Option<&str>,
) -> Result<bool, ApiError> {
    let escalation = |message: String| {
        ApiError::forbidden(
            "auth.escalation",
            message,
            "a credential can only issue keys with a subset of its own scopes, expiring no later than itself",
        )
    };
    match credential {
        Credential::Admin => {
            if !scopes.iter().any(|s| is_data_scope(s)) {
                return Ok(false);
            }
            match break_glass {
                Some(reason) if !reason.trim().is_empty() => Ok(true),
                _ => Err(ApiError::forbidden(
                    "auth.break_glass_required",
                    "a platform admin issuing a key that reaches a tenant's data needs a break-glass reason",
                    "send the reason in `X-Phylax-Break-Glass` (audited in the tenant's chain), or issue only control-plane scopes",
                )),
            }
        }
        Credential::ApiKey {
            scopes: own,
            expires_at: own_expiry,
            ..
        } => {
            let star = own.iter().any(|s| s == "*");
            if let Some(s) = scopes.iter().find(|s| !star && !own.contains(s)) {
                return Err(escalation(format!(
                    "this key cannot issue the `{s}` scope, which it does not hold"
                )));
            }
            if let Some(own_expiry) = own_expiry {
                if expires_at.is_none_or(|e| e > *own_expiry) {
                    return Err(escalation(format!(
                        "this key expires at {own_expiry}; a key it issues must expire no later"
                    )));
                }
            }
            Ok(false)
        }
        Credential::User { .. } => {
            match scopes.iter().find(|s| {
                !if *s == "*" {
                    SCOPES.iter().all(|x| holds(credential, x))
                } else {
                    holds(credential, s)
                }
            }) {
                Some(s) => Err(escalation(format!(
                    "this user cannot issue the `{s}` scope, which it does not hold"
                ))),
                None => Ok(false),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn every_tenant_write_is_a_tenant_route_of_the_table() {
        for (method, path) in TENANT_WRITES {
            let r = rule(method, path).unwrap();
            assert!(path.contains("{tenant}"), "{path}");
            assert!(is_tenant_write(r));
            assert_ne!(*method, "GET", "a read is never refused as a write");
        }
    }

    fn user(roles: &[&str], mfa: bool) -> Credential {
        Credential::User {
            id: "u".into(),
            tenant: "t".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            mfa,
        }
    }

    fn key(scopes: &[&str], expires_at: Option<u64>) -> Credential {
        Credential::ApiKey {
            key_id: "k".into(),
            tenant: "t".into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            expires_at,
        }
    }

    fn code(v: Verdict) -> String {
        match v {
            Verdict::Allow => "allow".into(),
            Verdict::BreakGlass => "break_glass".into(),
            Verdict::Deny(e) => e.body.code,
        }
    }

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn every_scoped_route_names_a_known_scope() {
        for r in ROUTES {
            match r.reach {
                Any | Session | Platform => assert_eq!(r.scope, None, "{r:?}"),
                Control | Data => assert!(SCOPES.contains(&r.scope.unwrap()), "{r:?}"),
            }
        }
    }

    #[test]
    fn only_administrators_sign_in_to_the_console() {
        let key = |scopes: &[&str]| Credential::ApiKey {
            key_id: "k".into(),
            tenant: "t".into(),
            scopes: strings(scopes),
            expires_at: None,
        };
        let verdict = |c: &Credential| match console_access(c) {
            Ok(()) => "allow".to_owned(),
            Err(e) => e.body.code,
        };
        assert_eq!(verdict(&Credential::Admin), "allow");
        for scopes in [&["*"][..], &["audit:read"], &["authorize", "keys:rotate"]] {
            assert_eq!(verdict(&key(scopes)), "allow", "{scopes:?}");
        }
        for scopes in [&[][..], &["authorize", "transit:decrypt", "policies:read"]] {
            assert_eq!(verdict(&key(scopes)), "console.not_admin", "{scopes:?}");
        }
        assert_eq!(verdict(&user(&["owner"], true)), "allow");
        assert_eq!(
            verdict(&user(&["tenant_admin"], false)),
            "auth.mfa_required"
        );
        assert_eq!(
            verdict(&user(&["provider", "staff"], true)),
            "console.not_admin"
        );
    }

    #[test]
    fn admin_roles_need_mfa_beyond_the_base() {
        let decrypt = rule("POST", "/v1/tenants/{tenant}/transit/decrypt").unwrap();
        let authorize = rule("POST", "/v1/authorize").unwrap();
        let t = Some("t");
        assert_eq!(
            code(decide(&user(&["tenant_admin"], false), decrypt, t, None)),
            "auth.mfa_required"
        );
        assert_eq!(
            code(decide(&user(&["tenant_admin"], true), decrypt, t, None)),
            "allow"
        );
        assert_eq!(
            code(decide(&user(&["tenant_admin"], false), authorize, t, None)),
            "allow"
        );
        assert_eq!(
            code(decide(
                &user(&["tenant_admin", "provider"], false),
                decrypt,
                t,
                None
            )),
            "allow"
        );
        assert_eq!(
            code(decide(&user(&["staff"], true), decrypt, t, None)),
            "auth.scope"
        );
        assert_eq!(
            code(decide(&user(&["staff"], true), decrypt, Some("u"), None)),
            "auth.other_tenant"
        );
    }

    #[test]
    fn no_key_issues_a_stronger_key() {
        let manage = key(&["api_keys:manage"], None);
        assert!(may_issue(&manage, &strings(&["*"]), None, None).is_err());
        assert!(may_issue(&manage, &strings(&["transit:decrypt"]), None, None).is_err());
        assert!(may_issue(&manage, &strings(&["api_keys:manage"]), None, None).is_ok());
        let expiring = key(&["*"], Some(100));
        assert!(may_issue(&expiring, &strings(&["authorize"]), None, None).is_err());
        assert!(may_issue(&expiring, &strings(&["authorize"]), Some(101), None).is_err());
        assert!(may_issue(&expiring, &strings(&["*"]), Some(100), None).is_ok());
        let admin_user = user(&["tenant_admin"], false);
        assert!(may_issue(&admin_user, &strings(&["transit:decrypt"]), None, None).is_err());
        assert!(may_issue(&user(&["tenant_admin"], true), &strings(&["*"]), None, None).is_ok());
    }

    #[test]
    fn admin_needs_break_glass_for_data_keys() {
        let a = Credential::Admin;
        assert!(matches!(
            may_issue(&a, &strings(&["policies:read"]), None, None),
            Ok(false)
        ));
        assert!(may_issue(&a, &strings(&["transit:decrypt"]), None, None).is_err());
        assert!(may_issue(&a, &strings(&["*"]), None, Some(" ")).is_err());
        assert!(matches!(
            may_issue(&a, &strings(&["*"]), None, Some("incident 42")),
            Ok(true)
        ));
    }
}
