//! The Phylax host: `phylax serve` (an HTTP API over the core, on an embedded SQLite
//! store) and the operator CLI. See `DESIGN.md` §4 and the module docs:
//! [`routes`] for the API, [`auth`] for credentials and tenant scoping, [`error`] for
//! the status of every error code, [`store`] for persistence (SQLite or PostgreSQL), [`node_sync`] for caches and how changes reach every node, [`config`] for settings.
#![forbid(unsafe_code)]

pub mod audit_log;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod engine;
pub mod error;
pub mod export;
pub mod failed_auth;
pub mod lifecycle;
pub mod metrics;
pub mod node_sync;
pub mod openapi;
pub mod privilege;
pub mod rate_limit;
pub mod routes;
pub mod secrets;
pub mod server;
pub mod session;
pub mod state;
pub mod store;
pub mod unread_body;
