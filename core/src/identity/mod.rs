//! Who is calling: tenant API keys and JWT bearer tokens.
//!
//! - [`api_key`]: keys Phylax issues to tenants for B2B calls. Recognisable text
//!   (`phx_live_...`) that secret scanners can find, a public key id for lookup, a
//!   256-bit secret, and a CRC32 checksum that rejects typos before any lookup. Only a
//!   hash is stored.
//! - [`jwt`]: bearer tokens from an identity provider (Auth0, Okta, Keycloak, ...),
//!   verified against the provider's JWKS ([`jwks`]) and mapped to the principal the
//!   policies expect ([`claims`]).
//!
//! [`calls`] has the JSON calls for both.

pub mod api_key;
pub mod calls;
pub mod claims;
mod error;
pub mod jwks;
pub mod jwt;

pub use api_key::{
    ApiKeyRecord, ApiKeySecret, Environment, IssuedApiKey, NewApiKey, ParsedApiKey, Rotation,
    VerifiedApiKey,
};
pub use claims::{ClaimMapping, Identity};
pub use error::{ApiKeyError, JwtError};
pub use jwks::Jwks;
pub use jwt::{Algorithm, JwtConfig, JwtVerifier};
