"""identity.json: API keys, JWTs and webhook signatures made here.

- API keys (`core/src/identity/api_key.rs`): `phx_<env>_<key id>_<secret>_<CRC32>`, parts in
  lowercase RFC 4648 base32, the checksum CRC32/IEEE of everything before it; the stored
  hash is SHA-256("phylax/api-key/v1" || len||tenant || len||env || len||key id || secret).
- JWTs (`core/src/identity/{jwt,jwks,claims}.rs`): compact JWS signed with the RS256 test
  key `core/tests/data/jwt/rs256-test-key.pem`, a fixed P-256 key (RFC 6979 deterministic
  ECDSA, r || s) and a fixed Ed25519 key; the expected identity follows the documented
  claim mapping.
- Webhooks (`core/src/webhook/signature.rs`): `t=<ts>,v1=<hex HMAC-SHA256(secret,
  "<ts>." || payload)>`, one `v1` per secret.
"""

import copy
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import reference as ref
from common import T0, case, error, ok, read

# ---------------------------------------------------------------------------------------
# API keys

NOW = T0 + 1_000


def make_key(label, environment="live", tenant="acme", scopes=("patients:read", "patients:write"), **record_extra):
    key_id = ref.base32(ref.fixed_bytes(f"api-key/{label}/id", 10))
    secret = ref.fixed_bytes(f"api-key/{label}/secret", 32)
    text = ref.api_key_text(environment, key_id, ref.base32(secret))
    record = {"keyId": key_id, "tenant": tenant, "environment": environment,
              "hash": ref.api_key_hash(tenant, environment, key_id, secret), "scopes": sorted(scopes),
              "createdAt": T0}
    record.update(record_extra)
    return text, record, key_id, secret


LIVE, LIVE_RECORD, LIVE_ID, LIVE_SECRET = make_key("live", name="billing sync")
TEST, TEST_RECORD, TEST_ID, _ = make_key("test", environment="test")
NEW, NEW_RECORD, NEW_ID, _ = make_key("rotated-in")


def with_crc(body):
    return body + "_" + ref.crc32_b32(body)


def verified(record, **extra):
    out = {"keyId": record["keyId"], "tenant": record["tenant"], "environment": record["environment"],
           "scopes": record["scopes"]}
    out.update(extra)
    return ok(out)


def api_key_cases():
    out = []

    def parse(name, text, expect):
        out.append(case(f"parseApiKey/{name}", "parseApiKey", {"apiKey": text}, expect))

    parse("live key", LIVE, ok({"keyId": LIVE_ID, "environment": "live"}))
    parse("test key", TEST, ok({"keyId": TEST_ID, "environment": "test"}))
    parse("surrounding whitespace", "  " + LIVE + "\n", ok({"keyId": LIVE_ID, "environment": "live"}))
    alphabet = ref.BASE32
    last = LIVE[-1]
    parse("checksum character changed", LIVE[:-2] + alphabet[(alphabet.index(LIVE[-2]) + 1) % 32] + last,
          error("api_key.checksum"))
    i = len("phx_live_") + 16 + 1 + 10
    parse("one secret character changed", LIVE[:i] + alphabet[(alphabet.index(LIVE[i]) + 1) % 32] + LIVE[i + 1:],
          error("api_key.checksum"))
    j = next(k for k in range(len("phx_live_"), len(LIVE) - 1) if LIVE[k] != LIVE[k + 1] and "_" not in LIVE[k:k + 2])
    parse("neighbouring characters swapped", LIVE[:j] + LIVE[j + 1] + LIVE[j] + LIVE[j + 2:], error("api_key.checksum"))
    parse("cut short", LIVE[:-1], error("api_key.malformed"))
    parse("another prefix", "pk" + LIVE[3:], error("api_key.malformed"))
    parse("in capitals", LIVE.upper(), error("api_key.malformed"))
    parse("unknown environment", with_crc("phx_prod_" + LIVE.split("_")[2] + "_" + LIVE.split("_")[3]),
          error("api_key.malformed"))
    parse("four parts", "_".join(LIVE.split("_")[:4]), error("api_key.malformed"))
    parse("six parts", LIVE + "_abc", error("api_key.malformed"))
    parse("longer than 200 characters", LIVE + "a" * 200, error("api_key.malformed"))
    parse("empty", "", error("api_key.malformed"))
    body = LIVE.rsplit("_", 1)[0]
    parts = body.split("_")
    parse("key id outside base32, checksum valid", with_crc("_".join(parts[:2] + ["0" + parts[2][1:], parts[3]])),
          error("api_key.malformed"))
    secret = parts[3]
    padded = secret[:-1] + alphabet[alphabet.index(secret[-1]) | 1]
    assert padded != secret
    parse("secret with non-zero padding bits, checksum valid", with_crc("_".join(parts[:3] + [padded])),
          error("api_key.malformed"))

    def verify(name, text, record, expect, now=NOW, scopes=None):
        request = {"apiKey": text, "record": record, "now": now}
        if scopes is not None:
            request["requiredScopes"] = scopes
        out.append(case(f"verifyApiKey/{name}", "verifyApiKey", request, expect))

    verify("live key", LIVE, LIVE_RECORD, verified(LIVE_RECORD))
    verify("test key", TEST, TEST_RECORD, verified(TEST_RECORD))
    verify("with every required scope", LIVE, LIVE_RECORD, verified(LIVE_RECORD),
           scopes=["patients:read", "patients:write"])
    verify("missing a required scope", LIVE, LIVE_RECORD, error("api_key.missing_scope"),
           scopes=["patients:read", "patients:export"])
    other_secret = ref.base32(ref.fixed_bytes("api-key/wrong-secret", 32))
    verify("wrong secret, checksum valid", with_crc(f"phx_live_{LIVE_ID}_{other_secret}"), LIVE_RECORD,
           error("api_key.invalid"))
    verify("record of another tenant", LIVE, dict(LIVE_RECORD, tenant="globex"), error("api_key.invalid"))
    verify("test key against a live record", with_crc(f"phx_test_{LIVE_ID}_{ref.base32(LIVE_SECRET)}"), LIVE_RECORD,
           error("api_key.invalid"))
    verify("live record marked test", LIVE, dict(LIVE_RECORD, environment="test"), error("api_key.invalid"))
    verify("stored hash changed", LIVE, dict(LIVE_RECORD, hash="00" * 32), error("api_key.invalid"))
    verify("stored hash in capitals", LIVE, dict(LIVE_RECORD, hash=LIVE_RECORD["hash"].upper()),
           error("api_key.invalid"))
    verify("record of another key id", LIVE, TEST_RECORD, error("api_key.record_mismatch"))
    verify("malformed key", "phx_live_x", LIVE_RECORD, error("api_key.malformed"))
    verify("mistyped key", LIVE[:-2] + ("a" if LIVE[-2] != "a" else "b") + LIVE[-1], LIVE_RECORD,
           error("api_key.checksum"))
    verify("expires in a second", LIVE, dict(LIVE_RECORD, expiresAt=NOW + 1), verified(LIVE_RECORD, expiresAt=NOW + 1))
    verify("expired now", LIVE, dict(LIVE_RECORD, expiresAt=NOW), error("api_key.expired"))
    verify("expired, wrong secret", with_crc(f"phx_live_{LIVE_ID}_{other_secret}"),
           dict(LIVE_RECORD, expiresAt=NOW - 5), error("api_key.invalid"))
    verify("revoked", LIVE, dict(LIVE_RECORD, revokedAt=NOW - 10), error("api_key.revoked"))
    verify("revoked now", LIVE, dict(LIVE_RECORD, revokedAt=NOW), error("api_key.revoked"))
    verify("revocation scheduled later", LIVE, dict(LIVE_RECORD, revokedAt=NOW + 100), verified(LIVE_RECORD))
    verify("revoked and expired", LIVE, dict(LIVE_RECORD, revokedAt=NOW - 10, expiresAt=NOW - 5),
           error("api_key.revoked"))
    verify("revoked, missing scope", LIVE, dict(LIVE_RECORD, revokedAt=NOW - 10), error("api_key.revoked"),
           scopes=["patients:export"])
    rotated = dict(LIVE_RECORD, replacedBy=NEW_ID, overlapUntil=NOW + 60)
    verify("rotated, inside the overlap window", LIVE, rotated,
           verified(LIVE_RECORD, replacedBy=NEW_ID, overlapUntil=NOW + 60))
    verify("rotated, overlap window ended", LIVE, dict(rotated, overlapUntil=NOW - 1), error("api_key.superseded"))
    verify("rotated, overlap window ends now", LIVE, dict(rotated, overlapUntil=NOW), error("api_key.superseded"))
    verify("rotated without an overlap window", LIVE, dict(LIVE_RECORD, replacedBy=NEW_ID),
           error("api_key.superseded"))
    verify("overlap window without a replacement is ignored", LIVE, dict(LIVE_RECORD, overlapUntil=NOW - 1),
           verified(LIVE_RECORD))
    verify("the replacement key", NEW, NEW_RECORD, verified(NEW_RECORD))
    verify("no scopes required of a key without scopes", make_key("bare", scopes=())[0], make_key("bare", scopes=())[1],
           verified(make_key("bare", scopes=())[1]), scopes=[])
    return out


# ---------------------------------------------------------------------------------------
# JWTs

ISS = "https://phylax-test.eu.auth0.com/"
AUD = "https://api.phylax.test"
RSA_KEY = serialization.load_pem_private_key(read("core", "tests", "data", "jwt", "rs256-test-key.pem").encode(),
                                             password=None)
EC_KEY = ec.derive_private_key(int.from_bytes(ref.fixed_bytes("jwt/es256"), "big") % (2**255), ec.SECP256R1())
ED_KEY = ref.ed25519_key(ref.fixed_bytes("jwt/eddsa"))
OTHER_ED_KEY = ref.ed25519_key(ref.fixed_bytes("jwt/eddsa-other"))
KEYS = {"RS256": (RSA_KEY, "rsa-1"), "ES256": (EC_KEY, "ec-1"), "EdDSA": (ED_KEY, "ed-1")}


def _int_b64(n):
    return ref.b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


def jwks():
    rsa_pub = RSA_KEY.public_key().public_numbers()
    ec_pub = EC_KEY.public_key().public_numbers()
    ed_pub = ED_KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": _int_b64(rsa_pub.n), "e": _int_b64(rsa_pub.e)},
        {"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": ref.b64url(ec_pub.x.to_bytes(32, "big")),
         "y": ref.b64url(ec_pub.y.to_bytes(32, "big"))},
        {"kty": "OKP", "kid": "ed-1", "crv": "Ed25519", "x": ref.b64url(ed_pub)},
        {"kty": "oct", "kid": "hmac-1", "k": "c2VjcmV0"},
        {"kty": "RSA", "kid": "enc-1", "use": "enc", "n": _int_b64(rsa_pub.n), "e": _int_b64(rsa_pub.e)},
    ]}


JWKS = jwks()
EXP = T0 + 3_600
CLAIMS = {
    "iss": ISS,
    "sub": "auth0|dr-who",
    "aud": [AUD, "https://phylax-test.eu.auth0.com/userinfo"],
    "iat": T0 - 10,
    "exp": EXP,
    "https://phylax.dev/tenant": "acme",
    "https://phylax.dev/roles": ["provider", "staff", "provider"],
    "amr": ["pwd", "mfa"],
    "email": "dr.who@acme.example",
}
CONFIG = {"issuer": ISS, "audiences": [AUD]}
IDENTITY = {"principalId": "auth0|dr-who", "tenantId": "acme", "roles": ["provider", "staff"], "mfa": True,
            "issuer": ISS, "expiresAt": EXP}


def token(alg="EdDSA", claims=None, kid=None, header_extra=None, key=None):
    signing_key, default_kid = KEYS[alg]
    header = {"alg": alg, "typ": "JWT"}
    if kid is not False:
        header["kid"] = kid or default_kid
    header.update(header_extra or {})
    return ref.jwt(header, CLAIMS if claims is None else claims, key or signing_key, alg)


def jwt_cases():
    out = []

    def v(name, tok, expect, now=T0, config=None, jwks_doc=None):
        out.append(case(f"verifyTokenWithJwks/{name}", "verifyTokenWithJwks",
                        {"token": tok, "now": now, "config": config or CONFIG, "jwks": jwks_doc or JWKS}, expect))

    def claims(**change):
        c = copy.deepcopy(CLAIMS)
        for k, val in change.items():
            k = {"tenant": "https://phylax.dev/tenant", "roles": "https://phylax.dev/roles"}.get(k, k)
            if val is None:
                c.pop(k, None)
            else:
                c[k] = val
        return c

    def identity(**change):
        out_ = dict(IDENTITY)
        for k, val in change.items():
            if val is None:
                out_.pop(k)
            else:
                out_[k] = val
        return ok(out_)

    v("RS256", token("RS256"), identity())
    v("ES256", token("ES256"), identity())
    v("EdDSA", token("EdDSA"), identity())
    v("Bearer prefix", "Bearer " + token("RS256"), identity())
    v("exposed claims", token("ES256"), identity(claims={"email": "dr.who@acme.example"}),
      config=dict(CONFIG, claims={"expose": ["email", "nickname"]}))
    v("roles as a space-separated string", token(claims=claims(roles="owner  tenant_admin owner")),
      identity(roles=["owner", "tenant_admin"]))
    v("no roles claim", token(claims=claims(roles=None)), identity(roles=[]))
    v("amr as one string", token(claims=claims(amr="mfa")), identity())
    v("amr without mfa", token(claims=claims(amr=["pwd"])), identity(mfa=False))
    v("no amr claim", token(claims=claims(amr=None)), identity(mfa=False))
    v("configured mfa values", token(claims=claims(amr=["pwd", "otp"])), identity(),
      config=dict(CONFIG, claims={"mfaValues": ["otp", "hwk"]}))
    v("audience as one string", token(claims=claims(aud=AUD)), identity())
    v("second configured audience", token(claims=claims(aud="https://other.api")), identity(),
      config=dict(CONFIG, audiences=[AUD, "https://other.api"]))
    v("configured claim names", token(claims=claims(org_id="globex", groups=["staff"])),
      identity(tenantId="globex", roles=["staff"]),
      config=dict(CONFIG, claims={"tenant": "org_id", "roles": "groups"}))
    v("tenant not required and absent", token(claims=claims(tenant=None)), identity(tenantId=None),
      config=dict(CONFIG, requireTenant=False))
    v("fractional exp is floored", token(claims=claims(exp=EXP + 0.9)), identity())
    v("no kid, one key fits the algorithm", token("EdDSA", kid=False), identity())
    v("inside the leeway after exp", token(), identity(), now=EXP + 59)
    v("expired past the leeway", token(), error("jwt.expired"), now=EXP + 60)
    v("expired with no leeway", token(), error("jwt.expired"), now=EXP, config=dict(CONFIG, leewaySeconds=0))
    v("not yet valid", token(claims=claims(nbf=T0 + 61)), error("jwt.not_yet_valid"))
    v("nbf inside the leeway", token(claims=claims(nbf=T0 + 60)), identity())
    v("wrong issuer", token(claims=claims(iss="https://evil.example/")), error("jwt.wrong_issuer"))
    v("issuer without its trailing slash", token(claims=claims(iss=ISS.rstrip("/"))), error("jwt.wrong_issuer"))
    v("no issuer", token(claims=claims(iss=None)), error("jwt.wrong_issuer"))
    v("wrong audience", token(claims=claims(aud="https://other.api")), error("jwt.wrong_audience"))
    v("no audience", token(claims=claims(aud=None)), error("jwt.wrong_audience"))
    v("audience of the wrong type", token(claims=claims(aud=42)), error("jwt.wrong_audience"))
    v("no exp", token(claims=claims(exp=None)), error("jwt.missing_claim"))
    v("exp as text", token(claims=claims(exp="tomorrow")), error("jwt.invalid_claim"))
    v("negative exp", token(claims=claims(exp=-1)), error("jwt.invalid_claim"))
    v("no tenant", token(claims=claims(tenant=None)), error("jwt.missing_claim"))
    v("no subject", token(claims=claims(sub=None)), error("jwt.missing_claim"))
    v("subject not a string", token(claims=claims(sub=42)), error("jwt.invalid_claim"))
    v("empty subject", token(claims=claims(sub="")), error("jwt.invalid_claim"))
    v("roles not strings", token(claims=claims(roles=[1, 2])), error("jwt.invalid_claim"))

    none_header = ref.json_b64({"alg": "none", "typ": "JWT"})
    body = ref.b64url(json.dumps(CLAIMS, separators=(",", ":")).encode())
    v("alg none", f"{none_header}.{body}.", error("jwt.alg_none"))
    v("alg NoNe", f"{ref.json_b64({'alg': 'NoNe'})}.{body}.", error("jwt.alg_none"))
    # HS256 "signed" with the RSA public key's JWK text as the secret: there is no HMAC path.
    hs_input = f"{ref.json_b64({'alg': 'HS256', 'kid': 'rsa-1'})}.{body}"
    hs_sig = ref.hmac_sha256(json.dumps(JWKS["keys"][0]).encode(), hs_input.encode())
    v("HS256 with the public key as secret", f"{hs_input}.{ref.b64url(hs_sig)}", error("jwt.alg_not_allowed"))
    v("HS256 even if listed nowhere else", f"{hs_input}.{ref.b64url(hs_sig)}", error("jwt.alg_not_allowed"),
      config=dict(CONFIG, algorithms=["RS256"]))
    v("RS512", token("RS256", header_extra={"alg": "RS512"}), error("jwt.alg_not_allowed"))
    v("algorithm off the allow-list", token("EdDSA"), error("jwt.alg_not_allowed"),
      config=dict(CONFIG, algorithms=["RS256", "ES256"]))
    v("crit header", token(header_extra={"crit": ["exp"]}), error("jwt.unsupported_header"))
    v("jku header is ignored", token(header_extra={"jku": "https://evil.example/jwks.json"}), identity())
    v("unknown kid", token(kid="rotated-away"), error("jwt.unknown_kid"))
    v("no kid, no key fits the algorithm", token("RS256", kid=False),
      error("jwt.unknown_kid"), jwks_doc={"keys": [JWKS["keys"][2]]})
    v("ES256 token naming the RSA key", token("ES256", kid="rsa-1"), error("jwt.key_mismatch"))
    v("kid of a skipped HMAC key", token("RS256", kid="hmac-1"), error("jwt.key_mismatch"))
    v("kid of an encryption key", token("RS256", kid="enc-1"), error("jwt.key_mismatch"))
    v("key declared for another algorithm", token("RS256"), error("jwt.key_mismatch"),
      jwks_doc={"keys": [dict(JWKS["keys"][0], alg="RS384")]})
    v("signed by another Ed25519 key", token("EdDSA", key=OTHER_ED_KEY), error("jwt.bad_signature"))
    good = token("ES256")
    h, p, s = good.split(".")
    elevated = ref.b64url(json.dumps(claims(roles=["platform_admin"]), separators=(",", ":")).encode())
    v("payload changed after signing", f"{h}.{elevated}.{s}", error("jwt.bad_signature"))
    sig = bytearray(ref.b64url_decode(s))
    sig[0] ^= 1
    v("signature byte flipped", f"{h}.{p}.{ref.b64url(bytes(sig))}", error("jwt.bad_signature"))
    # ECDSA signatures are malleable: (r, n - s) verifies too. Both forms are accepted:
    # JWS does not require low-S, and common signers emit high-S half the time
    # (core/src/identity/jwt.rs, `verify_signature`). The identity is the same.
    P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    raw = ref.b64url_decode(s)
    r_part, s_int = raw[:32], int.from_bytes(raw[32:], "big")
    low_s = min(s_int, P256_ORDER - s_int)
    low = ref.b64url(r_part + low_s.to_bytes(32, "big"))
    high = ref.b64url(r_part + (P256_ORDER - low_s).to_bytes(32, "big"))
    v("ES256 low-S signature", f"{h}.{p}.{low}", identity())
    v("ES256 high-S form of the same signature", f"{h}.{p}.{high}", identity())
    v("signature of 60 bytes", f"{h}.{p}.{ref.b64url(ref.b64url_decode(s)[:60])}", error("jwt.bad_signature"))
    v("empty signature", f"{h}.{p}.", error("jwt.bad_signature"))
    v("two parts", f"{h}.{p}", error("jwt.malformed"))
    v("four parts", f"{good}.x", error("jwt.malformed"))
    v("header not base64url", f"!!.{p}.{s}", error("jwt.malformed"))
    v("header not a JSON object", f"{ref.b64url(b'[1]')}.{p}.{s}", error("jwt.malformed"))
    v("header without alg", f"{ref.json_b64({'typ': 'JWT'})}.{p}.{s}", error("jwt.malformed"))
    v("kid not a string", token(kid=7), error("jwt.malformed"))
    v("signature not base64url", f"{h}.{p}.***", error("jwt.malformed"))
    raw = ref.jwt({"alg": "EdDSA", "kid": "ed-1"}, b"not json", ED_KEY)
    v("payload not JSON, correctly signed", raw, error("jwt.malformed"))
    v("longer than 16 KiB", token(claims=claims(padding="x" * 16_400)), error("jwt.malformed"))
    v("empty token", "", error("jwt.malformed"))
    v("leeway over 600 seconds", token(), error("jwt.invalid_config"), config=dict(CONFIG, leewaySeconds=601))
    v("no audiences configured", token(), error("jwt.invalid_config"), config=dict(CONFIG, audiences=[]))
    v("empty issuer configured", token(), error("jwt.invalid_config"), config=dict(CONFIG, issuer=""))
    v("no algorithms allowed", token(), error("jwt.invalid_config"), config=dict(CONFIG, algorithms=[]))
    v("empty claim name", token(), error("jwt.invalid_config"), config=dict(CONFIG, claims={"tenant": ""}))
    v("JWKS without keys", token(), error("jwt.invalid_jwks"), jwks_doc={"keys": []})
    v("JWKS with one kid twice", token(), error("jwt.invalid_jwks"),
      jwks_doc={"keys": JWKS["keys"][:3] + [dict(JWKS["keys"][2], x=ref.b64url(OTHER_ED_KEY.public_key().public_bytes(
          serialization.Encoding.Raw, serialization.PublicFormat.Raw)))]})
    v("JWKS with only unusable keys", token(), error("jwt.invalid_jwks"), jwks_doc={"keys": JWKS["keys"][3:]})
    v("JWKS not an object with keys", token(), error("jwt.invalid_jwks"), jwks_doc={"key": JWKS["keys"]})
    v("JWKS key without kty", token(), error("jwt.invalid_jwks"),
      jwks_doc={"keys": [{k: val for k, val in JWKS["keys"][2].items() if k != "kty"}]})
    v("JWKS RSA key shorter than 2048 bits is skipped", token("RS256"), error("jwt.key_mismatch"),
      jwks_doc={"keys": [dict(JWKS["keys"][0], n=_int_b64(RSA_KEY.public_key().public_numbers().n >> 1100)),
                         JWKS["keys"][2]]})
    v("JWKS P-256 point off the curve", token(), error("jwt.invalid_jwks"),
      jwks_doc={"keys": [dict(JWKS["keys"][1], y=ref.b64url(bytes(32))), JWKS["keys"][2]]})
    return out


# ---------------------------------------------------------------------------------------
# Webhooks

SECRET = "whsec_" + ref.b64url(ref.fixed_bytes("webhook/secret"))
NEXT_SECRET = "whsec_" + ref.b64url(ref.fixed_bytes("webhook/next-secret"))
PAYLOAD = '{"event":"record.updated","id":"evt_1","record":"r-1001"}'


def webhook_cases():
    out = []
    header = ref.webhook_header([SECRET], T0, PAYLOAD)
    both = ref.webhook_header([SECRET, NEXT_SECRET], T0, PAYLOAD)
    unicode_payload = '{"note":"Überweisung an Dr. Łukasz — 患者 🩺"}'

    def sign(name, payload, secrets, timestamp, expect):
        out.append(case(f"signWebhook/{name}", "signWebhook",
                        {"payload": payload, "secrets": secrets, "timestamp": timestamp}, expect))

    sign("one secret", PAYLOAD, [SECRET], T0, ok({"header": header}))
    sign("two secrets during a rotation", PAYLOAD, [SECRET, NEXT_SECRET], T0, ok({"header": both}))
    sign("non-ASCII payload", unicode_payload, [SECRET], T0,
         ok({"header": ref.webhook_header([SECRET], T0, unicode_payload)}))
    sign("empty payload", "", [SECRET], T0, ok({"header": ref.webhook_header([SECRET], T0, "")}))
    sign("timestamp 0", PAYLOAD, [SECRET], 0, ok({"header": ref.webhook_header([SECRET], 0, PAYLOAD)}))
    sign("short secret", PAYLOAD, ["s"], T0, ok({"header": ref.webhook_header(["s"], T0, PAYLOAD)}))
    sign("no secret", PAYLOAD, [], T0, error("webhook.invalid_secret"))
    sign("empty secret", PAYLOAD, [SECRET, ""], T0, error("webhook.invalid_secret"))

    def verify(name, hdr, expect, payload=PAYLOAD, secrets=(SECRET,), now=T0, tolerance=None):
        request = {"header": hdr, "payload": payload, "secrets": list(secrets), "now": now}
        if tolerance is not None:
            request["toleranceSeconds"] = tolerance
        out.append(case(f"verifyWebhook/{name}", "verifyWebhook", request, expect))

    def at(index):
        return ok({"timestamp": T0, "secretIndex": index})

    verify("good", header, at(0))
    verify("non-ASCII payload", ref.webhook_header([SECRET], T0, unicode_payload), at(0), payload=unicode_payload)
    verify("300 seconds old", header, at(0), now=T0 + 300)
    verify("301 seconds old", header, error("webhook.too_old"), now=T0 + 301)
    verify("300 seconds ahead", header, at(0), now=T0 - 300)
    verify("301 seconds ahead", header, error("webhook.too_new"), now=T0 - 301)
    verify("custom tolerance", header, error("webhook.too_old"), now=T0 + 11, tolerance=10)
    verify("zero tolerance", header, at(0), tolerance=0)
    verify("payload changed", header, error("webhook.signature_mismatch"), payload=PAYLOAD.replace("r-1001", "r-1002"))
    verify("payload re-serialized with spaces", header, error("webhook.signature_mismatch"),
           payload=PAYLOAD.replace(",", ", "))
    verify("another secret", header, error("webhook.signature_mismatch"), secrets=[NEXT_SECRET])
    verify("mismatch is reported before age", header, error("webhook.signature_mismatch"), secrets=[NEXT_SECRET],
           now=T0 + 10_000)
    verify("timestamp changed", header.replace(f"t={T0}", f"t={T0 + 1}"), error("webhook.signature_mismatch"))
    verify("sender still on the old secret", header, at(0), secrets=[SECRET, NEXT_SECRET])
    verify("sender moved to the new secret", ref.webhook_header([NEXT_SECRET], T0, PAYLOAD), at(1),
           secrets=[SECRET, NEXT_SECRET])
    verify("sender signs with both", both, at(0), secrets=[SECRET, NEXT_SECRET])
    verify("receiver knows only the new secret", both, at(0), secrets=[NEXT_SECRET])
    verify("v1 in capital hex", header.replace(header.split("v1=")[1], header.split("v1=")[1].upper()), at(0))
    verify("spaces after the commas", header.replace(",", ", "), at(0))
    verify("other schemes ignored", header + ",v0=deadbeef,v2=zzz", at(0))
    verify("signature first", "v1=" + header.split("v1=")[1] + f",t={T0}", at(0))
    verify("no v1 signature", f"t={T0}", error("webhook.no_signature"))
    verify("only a v0 signature", f"t={T0},v0=" + header.split("v1=")[1], error("webhook.no_signature"))
    verify("no timestamp", "v1=" + header.split("v1=")[1], error("webhook.malformed_header"))
    verify("timestamp twice", header + f",t={T0}", error("webhook.malformed_header"))
    verify("timestamp not a number", header.replace(f"t={T0}", "t=yesterday"), error("webhook.malformed_header"))
    verify("timestamp with a leading zero", header.replace(f"t={T0}", f"t=0{T0}"), error("webhook.malformed_header"))
    verify("timestamp with a sign", header.replace(f"t={T0}", f"t=+{T0}"), error("webhook.malformed_header"))
    verify("timestamp in milliseconds past u64", header.replace(f"t={T0}", "t=99999999999999999999"),
           error("webhook.malformed_header"))
    verify("v1 of 63 hex digits", header[:-1], error("webhook.malformed_header"))
    verify("v1 not hex", header[:-2] + "zz", error("webhook.malformed_header"))
    verify("item without =", header + ",garbage", error("webhook.malformed_header"))
    verify("empty header", "", error("webhook.malformed_header"))
    verify("17 signatures", header + ",v1=" + ",v1=".join([header.split("v1=")[1]] * 16),
           error("webhook.malformed_header"))
    verify("16 signatures", f"t={T0}" + "".join(",v1=" + "00" * 32 for _ in range(15)) + ",v1=" + header.split("v1=")[1],
           at(0))
    verify("no secret", header, error("webhook.invalid_secret"), secrets=[])
    verify("an empty secret", header, error("webhook.invalid_secret"), secrets=[SECRET, ""])
    return out


def suites():
    description = (
        "API keys, JWTs and webhook signatures made by conformance/generate/reference.py. API "
        "keys: well-formed keys parse and verify against their stored SHA-256 record; typos "
        "fail the CRC32 checksum; wrong secrets, tenants and environments are "
        "`api_key.invalid`; expiry, revocation, rotation windows and scopes have their own "
        "codes. JWTs: RS256 (core/tests/data/jwt/rs256-test-key.pem), ES256 and EdDSA tokens "
        "from fixed keys map to the documented Identity; every refusal has its code. "
        "Webhooks: exact `t=...,v1=...` headers, the tolerance window both ways, rotation "
        "(secretIndex) and malformed headers."
    )
    return [("identity", description, {}, api_key_cases() + jwt_cases() + webhook_cases())]
