//! What an audit event says: who did what to which record, when, with what outcome.
//!
//! Events hold names, never values: for a PHI mutation, `changedFields` lists the field
//! names (`diagnosis`), never their old or new contents, so the audit log itself never
//! becomes a store of PHI.
//!
//! The bytes that the chain authenticates are the event's RFC 8785 (JCS) canonical JSON:
//! object keys sorted, no whitespace, numbers and strings in one normal form. Because the
//! event is first parsed into this typed struct, the canonical bytes depend only on its
//! content, never on the order of fields or the spacing of the JSON it came from. Absent
//! optional fields are omitted (not `null`), so `{"sourceIp": null}` and no `sourceIp`
//! are the same event.

use serde::{Deserialize, Serialize};

use super::error::AuditError;

/// Who acted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Actor {
    /// User id, API key id or service name.
    pub id: String,
    /// The role the actor acted in, e.g. `provider`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The client's IP address as the server saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
}

/// What kind of thing happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A record was read.
    View,
    /// A record was created.
    Create,
    /// A record was changed.
    Update,
    /// A record was deleted.
    Delete,
    /// Records left the system (download, report, bulk export).
    Export,
    /// An administrative action (tenant, configuration, user, API-key management);
    /// [`AuditEvent::operation`] names it.
    Admin,
    /// An authorization decision by itself (e.g. a denial).
    Authorization,
}

/// How it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Done.
    Success,
    /// Attempted and failed for a reason other than authorization.
    Failure,
    /// Refused by authorization.
    Denied,
}

/// The record acted on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordRef {
    /// Record type, e.g. `patients`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Record id.
    pub id: String,
}

/// The authorization decision behind the event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decision {
    /// Hash of the policy bundle that decided (hex SHA-256).
    pub bundle_hash: String,
    /// Ids of the determining policies.
    #[serde(default)]
    pub policy_ids: Vec<String>,
    /// Audit flags the decision carried (e.g. `break_glass`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

/// How an event entered its chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The writer recorded an action it performed itself (a server's own event).
    Server,
    /// A credential reported the event (e.g. an app posting to the server's ingest
    /// route); the writer vouches only for who sent it, not for what it says.
    Ingested,
}

/// Who wrote an event into the chain. Set by the chain's writer, never taken from the
/// reporter, and covered by the chain's MAC like the rest of the event, so a verifier
/// holding the audit key can tell the writer's own events from reported ones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecordedBy {
    /// Written by the server itself, or reported by a credential.
    pub origin: Origin,
    /// The credential behind the request that wrote it: `platform-admin`,
    /// `api_key:<key id>`, `user:<tenant>/<subject>`, or `unauthenticated`.
    pub credential: String,
}

/// One audit event, as the application reports it (DESIGN.md §1.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditEvent {
    /// The tenant whose chain the event belongs to.
    pub tenant: String,
    /// Who acted.
    pub actor: Actor,
    /// What kind of thing happened.
    pub action: Action,
    /// A short name for the operation, e.g. `api_key.rotate` for [`Action::Admin`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Which record, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordRef>,
    /// When, in unix seconds.
    pub time: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// Names of the fields a mutation changed (never their values).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_fields: Vec<String>,
    /// The authorization decision, if one was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// A stated reason, e.g. a break-glass justification. Never put PHI here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Who wrote the event into the chain (set by a server writer; absent in chains an
    /// application keeps itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_by: Option<RecordedBy>,
}

impl AuditEvent {
    /// The RFC 8785 canonical JSON bytes that the chain authenticates.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, AuditError> {
        serde_json_canonicalizer::to_vec(self).map_err(|err| AuditError::InvalidEvent {
            reason: format!("cannot be canonicalized: {err}"),
        })
    }

    /// Checks the event before it is appended: a tenant and actor are present, and no
    /// field name looks like it carries a value.
    pub fn validate(&self) -> Result<(), AuditError> {
        let invalid = |reason: &str| {
            Err(AuditError::InvalidEvent {
                reason: reason.to_owned(),
            })
        };
        if self.tenant.is_empty() || self.tenant.len() > 1024 {
            return invalid("the tenant must be 1 to 1024 bytes");
        }
        if self.actor.id.is_empty() {
            return invalid("the actor id is empty");
        }
        for name in &self.changed_fields {
            if name.is_empty() || name.len() > 256 || name.contains(['=', '\n', '\r']) {
                return invalid(
                    "changed fields are field names (1 to 256 bytes, no `=` or line breaks), never values",
                );
            }
        }
        Ok(())
    }
}
