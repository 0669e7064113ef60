//! Authorization: Cedar policies with tenant layering, field-level checks, audit flags
//! and signed bundles.
//!
//! ```text
//! EngineSpec / SignedBundle ──► Engine (schema, platform ∪ tenant policy sets,
//!   (schema, policies,             base entities: parsed and validated once)
//!    entities, options)              │
//!                                    ├─ authorize(AuthorizeRequest) ─► Decision
//!                                    ├─ authorize_batch(BatchRequest) ─► BatchResponse
//!                                    └─ readable_fields(FieldsRequest) ─► FieldsResponse
//! ```
//!
//! Start with [`Engine`] and the [`pack`] (the healthcare reference policies);
//! [`bundle`] documents the signed bundle format, [`slice`] how a request's entities
//! join the base, `entity_cache` why the engine keeps the request entities it parsed,
//! [`tenancy`] the tenant guardrails, [`fields`] field-level reads, and [`calls`] the
//! JSON call types.

mod answer;
mod batch;
pub mod bundle;
pub mod calls;
mod engine;
mod entity_cache;
mod error;
pub mod fields;
pub mod pack;
pub mod plan;
mod request;
pub mod slice;
mod source;
pub mod tenancy;

pub use answer::{Decision, Effect, EvaluationError};
pub use batch::{BatchItem, BatchRequest, BatchResponse};
pub use bundle::{Bundle, BundlePublicKey, BundleSigningKey, SignedBundle, BUNDLE_FORMAT};
pub use engine::{Engine, EngineOptions, EngineSpec, PreparedRequest};
pub use error::{PolicyError, SourceDiagnostic};
pub use fields::{FieldsRequest, FieldsResponse};
pub use plan::{
    to_sql, Condition, Dialect, Plan, PlanDecision, PlanRequest, SqlFilter, SqlMapping,
};
pub use request::{AuthorizeRequest, EntityRef, RequestEntity};
pub use source::PolicyFile;
