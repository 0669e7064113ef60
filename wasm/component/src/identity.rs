//! `phylax:core/identity` and `phylax:core/webhook`: the core's stateless identity and
//! webhook calls, JSON text in, answer text out.

use phylax_core::identity::calls as identity;
use phylax_core::policy::calls::call_json;
use phylax_core::webhook::calls as webhook;

use crate::bindings::exports::phylax::core::{identity as identity_api, webhook as webhook_api};
use crate::Component;

impl identity_api::Guest for Component {
    fn issue_api_key(request_json: String) -> String {
        call_json(&request_json, identity::issue_api_key)
    }

    fn parse_api_key(request_json: String) -> String {
        call_json(&request_json, identity::parse_api_key)
    }

    fn verify_api_key(request_json: String) -> String {
        call_json(&request_json, identity::verify_api_key)
    }

    fn rotate_api_key(request_json: String) -> String {
        call_json(&request_json, identity::rotate_api_key)
    }

    fn revoke_api_key(request_json: String) -> String {
        call_json(&request_json, identity::revoke_api_key)
    }

    fn verify_token_with_jwks(request_json: String) -> String {
        call_json(&request_json, identity::verify_token_with_jwks)
    }
}

impl webhook_api::Guest for Component {
    fn sign(request_json: String) -> String {
        call_json(&request_json, webhook::sign)
    }

    fn verify(request_json: String) -> String {
        call_json(&request_json, webhook::verify)
    }
}
