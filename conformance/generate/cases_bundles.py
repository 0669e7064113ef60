"""bundles.json: signed policy bundles made here, with a fixed Ed25519 key.

The format is `core/src/policy/bundle.rs`'s: the bundle's RFC 8785 bytes (`jcs.py`),
their SHA-256 as `sha256:` + hex, and an Ed25519 signature (RFC 8032, deterministic) over
`phylax.bundle.v1:` || the 32-byte digest; keys and signatures base64url without padding.
The hash covers the bundle as its type serializes it, so absent `tenantPolicies`,
`entities` and `options` hash as their defaults.
"""

import copy

import reference as ref
from cases_authz import (ACME_POLICIES, DEFAULT_OPTIONS, PACK_ENTITIES, POLICIES, SCHEMA, R, U, areq, record,
                         tenant, uref, user)
from common import T0, case, error, ok

SEED = ref.fixed_bytes("bundle-signing-key")
OTHER_SEED = ref.fixed_bytes("other-bundle-signing-key")
PUBLIC = ref.b64url(ref.ed25519_public(SEED))
OTHER_PUBLIC = ref.b64url(ref.ed25519_public(OTHER_SEED))

ENTITIES = PACK_ENTITIES + [{"uid": tenant(t), "attrs": {}, "parents": []} for t in ["platform", "acme", "globex"]] + [
    {"uid": uref("Field", "/name"), "attrs": {}, "parents": [uref("FieldClass", "non_clinical")]},
    {"uid": uref("Field", "/diagnosis"), "attrs": {}, "parents": [uref("FieldClass", "clinical")]},
]
TENANT_POLICIES = {
    "acme": ACME_POLICIES,
    "globex": [{"name": "globex.cedar",
                "text": "// Globex: Empfang darf Termine ändern — staff may update records\n"
                        "@id(\"staff-update\")\npermit (principal in Role::\"staff\", action == Action::\"update\", resource);\n"}],
}


def bundle(version="2025-01-01.1", created_at=T0, **override):
    out = {
        "format": "phylax.bundle.v1",
        "version": version,
        "createdAt": created_at,
        "schema": SCHEMA,
        "platformPolicies": [{"name": "healthcare.cedar", "text": POLICIES}],
        "tenantPolicies": TENANT_POLICIES,
        "entities": ENTITIES,
        "options": DEFAULT_OPTIONS,
    }
    out.update(override)
    return out


SIGNED = ref.sign_bundle(bundle(), SEED)
# Host-side entities kept out of the bundle: a globex patient and their record.
HOST_ENTITIES = [user("gx-pat", "globex", "patient"), record("gx-r", "globex", "gx-pat")]


def fixtures():
    return {"engines": {"signed": {"bundle": SIGNED, "publicKey": PUBLIC, "entities": HOST_ENTITIES}}}


def identity(signed):
    b = signed["bundle"]
    return ok({"hash": signed["hash"], "version": b["version"], "createdAt": b["createdAt"]})


def verify_cases():
    out = []

    def v(name, signed, public_key, expect):
        out.append(case(f"verifyBundle/{name}", "verifyBundle", {"bundle": signed, "publicKey": public_key}, expect))

    def load(name, signed, public_key, expect, entities=None):
        request = {"bundle": signed, "publicKey": public_key}
        if entities is not None:
            request["entities"] = entities
        out.append(case(f"loadBundle/{name}", "loadBundle", request, expect))

    v("signed bundle", SIGNED, PUBLIC, identity(SIGNED))
    v("public key as hex", SIGNED, ref.ed25519_public(SEED).hex(), identity(SIGNED))
    load("signed bundle", SIGNED, PUBLIC, ok({"bundleHash": SIGNED["hash"]}))
    load("with host entities, the hash is the bundle's", SIGNED, PUBLIC, ok({"bundleHash": SIGNED["hash"]}),
         entities=HOST_ENTITIES)

    # Defaults omitted in the text hash as written out.
    sparse = {k: v_ for k, v_ in bundle(version="sparse").items() if k not in ("tenantPolicies", "entities", "options")}
    full = dict(sparse, tenantPolicies={}, entities=[], options=DEFAULT_OPTIONS)
    signed_sparse = dict(ref.sign_bundle(full, SEED), bundle=sparse)
    v("absent defaults hash as written out", signed_sparse, PUBLIC, identity(signed_sparse))
    load("absent defaults", signed_sparse, PUBLIC, ok({"bundleHash": signed_sparse["hash"]}))
    # RFC 8785 sorts member names by UTF-16 code units: U+1F3E5 (D83C DFE5) before U+FF43.
    names = {"ｃｌｉｎｉｃ": "fullwidth", "🏥-ward": "emoji", "zürich": "umlaut", "acme": "ascii"}
    unicode_tenants = {t: [{"name": f"{label}.cedar", "text": f"// {t}\n@id(\"view\")\n"
                                                           "permit (principal in Role::\"staff\", action == Action::\"view\", resource);\n"}]
                       for t, label in names.items()}
    signed_unicode = ref.sign_bundle(bundle(version="unicode", tenantPolicies=unicode_tenants), SEED)
    v("non-ASCII tenant ids in RFC 8785 order", signed_unicode, PUBLIC, identity(signed_unicode))
    load("non-ASCII tenant ids", signed_unicode, PUBLIC, ok({"bundleHash": signed_unicode["hash"]}))
    big = ref.sign_bundle(bundle(version="v" * 300, created_at=2**53 - 1), SEED)
    v("long version and the largest exact createdAt", big, PUBLIC, identity(big))

    # Tampering after signing.
    def tampered(name, mutate, code="policy.bundle_tampered", loads=False):
        t = copy.deepcopy(SIGNED)
        mutate(t)
        v(name, t, PUBLIC, error(code))
        if loads:
            load(name, t, PUBLIC, error(code))

    tampered("one policy character changed", lambda t: t["bundle"]["platformPolicies"][0].__setitem__(
        "text", POLICIES.replace("mfa-required-for-admins", "mfa-required-for-admin5")), loads=True)
    tampered("a permit slipped in", lambda t: t["bundle"]["platformPolicies"].append(
        {"name": "evil.cedar", "text": "permit (principal, action, resource);"}), loads=True)
    tampered("version label changed", lambda t: t["bundle"].__setitem__("version", "2025-01-01.2"))
    tampered("createdAt changed", lambda t: t["bundle"].__setitem__("createdAt", T0 + 1))
    tampered("tenant layer removed", lambda t: t["bundle"]["tenantPolicies"].pop("acme"))
    tampered("entity added", lambda t: t["bundle"]["entities"].append(user("mallory", "acme", "owner")))
    tampered("options changed", lambda t: t["bundle"]["options"].__setitem__("tenantAttribute", "org"))
    tampered("schema whitespace changed", lambda t: t["bundle"].__setitem__("schema", SCHEMA + "\n"))
    tampered("hash in capitals", lambda t: t.__setitem__("hash", "sha256:" + t["hash"][7:].upper()))
    tampered("hash of another bundle", lambda t: t.__setitem__("hash", signed_unicode["hash"]))

    def resigned(mutate):
        t = copy.deepcopy(SIGNED)
        mutate(t["bundle"])
        t["hash"] = ref.hash_text(ref.bundle_digest(t["bundle"]))
        return t

    rehashed = resigned(lambda b: b["platformPolicies"].append(
        {"name": "evil.cedar", "text": "permit (principal, action, resource);"}))
    v("modified and re-hashed but not re-signed", rehashed, PUBLIC, error("policy.bundle_signature_invalid"))
    load("modified and re-hashed but not re-signed", rehashed, PUBLIC, error("policy.bundle_signature_invalid"))
    v("another publisher's key", SIGNED, OTHER_PUBLIC, error("policy.bundle_signature_invalid"))
    load("another publisher's key", SIGNED, OTHER_PUBLIC, error("policy.bundle_signature_invalid"))
    by_other = ref.sign_bundle(bundle(), OTHER_SEED)
    v("signed by another key", by_other, PUBLIC, error("policy.bundle_signature_invalid"))
    v("signed by another key, verified with it", by_other, OTHER_PUBLIC, identity(by_other))
    sig = bytearray(ref.b64url_decode(SIGNED["signature"]))
    sig[10] ^= 0x01
    v("signature byte flipped", dict(SIGNED, signature=ref.b64url(bytes(sig))), PUBLIC,
      error("policy.bundle_signature_invalid"))
    v("signature of another bundle", dict(SIGNED, signature=signed_unicode["signature"]), PUBLIC,
      error("policy.bundle_signature_invalid"))
    bare = ref.ed25519_key(SEED).sign(ref.bundle_digest(SIGNED["bundle"]))
    v("signature over the digest without the domain label", dict(SIGNED, signature=ref.b64url(bare)), PUBLIC,
      error("policy.bundle_signature_invalid"))
    over_hex = ref.ed25519_key(SEED).sign(ref.BUNDLE_CONTEXT + SIGNED["hash"].encode())
    v("signature over the hash text", dict(SIGNED, signature=ref.b64url(over_hex)), PUBLIC,
      error("policy.bundle_signature_invalid"))

    # Malformed.
    v("signature not base64url", dict(SIGNED, signature="!!"), PUBLIC, error("policy.bundle_malformed"))
    v("signature of 63 bytes", dict(SIGNED, signature=ref.b64url(ref.b64url_decode(SIGNED["signature"])[:63])),
      PUBLIC, error("policy.bundle_malformed"))
    v("empty signature", dict(SIGNED, signature=""), PUBLIC, error("policy.bundle_malformed"))
    v2 = ref.sign_bundle(bundle(format="phylax.bundle.v2"), SEED)
    v("unknown bundle format, correctly signed", v2, PUBLIC, error("policy.bundle_malformed"))
    load("unknown bundle format, correctly signed", v2, PUBLIC, error("policy.bundle_malformed"))
    v("public key too short", SIGNED, "abc", error("policy.invalid_key"))
    v("public key of 31 bytes", SIGNED, ref.b64url(ref.ed25519_public(SEED)[:31]), error("policy.invalid_key"))
    v("public key with padding", SIGNED, PUBLIC + "=", error("policy.invalid_key"))
    load("public key too short", SIGNED, "abc", error("policy.invalid_key"))
    no_sig = {k: v_ for k, v_ in SIGNED.items() if k != "signature"}
    v("signature missing", no_sig, PUBLIC, error("request.malformed"))
    load("signature missing", no_sig, PUBLIC, error("request.malformed"))
    extra = copy.deepcopy(SIGNED)
    extra["bundle"]["signedBy"] = "ops"
    v("unknown field in the bundle", extra, PUBLIC, error("request.malformed"))
    neg = copy.deepcopy(SIGNED)
    neg["bundle"]["createdAt"] = -1
    v("negative createdAt", neg, PUBLIC, error("request.malformed"))

    # Signed, but not loadable: the signature is checked first, then the content.
    invalid = ref.sign_bundle(bundle(version="invalid", platformPolicies=[
        {"name": "healthcare.cedar", "text": POLICIES},
        {"name": "x.cedar", "text": "permit (principal, action, resource) when { principal.nope };"}]), SEED)
    v("signed bundle with a policy that fails validation", invalid, PUBLIC, identity(invalid))
    load("signed bundle with a policy that fails validation", invalid, PUBLIC, error("policy.validation_failed"))
    reaching = ref.sign_bundle(bundle(version="reaching", tenantPolicies={"acme": [
        {"name": "acme.cedar", "text": "permit (principal, action, resource in Tenant::\"globex\");"}]}), SEED)
    load("signed tenant policy naming another tenant", reaching, PUBLIC, error("policy.tenant_policy_rejected"))
    load("host entity of an unknown type", SIGNED, PUBLIC, error("policy.invalid_entities"),
         entities=[{"uid": uref("Ghost", "g"), "attrs": {}, "parents": []}])
    load("host entities not a list", SIGNED, PUBLIC, error("request.malformed"), entities={"uid": U("x")})
    return out


def decision(effect, policies=(), flags=()):
    return ok({"decision": effect, "policies": sorted(policies), "errors": [], "auditFlags": sorted(flags),
               "bundleHash": SIGNED["hash"]})


def engine_cases():
    nurse = user("nurse", "acme", "staff")
    gx_nurse = user("gx-nurse", "globex", "staff")
    out = []

    def a(name, request, expect):
        out.append(case(f"authorize/{name}", "authorize", request, expect, engine="signed"))

    a("acme's layer from the bundle", areq(U("nurse"), "export", R("r1"), [nurse, record("r1", "acme", "pat")]),
      decision("allow", ["acme/staff-export"]))
    a("platform policy from the bundle", areq(U("nurse"), "view", R("r1"), [nurse, record("r1", "acme", "pat")]),
      decision("allow", ["staff-records"]))
    a("globex's layer from the bundle",
      areq(U("gx-nurse"), "update", R("gx-r"), [gx_nurse]), decision("allow", ["globex/staff-update", "staff-records"]))
    a("acme staff exporting a globex record",
      areq(U("nurse"), "export", R("gx-r"), [nurse]),
      decision("deny", ["tenant-isolation-records"], ["cross_tenant_denied"]))
    a("host entities: the patient views their own record", areq(U("gx-pat"), "view", R("gx-r")),
      decision("allow", ["patient-own-records"]))
    a("host entities: the patient may not delete", areq(U("gx-pat"), "delete", R("gx-r")), decision("deny"))
    a("bad request on a bundle engine", areq(uref("Robot", "r2"), "view", R("gx-r")), error("policy.invalid_request"))
    out.append(case("readableFields/through a bundle engine", "readableFields",
                    {"principal": U("nurse"), "resource": R("r1"), "fields": ["/diagnosis", "/name"],
                     "context": {"mfa": True}, "entities": [nurse, record("r1", "acme", "pat")]},
                    ok({"readable": ["/name"], "denied": ["/diagnosis"], "errors": [], "auditFlags": [],
                        "bundleHash": SIGNED["hash"]}), engine="signed"))
    out.append(case("authorizeBatch/through a bundle engine", "authorizeBatch",
                    {"principal": U("nurse"), "context": {"mfa": True}, "entities": [nurse, record("r1", "acme", "pat")],
                     "items": [{"action": uref("Action", "export"), "resource": R("r1")},
                               {"action": uref("Action", "delete"), "resource": R("r1")}]},
                    ok({"decisions": [{"ok": decision("allow", ["acme/staff-export"])["ok"]},
                                      {"ok": decision("deny")["ok"]}]}), engine="signed"))
    return out


def suites():
    description = (
        "Signed policy bundles made by conformance/generate/reference.py: RFC 8785 bytes, "
        "SHA-256, Ed25519 from a fixed seed over `phylax.bundle.v1:` || digest. Good bundles "
        "verify with the expected hash and load; a bundle modified after signing is "
        "`policy.bundle_tampered`; a valid hash under the wrong key or a bad signature is "
        "`policy.bundle_signature_invalid`; bad encodings are `policy.bundle_malformed` or "
        "`policy.invalid_key`. Engine `signed` is loaded from a bundle (with host entities) and "
        f"answers carry its hash. Publisher public key: {PUBLIC}."
    )
    return [("bundles", description, fixtures(), verify_cases() + engine_cases())]
