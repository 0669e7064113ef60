"""bad-input.json: malformed requests of every op, each with its error code.

A request that does not match the op's JSON call type (a value of the wrong JSON type, a
required field missing, an unknown field in an object the op takes whole) is refused
before anything runs, with `request.malformed` (`core/src/calls.rs`); a few well-typed
but unusable values have their own codes. Only requests the npm package's idiomatic API
can also express are listed: no unknown fields at the top of requests it assembles from
positional arguments, and no missing `now` or `timestamp` (the package fills in the
clock).
"""

import copy

import cases_audit as audit
import cases_bundles as bundles
import cases_crypto as crypto
import cases_identity as identity
import reference as ref
from common import T0, case, error

MALFORMED = error("request.malformed")

SCHEMA = """entity Tenant;
entity User = { tenant: Tenant };
entity Doc = { tenant: Tenant, owner: User };
action read appliesTo { principal: User, resource: Doc, context: { mfa: Bool } };
"""
POLICIES = '@id("owner-read")\npermit (principal, action == Action::"read", resource) when { resource.owner == principal };\n'
SPEC = {"schema": SCHEMA, "platformPolicies": [{"name": "small.cedar", "text": POLICIES}], "tenantPolicies": {},
        "entities": [{"uid": {"type": "Tenant", "id": "acme"}, "attrs": {}, "parents": []}]}


def fixtures():
    return {
        "engines": {"small": {"spec": SPEC}},
        "keyrings": {"acme": {"rootKey": crypto.ROOT.hex(), "state": crypto.STATES["acme"]}},
    }


def changed(base, path, value):
    """A deep copy of `base` with the value at `path` (a list of keys) replaced, or
    removed when `value` is `...`."""
    out = copy.deepcopy(base)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def engine_cases():
    out = []

    def add(op, name, request, expect=MALFORMED, **ctx):
        out.append(case(f"{op}/{name}", op, request, expect, **ctx))

    add("buildEngine", "schema missing", changed(SPEC, ["schema"], ...))
    add("buildEngine", "platformPolicies missing", changed(SPEC, ["platformPolicies"], ...))
    add("buildEngine", "platformPolicies a number", changed(SPEC, ["platformPolicies"], 5))
    add("buildEngine", "policy file without text", changed(SPEC, ["platformPolicies", 0, "text"], ...))
    add("buildEngine", "policy file with an unknown field", changed(SPEC, ["platformPolicies", 0, "lang"], "cedar"))
    add("buildEngine", "policy text a number", changed(SPEC, ["platformPolicies", 0, "text"], 1))
    add("buildEngine", "entities not a list", changed(SPEC, ["entities"], "acme"))
    add("buildEngine", "unknown option", dict(SPEC, options={"tenantType": "Tenant", "tenantKind": "x"}))
    add("buildEngine", "field action not an entity uid", dict(SPEC, options={"fieldAction": "readField"}))

    signed = bundles.SIGNED
    load = {"bundle": signed, "publicKey": bundles.PUBLIC}
    add("loadBundle", "bundle without hash", changed(load, ["bundle", "hash"], ...))
    add("loadBundle", "bundle without schema", changed(load, ["bundle", "bundle", "schema"], ...))
    add("loadBundle", "createdAt as text", changed(load, ["bundle", "bundle", "createdAt"], "2025-01-01"))
    add("loadBundle", "unknown field in the signed bundle", changed(load, ["bundle", "signedBy"], "ops"))
    add("loadBundle", "entities not a list", dict(load, entities="none"))
    add("loadBundle", "public key a number", dict(load, publicKey=42))
    add("verifyBundle", "signature a number", changed(load, ["bundle", "signature"], 7))
    add("verifyBundle", "bundle without platformPolicies", changed(load, ["bundle", "bundle", "platformPolicies"], ...))
    add("verifyBundle", "public key a number", dict(load, publicKey=42))

    validate = {"schema": SCHEMA, "policies": [{"name": "t.cedar", "text": POLICIES}]}
    add("validatePolicies", "schema missing", changed(validate, ["schema"], ...))
    add("validatePolicies", "policies not a list", dict(validate, policies=POLICIES))
    add("validatePolicies", "tenant a number", dict(validate, tenant=7))
    add("validatePolicies", "unknown field", dict(validate, strict=True))
    add("validatePolicies", "unknown option", dict(validate, options={"strict": True}))

    user = {"type": "User", "id": "ann"}
    doc = {"type": "Doc", "id": "d1"}
    authz = {"principal": user, "action": {"type": "Action", "id": "read"}, "resource": doc, "context": {"mfa": True}}
    for name, request in [
        ("principal missing", changed(authz, ["principal"], ...)),
        ("action missing", changed(authz, ["action"], ...)),
        ("resource missing", changed(authz, ["resource"], ...)),
        ("principal a string", dict(authz, principal='User::"ann"')),
        ("entity uid without id", changed(authz, ["resource", "id"], ...)),
        ("entity uid with an unknown field", changed(authz, ["resource", "namespace"], "App")),
        ("entity id a number", changed(authz, ["principal", "id"], 7)),
        ("entities not a list", dict(authz, entities={"uid": user})),
        ("tenant a number", dict(authz, tenant=1)),
        ("unknown field", dict(authz, resources=[doc])),
    ]:
        add("authorize", name, request, engine="small")
    add("authorize", "context a string", dict(authz, context="mfa=true"), error("policy.invalid_request"),
        engine="small")

    batch = {"principal": user, "context": {"mfa": True}, "items": [{"action": authz["action"], "resource": doc}]}
    for name, request in [
        ("items missing", changed(batch, ["items"], ...)),
        ("items not a list", dict(batch, items={"action": authz["action"], "resource": doc})),
        ("item without resource", changed(batch, ["items", 0, "resource"], ...)),
        ("item with an unknown field", changed(batch, ["items", 0, "principal"], user)),
        ("principal missing", changed(batch, ["principal"], ...)),
        ("unknown field (the single-request shape)", dict(batch, requests=batch["items"])),
    ]:
        add("authorizeBatch", name, request, engine="small")

    fields = {"principal": user, "resource": doc, "fields": ["/title"], "context": {"mfa": True}}
    for name, request in [
        ("fields missing", changed(fields, ["fields"], ...)),
        ("fields not strings", dict(fields, fields=[1])),
        ("resource missing", changed(fields, ["resource"], ...)),
        ("unknown field", dict(fields, action=authz["action"])),
    ]:
        add("readableFields", name, request, engine="small")
    add("readableFields", "well-formed, on an engine without field types", fields, error("policy.invalid_request"),
        engine="small")
    return out


def keyring_cases():
    out = []
    k = {"keyring": "acme"}

    def add(op, name, request, expect=MALFORMED, **ctx):
        out.append(case(f"{op}/{name}", op, request, expect, **ctx))

    state = crypto.STATES["acme"]
    root = crypto.ROOT.hex()
    add("openKeyring", "state not a keyring (text)", {"rootKey": root, "state": "not a keyring"},
        error("crypto.invalid_keyring"))
    add("openKeyring", "state an empty object", {"rootKey": root, "state": {}}, error("crypto.invalid_keyring"))
    # A missing state or a non-string root key is not a request the core sees: openKeyring
    # is two typed arguments (the component's WIT signature cannot even carry them), so
    # those are left to each binding's own argument tests.

    ct = crypto.enc("acme", "patients.name", "r-1", "Ada", "bad-input/ct")[0]
    add("encryptField", "plaintext a number", {"field": "patients.name", "recordId": "r-1", "plaintext": 42}, **k)
    add("encryptField", "field missing", {"recordId": "r-1", "plaintext": "x"}, **k)
    add("encryptField", "record id null", {"field": "patients.name", "recordId": None, "plaintext": "x"}, **k)
    add("decryptField", "ciphertext a number", {"field": "patients.name", "recordId": "r-1", "ciphertext": 1}, **k)
    add("decryptField", "record id missing", {"field": "patients.name", "ciphertext": ct}, **k)
    add("needsRewrap", "ciphertext null", {"field": "patients.name", "recordId": "r-1", "ciphertext": None}, **k)
    add("rewrap", "record id a number", {"field": "patients.name", "recordId": 1, "ciphertext": ct}, **k)
    add("rewrap", "ciphertext missing", {"field": "patients.name", "recordId": "r-1"}, **k)

    bi = {"field": "patients.email", "value": "ada@example.org", "index": {"normalization": "email"}}
    add("blindIndex", "unknown normalization", changed(bi, ["index", "normalization"], "soundex"), **k)
    add("blindIndex", "index length over 255", changed(bi, ["index", "bytes"], 300), **k)
    add("blindIndex", "index length as text", changed(bi, ["index", "bytes"], "16"), **k)
    add("blindIndex", "unknown field in the index spec", changed(bi, ["index", "salt"], "x"), **k)
    add("blindIndex", "value a number", dict(bi, value=5), **k)
    add("blindIndex", "value missing", changed(bi, ["value"], ...), **k)

    spec = {"name": "patients", "fields": [{"pointer": "/name"}, {"pointer": "/email", "index": {"normalization": "email"}}]}
    rec = {"spec": spec, "recordId": "r-1", "record": {"name": "Ada", "email": "ada@example.org"}}
    add("encryptRecord", "spec without name", changed(rec, ["spec", "name"], ...), **k)
    add("encryptRecord", "spec fields not a list", changed(rec, ["spec", "fields"], "/name"), **k)
    add("encryptRecord", "pointer a number", changed(rec, ["spec", "fields", 0, "pointer"], 1), **k)
    add("encryptRecord", "unknown field in a field spec", changed(rec, ["spec", "fields", 0, "searchable"], True), **k)
    add("encryptRecord", "unknown field in the spec", changed(rec, ["spec", "version"], 2), **k)
    add("encryptRecord", "unknown normalization", changed(rec, ["spec", "fields", 1, "index", "normalization"], "lower"),
        **k)
    add("encryptRecord", "record id a number", dict(rec, recordId=1), **k)
    enc = {"spec": spec, "recordId": "r-1", "record": {"name": ct}}
    add("decryptRecord", "readable not strings", dict(enc, readable=[1]), **k)
    add("decryptRecord", "spec without fields", changed(enc, ["spec", "fields"], ...), **k)
    add("decryptRecord", "record id null", dict(enc, recordId=None), **k)
    return out


def audit_cases():
    out = []
    key = {"auditKey": audit.KEY_HEX}

    def add(op, name, request, expect=MALFORMED):
        out.append(case(f"{op}/{name}", op, request, expect, **key))

    event = audit.EVENTS[0]
    append = {"head": audit.GENESIS, "events": [event]}
    add("auditAppend", "unknown action", changed(append, ["events", 0, "action"], "read"))
    add("auditAppend", "time as text", changed(append, ["events", 0, "time"], "2023-11-14T22:13:20Z"))
    add("auditAppend", "negative time", changed(append, ["events", 0, "time"], -1))
    add("auditAppend", "unknown outcome", changed(append, ["events", 0, "outcome"], "ok"))
    add("auditAppend", "outcome missing", changed(append, ["events", 0, "outcome"], ...))
    add("auditAppend", "actor without id", changed(append, ["events", 0, "actor", "id"], ...))
    add("auditAppend", "unknown event field", changed(append, ["events", 0, "patientName"], "Ada Lovelace"))
    add("auditAppend", "changed fields not strings", changed(append, ["events", 0, "changedFields"], [{"diagnosis": "J45"}]))
    add("auditAppend", "head with a negative seq", changed(append, ["head", "seq"], -1))
    add("auditAppend", "head with an unknown field", changed(append, ["head", "keyId"], audit.KEY_ID))

    verify = {"tenant": "acme", "records": audit.RECORDS}
    add("auditVerify", "record without hash", changed(verify, ["records", 1, "hash"], ...))
    add("auditVerify", "seq as text", changed(verify, ["records", 1, "seq"], "2"))
    add("auditVerify", "unknown field in an event", changed(verify, ["records", 1, "event", "note"], "x"))
    add("auditVerify", "records not a list", dict(verify, records={"1": audit.RECORDS[0]}))
    add("auditVerify", "checkpoint without signature",
        dict(verify, checkpoint={k: v for k, v in audit.cp(5).items() if k != "signature"},
             checkpointPublicKey=audit.SIGNER_PUBLIC))
    add("auditVerify", "checkpoint public key a number", dict(verify, checkpoint=audit.cp(5), checkpointPublicKey=5))
    add("auditVerify", "start with a negative seq", dict(verify, start=dict(audit.GENESIS, seq=-1)))
    return out


def identity_cases():
    out = []

    def add(op, name, request, expect=MALFORMED):
        out.append(case(f"{op}/{name}", op, request, expect))

    add("parseApiKey", "api key a number", {"apiKey": 42})
    add("parseApiKey", "api key null", {"apiKey": None})
    v = {"apiKey": identity.LIVE, "record": identity.LIVE_RECORD, "now": identity.NOW}
    add("verifyApiKey", "unknown environment in the record", changed(v, ["record", "environment"], "prod"))
    add("verifyApiKey", "record without hash", changed(v, ["record", "hash"], ...))
    add("verifyApiKey", "unknown field in the record", changed(v, ["record", "owner"], "billing"))
    add("verifyApiKey", "scopes not a list", changed(v, ["record", "scopes"], "patients:read"))
    add("verifyApiKey", "negative createdAt", changed(v, ["record", "createdAt"], -1))
    add("verifyApiKey", "now as text", dict(v, now="now"))
    add("verifyApiKey", "required scopes not a list", dict(v, requiredScopes="patients:read"))
    add("verifyApiKey", "api key a number", dict(v, apiKey=42))

    t = {"token": identity.token(), "now": T0, "config": identity.CONFIG, "jwks": identity.JWKS}
    add("verifyTokenWithJwks", "config without issuer", changed(t, ["config", "issuer"], ...))
    add("verifyTokenWithJwks", "unknown config field", changed(t, ["config", "clockSkew"], 30))
    add("verifyTokenWithJwks", "HS256 in the allow-list", changed(t, ["config", "algorithms"], ["RS256", "HS256"]))
    add("verifyTokenWithJwks", "audiences a string", changed(t, ["config", "audiences"], identity.AUD))
    add("verifyTokenWithJwks", "negative leeway", changed(t, ["config", "leewaySeconds"], -5))
    add("verifyTokenWithJwks", "unknown claim mapping field", changed(t, ["config", "claims", "email"], "mail")
        if "claims" in t["config"] else dict(t, config=dict(t["config"], claims={"email": "mail"})))
    add("verifyTokenWithJwks", "requireTenant as text", changed(t, ["config", "requireTenant"], "no"))
    add("verifyTokenWithJwks", "now as text", dict(t, now="now"))
    add("verifyTokenWithJwks", "jwks keys not a list", dict(t, jwks={"keys": "rsa-1"}), error("jwt.invalid_jwks"))
    add("verifyTokenWithJwks", "token a number", dict(t, token=42))

    payload = identity.PAYLOAD
    sign = {"payload": payload, "secrets": [identity.SECRET], "timestamp": T0}
    add("signWebhook", "secret a number", dict(sign, secrets=[1]))
    add("signWebhook", "timestamp as text", dict(sign, timestamp="now"))
    add("signWebhook", "negative timestamp", dict(sign, timestamp=-1))
    add("signWebhook", "payload an object", dict(sign, payload={"event": "record.updated"}))
    header = ref.webhook_header([identity.SECRET], T0, payload)
    wv = {"header": header, "payload": payload, "secrets": [identity.SECRET], "now": T0}
    add("verifyWebhook", "tolerance as text", dict(wv, toleranceSeconds="300"))
    add("verifyWebhook", "negative tolerance", dict(wv, toleranceSeconds=-1))
    add("verifyWebhook", "now as text", dict(wv, now="now"))
    add("verifyWebhook", "negative now", dict(wv, now=-1))
    add("verifyWebhook", "secret null", dict(wv, secrets=[None]))
    add("verifyWebhook", "header a number", dict(wv, header=1))
    return out


def suites():
    description = (
        "Malformed requests of every op, each with its code: a value of the wrong JSON type, a "
        "missing required field or an unknown field in an object taken whole is "
        "`request.malformed`; a few well-typed but unusable values have their module's code. "
        "Engine `small` is a three-type schema without field types; keyring `acme` is "
        "crypto.json's."
    )
    cases = engine_cases() + keyring_cases() + audit_cases() + identity_cases()
    return [("bad-input", description, fixtures(), cases)]
