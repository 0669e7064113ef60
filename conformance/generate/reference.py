"""A Python reference of Phylax's byte formats, written from their documented layouts.

Each function restates one format from the module docs of the Rust core (the file is
named beside it) with the `cryptography` package and the standard library, so the
expected values in the case files come from this code, never from Phylax itself:

- key hierarchy and envelope: `core/src/crypto/{root_key,keyring,envelope,kdf}.rs`
- blind indexes: `core/src/crypto/blind_index.rs`; records: `core/src/crypto/record.rs`
- bundles: `core/src/policy/bundle.rs`
- audit chains and checkpoints: `core/src/audit/{chain,checkpoint,key}.rs`
- API keys: `core/src/identity/api_key.rs`; webhooks: `core/src/webhook/signature.rs`
- JWTs: RFC 7515 compact JWS with RS256, ES256 (r || s) and EdDSA.

Nothing here draws randomness: every key, nonce and signature comes from fixed inputs
(ECDSA signatures are RFC 6979 deterministic).
"""

import base64
import hashlib
import hmac
import json
import struct
import unicodedata
import zlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from jcs import canonicalize

# ---------------------------------------------------------------------------------------
# Small helpers


def b64url(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def framed(value: bytes) -> bytes:
    """4-byte big-endian length, then the bytes (`kdf::push_framed`)."""
    return struct.pack(">I", len(value)) + value


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def fixed_bytes(label: str, length: int = 32) -> bytes:
    """Deterministic test material: SHA-256 of a label, stretched if needed."""
    out = b""
    counter = 0
    while len(out) < length:
        out += sha256(f"phylax-conformance/{label}/{counter}".encode())
        counter += 1
    return out[:length]


def nonce(label: str) -> bytes:
    """A fixed 96-bit nonce for one encryption of one case."""
    return fixed_bytes("nonce/" + label, 12)


# ---------------------------------------------------------------------------------------
# Key hierarchy (root_key.rs, keyring.rs)


def kek(root_key: bytes) -> bytes:
    """The AES-256 key-encryption key derived from the operator's root key."""
    return hkdf_sha256(root_key, b"phx1/root", b"key-encryption-key")


def root_key_id(root_key: bytes) -> str:
    """The root key's public id, recorded in each keyring it wraps (`rootKeyId`)."""
    return b64url(hkdf_sha256(root_key, b"phx1/root", b"key-id")[:9])


def wrap_aad(kind: str, tenant: str, version: int) -> bytes:
    return b"phx1/wrap" + framed(kind.encode()) + framed(tenant.encode()) + struct.pack(">I", version)


def wrap_key(root_key: bytes, kind: str, tenant: str, version: int, key: bytes, wrap_nonce: bytes) -> str:
    """base64url of nonce || AES-GCM(KEK, key, wrap AAD) || tag."""
    sealed = AESGCM(kek(root_key)).encrypt(wrap_nonce, key, wrap_aad(kind, tenant, version))
    return b64url(wrap_nonce + sealed)


def key_set(root_key, kind, tenant, versions, active):
    """A `KeySet`: versions is a list of (version, createdAt, key bytes, wrap nonce)."""
    return {
        "active": active,
        "versions": [
            {"version": v, "createdAt": created, "wrapped": wrap_key(root_key, kind, tenant, v, key, n)}
            for (v, created, key, n) in versions
        ],
    }


def field_info(tenant: str, field: str) -> bytes:
    return framed(tenant.encode()) + framed(field.encode())


def field_key(data_key: bytes, tenant: str, field: str) -> bytes:
    return hkdf_sha256(data_key, b"phx1/field-key", field_info(tenant, field))


def index_key(index_key_bytes: bytes, tenant: str, field: str) -> bytes:
    return hkdf_sha256(index_key_bytes, b"phx1/index-key", field_info(tenant, field))


# ---------------------------------------------------------------------------------------
# Field envelope (envelope.rs)

PREFIX = "phx1."


def header(key_version: int, fmt: int = 1, alg: int = 1) -> bytes:
    return bytes([fmt, alg]) + struct.pack(">I", key_version)


def field_aad(tenant: str, field: str, record_id: str, hdr: bytes) -> bytes:
    return b"phx1/fld" + framed(tenant.encode()) + framed(field.encode()) + framed(record_id.encode()) + hdr


def seal_field(data_key: bytes, key_version: int, tenant: str, field: str, record_id: str,
               plaintext: bytes, field_nonce: bytes) -> bytes:
    """The binary ciphertext: header(6) | nonce(12) | body | tag(16)."""
    hdr = header(key_version)
    sealed = AESGCM(field_key(data_key, tenant, field)).encrypt(
        field_nonce, plaintext, field_aad(tenant, field, record_id, hdr))
    return hdr + field_nonce + sealed


def encrypt_field(data_key, key_version, tenant, field, record_id, plaintext: bytes, field_nonce) -> str:
    return PREFIX + b64url(seal_field(data_key, key_version, tenant, field, record_id, plaintext, field_nonce))


def open_field(data_key, tenant, field, record_id, text: str) -> bytes:
    """Decrypts a well-formed text ciphertext (raises on any failure)."""
    assert text.startswith(PREFIX)
    raw = b64url_decode(text[len(PREFIX):])
    hdr, field_nonce, body = raw[:6], raw[6:18], raw[18:]
    return AESGCM(field_key(data_key, tenant, field)).decrypt(
        field_nonce, body, field_aad(tenant, field, record_id, hdr))


def text_of(raw: bytes) -> str:
    return PREFIX + b64url(raw)


def raw_of(text: str) -> bytes:
    return b64url_decode(text[len(PREFIX):])


# ---------------------------------------------------------------------------------------
# Blind indexes (blind_index.rs)

# Unicode's White_Space property, which Rust's `str::trim` and `split_whitespace` use.
# (Python's `str.isspace` also counts U+001C..U+001F, so it is not used here.)
WHITE_SPACE = set(
    [chr(c) for c in range(0x09, 0x0E)]
    + ["\u0020", "\u0085", "\u00a0", "\u1680"]
    + [chr(c) for c in range(0x2000, 0x200B)]
    + ["\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
)


def _trim(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] in WHITE_SPACE:
        start += 1
    while end > start and text[end - 1] in WHITE_SPACE:
        end -= 1
    return text[start:end]


def _split_whitespace(text: str) -> list:
    words, current = [], []
    for ch in text:
        if ch in WHITE_SPACE:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(ch)
    if current:
        words.append("".join(current))
    return words


def normalize(normalization: str, value: str) -> str:
    """The documented normalizations: exact, trim, casefold (NFKC, lowercase, trimmed,
    inner whitespace collapsed), email (trimmed, lowercase), digits (ASCII digits only)."""
    if normalization == "exact":
        return value
    if normalization == "trim":
        return _trim(value)
    if normalization == "casefold":
        return " ".join(_split_whitespace(unicodedata.normalize("NFKC", value).lower()))
    if normalization == "email":
        return _trim(value).lower()
    if normalization == "digits":
        return "".join(ch for ch in value if ch in "0123456789")
    raise ValueError(normalization)


def blind_index(index_key_bytes: bytes, version: int, tenant: str, field: str, value: str,
                normalization: str = "exact", length: int = 16) -> str:
    """`"<version>.<base64url(HMAC(index subkey, len||normalization || normalized)[:length])>"`."""
    mac = hmac_sha256(index_key(index_key_bytes, tenant, field),
                      framed(normalization.encode()) + normalize(normalization, value).encode())
    return f"{version}.{b64url(mac[:length])}"


# ---------------------------------------------------------------------------------------
# Records (record.rs)


def field_path(spec_name: str, pointer: str) -> str:
    return spec_name + "." + pointer.lstrip("/")


def value_json(value) -> bytes:
    """A record value as compact JSON text, as `serde_json::to_vec` writes it: no spaces,
    non-ASCII as UTF-8, member order as given (the cases use sorted members)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _get(record, pointer):
    node = record
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        else:
            return False, None
    return True, node


def _set(record, pointer, value):
    node = record
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
    for token in tokens[:-1]:
        node = node[token]
    node[tokens[-1]] = value


def _remove(record, pointer):
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]
    node = record
    for token in tokens[:-1]:
        if not isinstance(node, dict) or token not in node:
            return
        node = node[token]
    if isinstance(node, dict):
        node.pop(tokens[-1], None)


def encrypt_record(data_key, key_version, index_key_bytes, index_version, tenant, spec, record_id,
                   record, nonce_labels):
    """Encrypts the spec's fields in spec order (one nonce each, absent and null fields
    skipped), indexing the searchable ones first. Returns (record, indexes, nonces used)."""
    out = json.loads(json.dumps(record))
    indexes = {}
    used = []
    labels = iter(nonce_labels)
    for field in spec["fields"]:
        pointer = field["pointer"]
        present, value = _get(out, pointer)
        if not present or value is None:
            continue
        path = field_path(spec["name"], pointer)
        if "index" in field:
            index = field["index"]
            text = value if isinstance(value, str) else value_json(value).decode()
            indexes[pointer] = blind_index(index_key_bytes, index_version, tenant, path, text,
                                           index.get("normalization", "exact"), index.get("bytes", 16))
        n = nonce(next(labels))
        used.append(n)
        _set(out, pointer, encrypt_field(data_key, key_version, tenant, path, record_id, value_json(value), n))
    return out, indexes, used


def decrypt_record(data_keys, tenant, spec, record_id, record, readable=None):
    """Decrypts the spec's fields; with `readable`, the other listed fields are removed."""
    out = json.loads(json.dumps(record))
    for field in spec["fields"]:
        pointer = field["pointer"]
        if readable is not None and pointer not in readable:
            _remove(out, pointer)
            continue
        present, value = _get(out, pointer)
        if not present or value is None:
            continue
        version = struct.unpack(">I", raw_of(value)[2:6])[0]
        plain = open_field(data_keys[version], tenant, field_path(spec["name"], pointer), record_id, value)
        _set(out, pointer, json.loads(plain))
    return out


# ---------------------------------------------------------------------------------------
# Signed bundles (bundle.rs)

BUNDLE_CONTEXT = b"phylax.bundle.v1:"


def bundle_digest(bundle: dict) -> bytes:
    return sha256(canonicalize(bundle))


def hash_text(digest: bytes) -> str:
    return "sha256:" + digest.hex()


def ed25519_key(seed: bytes) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def ed25519_public(seed: bytes) -> bytes:
    return ed25519_key(seed).public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def sign_bundle(bundle: dict, seed: bytes) -> dict:
    """`{bundle, hash, signature}`: SHA-256 of the bundle's JCS bytes, Ed25519 over
    `phylax.bundle.v1:` || digest."""
    digest = bundle_digest(bundle)
    signature = ed25519_key(seed).sign(BUNDLE_CONTEXT + digest)
    return {"bundle": bundle, "hash": hash_text(digest), "signature": b64url(signature)}


# ---------------------------------------------------------------------------------------
# Audit chains (audit/chain.rs, key.rs, checkpoint.rs)


def audit_key_id(key: bytes) -> str:
    return hmac_sha256(key, b"phylax/audit/key-id/v1")[:8].hex()


def audit_genesis(tenant: str) -> bytes:
    return sha256(b"phylax/audit/genesis/v1" + framed(tenant.encode()))


def audit_event_form(event: dict) -> dict:
    """An event as stored: absent optionals omitted (a `null` is absent), empty
    `changedFields` and `flags` omitted, `decision.policyIds` always present."""
    out = {}
    for name, value in event.items():
        if value is None:
            continue
        if name == "actor":
            value = {k: v for k, v in value.items() if v is not None}
        if name == "changedFields" and value == []:
            continue
        if name == "decision":
            value = {k: v for k, v in value.items() if v is not None}
            value.setdefault("policyIds", [])
            if value.get("flags") == []:
                del value["flags"]
        out[name] = value
    return out


def audit_mac(key: bytes, tenant: str, seq: int, key_id: str, prev: bytes, event: dict) -> bytes:
    message = (b"phylax/audit/event/v1" + framed(tenant.encode()) + struct.pack(">Q", seq)
               + framed(key_id.encode()) + prev + framed(canonicalize(audit_event_form(event))))
    return hmac_sha256(key, message)


def audit_append(key: bytes, head: dict, events: list):
    """Records for `events` after `head` ({tenant, seq, hash}); returns (records, head)."""
    key_id = audit_key_id(key)
    tenant, seq, prev = head["tenant"], head["seq"], bytes.fromhex(head["hash"])
    records = []
    for event in events:
        seq += 1
        digest = audit_mac(key, tenant, seq, key_id, prev, event)
        records.append({"seq": seq, "keyId": key_id, "prevHash": prev.hex(), "hash": digest.hex(),
                        "event": audit_event_form(event)})
        prev = digest
    return records, {"tenant": tenant, "seq": seq, "hash": prev.hex()}


def genesis_head(tenant: str) -> dict:
    return {"tenant": tenant, "seq": 0, "hash": audit_genesis(tenant).hex()}


def checkpoint(seed: bytes, tenant: str, seq: int, head_hash: str, key_id: str, time: int) -> dict:
    message = (b"phylax/audit/checkpoint/v1" + framed(tenant.encode()) + struct.pack(">Q", seq)
               + bytes.fromhex(head_hash) + framed(key_id.encode()) + struct.pack(">Q", time))
    return {"tenant": tenant, "seq": seq, "headHash": head_hash, "keyId": key_id, "time": time,
            "signature": b64url(ed25519_key(seed).sign(message))}


def prune_record(seed: bytes, tenant: str, first_kept_seq: int, prev_hash: str, key_id: str,
                 time: int) -> dict:
    """A retention prune record: signed like a checkpoint, under its own domain."""
    message = (b"phylax/audit/prune/v1" + framed(tenant.encode()) + struct.pack(">Q", first_kept_seq)
               + bytes.fromhex(prev_hash) + framed(key_id.encode()) + struct.pack(">Q", time))
    return {"tenant": tenant, "firstKeptSeq": first_kept_seq, "prevHash": prev_hash, "keyId": key_id,
            "time": time, "signature": b64url(ed25519_key(seed).sign(message))}


# ---------------------------------------------------------------------------------------
# API keys (identity/api_key.rs)

BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def base32(data: bytes) -> str:
    """Lowercase RFC 4648 base32, no padding, zero padding bits."""
    bits = "".join(f"{b:08b}" for b in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(BASE32[int(bits[i:i + 5], 2)] for i in range(0, len(bits), 5))


def crc32_b32(body: str) -> str:
    return base32(struct.pack(">I", zlib.crc32(body.encode()) & 0xFFFFFFFF))


def api_key_text(environment: str, key_id: str, secret_b32: str) -> str:
    body = f"phx_{environment}_{key_id}_{secret_b32}"
    return body + "_" + crc32_b32(body)


def api_key_hash(tenant: str, environment: str, key_id: str, secret: bytes) -> str:
    return sha256(b"phylax/api-key/v1" + framed(tenant.encode()) + framed(environment.encode())
                  + framed(key_id.encode()) + secret).hex()


# ---------------------------------------------------------------------------------------
# Webhooks (webhook/signature.rs)


def webhook_signature(secret: str, timestamp: int, payload: str) -> str:
    return hmac_sha256(secret.encode(), f"{timestamp}.".encode() + payload.encode()).hex()


def webhook_header(secrets: list, timestamp: int, payload: str) -> str:
    return f"t={timestamp}" + "".join(",v1=" + webhook_signature(s, timestamp, payload) for s in secrets)


# ---------------------------------------------------------------------------------------
# JWTs (RFC 7515 / 7518 / 8037)


def json_b64(value) -> str:
    return b64url(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def jws_sign(alg: str, key, signing_input: bytes) -> bytes:
    if alg == "RS256":
        return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    if alg == "ES256":
        der = key.sign(signing_input, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "EdDSA":
        return key.sign(signing_input)
    raise ValueError(alg)


def jwt(header: dict, claims, alg_key=None, alg=None) -> str:
    """A compact JWS; `claims` may be a dict or raw payload bytes."""
    payload = claims if isinstance(claims, bytes) else json.dumps(claims, separators=(",", ":")).encode()
    signing_input = (json_b64(header) + "." + b64url(payload)).encode()
    signature = jws_sign(alg or header["alg"], alg_key, signing_input) if alg_key is not None else b""
    return signing_input.decode() + "." + b64url(signature)
