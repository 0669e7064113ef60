"""crypto.json: field envelopes, key wrapping, rotation, blind indexes and records.

Every ciphertext, wrapped key and blind index is computed by `reference.py` from fixed
keys and nonces; the failure codes are the ones `core/src/crypto/error.rs` documents for
each kind of input (tampering and moved ciphertexts are all `crypto.decrypt_failed`; a
string that is not a Phylax ciphertext is `crypto.malformed_ciphertext`; ...).
"""

import copy

import reference as ref
from common import T0, case, error, ok

ROOT = ref.fixed_bytes("root-key")
OTHER_ROOT = ref.fixed_bytes("other-root-key")
DATA = {1: ref.fixed_bytes("acme/data/1"), 2: ref.fixed_bytes("acme/data/2")}
INDEX = {1: ref.fixed_bytes("acme/index/1"), 2: ref.fixed_bytes("acme/index/2")}
CREATED = {1: T0, 2: T0 + 86_400}
DESTROYED_AT = T0 + 30 * 86_400


def _versions(kind, tenant, keys, versions):
    return [(v, CREATED[v], keys[v], ref.nonce(f"wrap/{tenant}/{kind}/{v}")) for v in versions]


def state(tenant, data_versions, data_active, index_versions, index_active, root=ROOT):
    """A keyring state holding the fixed keys. Globex holds the same key bytes as acme,
    so only the tenant binding keeps acme's ciphertexts from opening there."""
    return {
        "format": 1,
        "tenant": tenant,
        "dataKeys": ref.key_set(root, "data", tenant, _versions("data", tenant, DATA, data_versions), data_active),
        "indexKeys": ref.key_set(root, "index", tenant, _versions("index", tenant, INDEX, index_versions), index_active),
    }


DESTROYED = {
    "format": 1,
    "tenant": "acme",
    "dataKeys": {"active": 0, "versions": []},
    "indexKeys": {"active": 0, "versions": []},
    "destroyedAt": DESTROYED_AT,
}

STATES = {
    "acme": state("acme", [1], 1, [1], 1),
    "acme-rotated": state("acme", [1, 2], 2, [1, 2], 2),
    "acme-retired": state("acme", [2], 2, [1], 1),
    "globex": state("globex", [1], 1, [1], 1),
    "acme-destroyed": DESTROYED,
}
ACTIVE = {"acme": (1, 1), "acme-rotated": (2, 2), "acme-retired": (2, 1), "globex": (1, 1)}
TENANT = {"acme": "acme", "acme-rotated": "acme", "acme-retired": "acme", "globex": "globex"}


def fixtures():
    return {"keyrings": {name: {"rootKey": ROOT.hex(), "state": s} for name, s in STATES.items()}}


def sized(n: int) -> str:
    """Exactly `n` ASCII bytes of clinical-looking text."""
    text = "Patient reports mild wheezing after exercise; salbutamol as needed. "
    return (text * (n // len(text) + 1))[:n]


def enc(keyring, field, record_id, plaintext, label):
    """(ciphertext, nonce) of `plaintext` (str or bytes) under the keyring's active data key."""
    version = ACTIVE[keyring][0]
    data = plaintext.encode() if isinstance(plaintext, str) else plaintext
    n = ref.nonce(label)
    return ref.encrypt_field(DATA[version], version, TENANT[keyring], field, record_id, data, n), n


def _replace_raw(ct, fn):
    raw = bytearray(ref.raw_of(ct))
    fn(raw)
    return ref.text_of(bytes(raw))


def field_cases():
    out = []
    known = []  # (keyring, field, record id, plaintext, ciphertext) for the decrypt cases
    plaintexts = [
        ("32 bytes", "patients.name", "r-1001", sized(32)),
        ("256 bytes", "patients.notes", "r-1001", sized(256)),
        ("4 KiB", "patients.notes", "r-1002", sized(4096)),
        ("empty", "patients.middleName", "r-1001", ""),
        ("non-ASCII", "patients.name", "r-1003", "Zoë Müller-Łukasiewicz — 患者 🩺 Ω"),
        ("non-ASCII field and record id", "patienten.größe", "akte-ü-7", "1,82 m"),
        ("empty record id", "tenant.settings", "", "{\"theme\":\"dark\"}"),
    ]
    for title, field, record_id, plaintext in plaintexts:
        ct, n = enc("acme", field, record_id, plaintext, f"encrypt/{title}")
        out.append(case(f"encryptField/{title}", "encryptField",
                        {"field": field, "recordId": record_id, "plaintext": plaintext},
                        ok({"ciphertext": ct}), keyring="acme", nonces=[n]))
        known.append(("acme", field, record_id, plaintext, ct, title))
    # After a rotation, new values use version 2.
    ct2, n = enc("acme-rotated", "patients.diagnosis", "r-1001", "J45.909 Asthma", "encrypt/rotated")
    out.append(case("encryptField/after rotation uses version 2", "encryptField",
                    {"field": "patients.diagnosis", "recordId": "r-1001", "plaintext": "J45.909 Asthma"},
                    ok({"ciphertext": ct2}), keyring="acme-rotated", nonces=[n]))
    # The core draws the nonce before it checks its input, so a failing encryption still
    # draws one: it is listed, so that a runtime feeding nonces from one stream stays in step.
    for name, request, code in [
        ("empty field path", {"field": "", "recordId": "r-1001", "plaintext": "x"}, "crypto.invalid_name"),
        ("field path over 1024 bytes", {"field": "p." + "x" * 1023, "recordId": "r-1001", "plaintext": "x"},
         "crypto.invalid_name"),
        ("record id over 1024 bytes", {"field": "patients.name", "recordId": "r" * 1025, "plaintext": "x"},
         "crypto.invalid_name"),
    ]:
        out.append(case(f"encryptField/{name}", "encryptField", request, error(code), keyring="acme",
                        nonces=[ref.nonce(f"encrypt/fails/{name}")]))
    out.append(case("encryptField/destroyed keyring", "encryptField",
                    {"field": "patients.name", "recordId": "r-1001", "plaintext": "x"},
                    error("crypto.key_destroyed"), keyring="acme-destroyed",
                    nonces=[ref.nonce("encrypt/fails/destroyed")]))

    # Known ciphertexts decrypt (the ones above, plus ones made only here).
    for keyring, field, record_id, plaintext, ct, title in known:
        out.append(case(f"decryptField/{title}", "decryptField",
                        {"field": field, "recordId": record_id, "ciphertext": ct},
                        ok({"plaintext": plaintext}), keyring=keyring))
    v1, _ = enc("acme", "patients.diagnosis", "r-1001", "J45.909 Asthma", "known/v1")
    out.append(case("decryptField/version 1 under the rotated keyring", "decryptField",
                    {"field": "patients.diagnosis", "recordId": "r-1001", "ciphertext": v1},
                    ok({"plaintext": "J45.909 Asthma"}), keyring="acme-rotated"))
    out.append(case("decryptField/version 2 under the rotated keyring", "decryptField",
                    {"field": "patients.diagnosis", "recordId": "r-1001", "ciphertext": ct2},
                    ok({"plaintext": "J45.909 Asthma"}), keyring="acme-rotated"))
    out.append(case("decryptField/version 2 under a keyring that retired version 1", "decryptField",
                    {"field": "patients.diagnosis", "recordId": "r-1001", "ciphertext": ct2},
                    ok({"plaintext": "J45.909 Asthma"}), keyring="acme-retired"))
    bin_ct, _ = enc("acme", "patients.photo", "r-1001", b"\xff\xd8\xff\xe0 not text", "known/binary")
    out.append(case("decryptField/value that is not UTF-8 text", "decryptField",
                    {"field": "patients.photo", "recordId": "r-1001", "ciphertext": bin_ct},
                    error("crypto.malformed_ciphertext"), keyring="acme"))

    # Failures: the base ciphertext is v1 (48 bytes: header 6, nonce 12, body 14, tag 16).
    def dec(name, ciphertext, code, keyring="acme", field="patients.diagnosis", record_id="r-1001"):
        out.append(case(f"decryptField/{name}", "decryptField",
                        {"field": field, "recordId": record_id, "ciphertext": ciphertext},
                        error(code), keyring=keyring))

    def flip(index, mask):
        return lambda raw: raw.__setitem__(index, raw[index] ^ mask)

    dec("bit flipped in the body", _replace_raw(v1, flip(18, 0x01)), "crypto.decrypt_failed")
    dec("bit flipped in the tag", _replace_raw(v1, flip(47, 0x80)), "crypto.decrypt_failed")
    dec("bit flipped in the nonce", _replace_raw(v1, flip(6, 0x01)), "crypto.decrypt_failed")
    dec("header format version changed", _replace_raw(v1, flip(0, 0x03)), "crypto.malformed_ciphertext")
    dec("header algorithm changed", _replace_raw(v1, flip(1, 0x03)), "crypto.malformed_ciphertext")
    dec("header key version changed to one not held", _replace_raw(v1, flip(5, 0x03)),
        "crypto.unknown_key_version")
    dec("header key version high byte set", _replace_raw(v1, flip(2, 0x01)), "crypto.unknown_key_version")
    dec("header key version changed to another held version", _replace_raw(v1, flip(5, 0x03)),
        "crypto.decrypt_failed", keyring="acme-rotated")
    dec("cut to 33 bytes", ref.text_of(ref.raw_of(v1)[:33]), "crypto.malformed_ciphertext")
    dec("cut to 34 bytes", ref.text_of(ref.raw_of(v1)[:34]), "crypto.decrypt_failed")
    dec("cut to the header", ref.text_of(ref.raw_of(v1)[:6]), "crypto.malformed_ciphertext")
    dec("cut to 5 bytes", ref.text_of(ref.raw_of(v1)[:5]), "crypto.malformed_ciphertext")
    dec("one byte appended", ref.text_of(ref.raw_of(v1) + b"\x00"), "crypto.decrypt_failed")
    dec("nothing after the prefix", "phx1.", "crypto.malformed_ciphertext")
    dec("empty string", "", "crypto.malformed_ciphertext")
    dec("another prefix", "phx2." + v1[5:], "crypto.malformed_ciphertext")
    dec("prefix in capitals", "PHX1." + v1[5:], "crypto.malformed_ciphertext")
    dec("no prefix", v1[5:], "crypto.malformed_ciphertext")
    dec("standard base64 alphabet", v1[:20] + "+/" + v1[22:], "crypto.malformed_ciphertext")
    dec("base64 padding", v1 + "==", "crypto.malformed_ciphertext")
    odd, _ = enc("acme", "patients.name", "r-1001", "Ada Lovelace!", "known/odd")  # 47 bytes: 63 chars
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    noncanonical = odd[:-1] + alphabet[alphabet.index(odd[-1]) ^ 0x01]
    out.append(case("decryptField/47-byte value decrypts", "decryptField",
                    {"field": "patients.name", "recordId": "r-1001", "ciphertext": odd},
                    ok({"plaintext": "Ada Lovelace!"}), keyring="acme"))
    dec("base64 with non-zero trailing bits", noncanonical, "crypto.malformed_ciphertext",
        field="patients.name")
    # Moved ciphertexts.
    dec("moved to another tenant", v1, "crypto.decrypt_failed", keyring="globex")
    dec("moved to another record", v1, "crypto.decrypt_failed", record_id="r-1002")
    dec("moved to another field", v1, "crypto.decrypt_failed", field="patients.name")
    dec("record id emptied", v1, "crypto.decrypt_failed", record_id="")
    dec("version retired from the keyring", v1, "crypto.unknown_key_version", keyring="acme-retired")
    dec("destroyed keyring", v1, "crypto.key_destroyed", keyring="acme-destroyed")
    dec("empty field path", v1, "crypto.invalid_name", field="")
    # Globex's own value opens there and nowhere else.
    g, _ = enc("globex", "patients.diagnosis", "r-1001", "J45.909 Asthma", "known/globex")
    out.append(case("decryptField/globex value under globex", "decryptField",
                    {"field": "patients.diagnosis", "recordId": "r-1001", "ciphertext": g},
                    ok({"plaintext": "J45.909 Asthma"}), keyring="globex"))
    dec("globex value under acme", g, "crypto.decrypt_failed")

    # needsRewrap reads only the header.
    def needs(name, keyring, ciphertext, expect):
        out.append(case(f"needsRewrap/{name}", "needsRewrap",
                        {"field": "patients.diagnosis", "recordId": "r-1001", "ciphertext": ciphertext},
                        expect, keyring=keyring))

    needs("version 1 under the rotated keyring", "acme-rotated", v1, ok({"needsRewrap": True}))
    needs("version 2 under the rotated keyring", "acme-rotated", ct2, ok({"needsRewrap": False}))
    needs("version 1 under its own keyring", "acme", v1, ok({"needsRewrap": False}))
    needs("a version the keyring does not hold", "acme", _replace_raw(v1, flip(5, 0x03)),
          ok({"needsRewrap": True}))
    needs("corrupted body, intact header", "acme-rotated", _replace_raw(v1, flip(20, 0xFF)),
          ok({"needsRewrap": True}))
    needs("header only", "acme-rotated", ref.text_of(ref.header(1)), ok({"needsRewrap": True}))
    needs("shorter than a header", "acme", "phx1.AQEAAA", error("crypto.malformed_ciphertext"))
    needs("unsupported format version", "acme", _replace_raw(v1, flip(0, 0x03)),
          error("crypto.malformed_ciphertext"))
    needs("no prefix", "acme", v1[5:], error("crypto.malformed_ciphertext"))
    needs("destroyed keyring", "acme-destroyed", v1, error("crypto.key_destroyed"))

    # rewrap: under the active version with the case's nonce; unchanged if already active.
    n = ref.nonce("rewrap/v1")
    rewrapped = ref.encrypt_field(DATA[2], 2, "acme", "patients.diagnosis", "r-1001", b"J45.909 Asthma", n)
    out.append(case("rewrap/version 1 to version 2", "rewrap",
                    {"field": "patients.diagnosis", "recordId": "r-1001", "ciphertext": v1},
                    ok({"ciphertext": rewrapped}), keyring="acme-rotated", nonces=[n]))
    out.append(case("rewrap/already under the active version is returned unchanged", "rewrap",
                    {"field": "patients.diagnosis", "recordId": "r-1001", "ciphertext": ct2},
                    ok({"ciphertext": ct2}), keyring="acme-rotated"))
    nb = ref.nonce("rewrap/4k")
    big, _ = enc("acme", "patients.notes", "r-1002", sized(4096), "known/4k-v1")
    out.append(case("rewrap/4 KiB value", "rewrap",
                    {"field": "patients.notes", "recordId": "r-1002", "ciphertext": big},
                    ok({"ciphertext": ref.encrypt_field(DATA[2], 2, "acme", "patients.notes", "r-1002",
                                                        sized(4096).encode(), nb)}),
                    keyring="acme-rotated", nonces=[nb]))
    for name, ciphertext, code, kw in [
        ("tampered version 1 value", _replace_raw(v1, flip(18, 0x01)), "crypto.decrypt_failed", {}),
        ("version 1 value of another record", v1, "crypto.decrypt_failed", {"recordId": "r-1002"}),
        ("malformed", "phx1.!!!!", "crypto.malformed_ciphertext", {}),
        # Already under the active version, still authenticated before it is returned.
        ("active-version value of another record", ct2, "crypto.decrypt_failed", {"recordId": "r-1002"}),
        ("active-version value of another field", ct2, "crypto.decrypt_failed", {"field": "patients.notes"}),
        ("tampered active-version value", _replace_raw(ct2, flip(18, 0x01)), "crypto.decrypt_failed", {}),
    ]:
        request = {"field": "patients.diagnosis", "recordId": "r-1001", "ciphertext": ciphertext}
        request.update(kw)
        out.append(case(f"rewrap/{name}", "rewrap", request, error(code), keyring="acme-rotated"))
    out.append(case("rewrap/version 1 under a keyring that retired it", "rewrap",
                    {"field": "patients.diagnosis", "recordId": "r-1001", "ciphertext": v1},
                    error("crypto.unknown_key_version"), keyring="acme-retired"))
    out.append(case("rewrap/destroyed keyring", "rewrap",
                    {"field": "patients.diagnosis", "recordId": "r-1001", "ciphertext": v1},
                    error("crypto.key_destroyed"), keyring="acme-destroyed"))
    return out


def blind_index_cases():
    out = []

    def bi(name, field, value, index=None, keyring="acme", all_versions=False, expect=None):
        request = {"field": field, "value": value}
        if index is not None:
            request["index"] = index
        if all_versions:
            request["allVersions"] = True
        if expect is None:
            _, active = ACTIVE[keyring]
            norm = (index or {}).get("normalization", "exact")
            length = (index or {}).get("bytes", 16)
            versions = sorted({"acme-rotated": [1, 2]}.get(keyring, [active]), reverse=True) if all_versions else [active]
            expect = ok({"indexes": [ref.blind_index(INDEX[v], v, TENANT[keyring], field, value, norm, length)
                                     for v in versions]})
        out.append(case(f"blindIndex/{name}", "blindIndex", request, expect, keyring=keyring))

    bi("exact", "patients.name", "Ada Lovelace", {"normalization": "exact"})
    bi("default spec (exact, 16 bytes)", "patients.name", "Ada Lovelace")
    bi("empty value", "patients.name", "")
    bi("trim", "patients.name", " \t Ada Lovelace \u00a0\n", {"normalization": "trim"})
    bi("trim keeps inner whitespace", "patients.name", "Ada  Lovelace", {"normalization": "trim"})
    bi("casefold", "patients.name", "  ＡＤＡ\u3000 LoveLACE\t", {"normalization": "casefold"})
    bi("casefold compatibility forms", "patients.city", "ﬁle Ⅻ İstanbul", {"normalization": "casefold"})
    bi("casefold final sigma", "patients.name", "ΟΔΥΣΣΕΥΣ", {"normalization": "casefold"})
    bi("email", "patients.email", "  Ada.Lovelace@Example.ORG ", {"normalization": "email"})
    bi("email non-ASCII", "patients.email", "ZOË@Müller.example", {"normalization": "email"})
    bi("digits", "patients.phone", "+1 (555) 010-2030", {"normalization": "digits"})
    bi("digits ignores non-ASCII digits", "patients.phone", "+44 ٣٤ 20 7946 0958", {"normalization": "digits"})
    bi("4 bytes", "patients.ssn", "078-05-1120", {"normalization": "digits", "bytes": 4})
    bi("32 bytes", "patients.ssn", "078-05-1120", {"normalization": "digits", "bytes": 32})
    bi("another field, same value", "patients.email", "Ada Lovelace")
    bi("globex, same key bytes", "patients.name", "Ada Lovelace", keyring="globex")
    bi("rotated keyring uses the active index key", "patients.email", "ada@example.org",
       {"normalization": "email"}, keyring="acme-rotated")
    bi("all versions, newest first", "patients.email", "ada@example.org", {"normalization": "email"},
       keyring="acme-rotated", all_versions=True)
    bi("all versions of a keyring with one", "patients.email", "ada@example.org",
       {"normalization": "email"}, all_versions=True)
    bi("3 bytes is too short", "patients.name", "x", {"bytes": 3}, expect=error("crypto.invalid_spec"))
    bi("33 bytes is too long", "patients.name", "x", {"bytes": 33}, expect=error("crypto.invalid_spec"))
    bi("empty field path", "", "x", expect=error("crypto.invalid_name"))
    bi("destroyed keyring", "patients.name", "x", keyring="acme-destroyed",
       expect=error("crypto.key_destroyed"))
    return out


SPEC = {
    "name": "patients",
    "fields": [
        {"pointer": "/name"},
        {"pointer": "/email", "index": {"normalization": "email"}},
        {"pointer": "/phone", "index": {"normalization": "digits", "bytes": 8}},
        {"pointer": "/diagnosis"},
        {"pointer": "/contact/address"},
        {"pointer": "/allergies"},
        {"pointer": "/age", "index": {}},
        {"pointer": "/middleName"},
        {"pointer": "/insurance"},
    ],
}
RECORD = {
    "id": "r-1001",
    "mrn": "MRN-0001",
    "name": "Ada Lovelace",
    "email": " Ada@Example.ORG ",
    "phone": "+1 (555) 010-2030",
    "diagnosis": "J45.909 Asthma — Anstrengungsasthma",
    "contact": {"address": {"city": "London", "street": "12 St James's Square"}, "preferred": "email"},
    "allergies": ["penicillin", "latex"],
    "age": 36,
    "middleName": None,
}


def record_cases():
    out = []
    labels = [f"record/{i}" for i in range(7)]
    enc_v1, idx_v1, nonces_v1 = ref.encrypt_record(DATA[1], 1, INDEX[1], 1, "acme", SPEC, "r-1001", RECORD, labels)
    out.append(case("encryptRecord/fields, nested values, indexes", "encryptRecord",
                    {"spec": SPEC, "recordId": "r-1001", "record": RECORD},
                    ok({"record": enc_v1, "indexes": idx_v1}), keyring="acme", nonces=nonces_v1))
    labels2 = [f"record-rotated/{i}" for i in range(7)]
    enc_v2, idx_v2, nonces_v2 = ref.encrypt_record(DATA[2], 2, INDEX[2], 2, "acme", SPEC, "r-1001", RECORD, labels2)
    out.append(case("encryptRecord/rotated keyring", "encryptRecord",
                    {"spec": SPEC, "recordId": "r-1001", "record": RECORD},
                    ok({"record": enc_v2, "indexes": idx_v2}), keyring="acme-rotated", nonces=nonces_v2))
    small = {"name": "patients", "fields": [{"pointer": "/name"}]}
    out.append(case("encryptRecord/no listed field present", "encryptRecord",
                    {"spec": small, "recordId": "r-9", "record": {"mrn": "MRN-9"}},
                    ok({"record": {"mrn": "MRN-9"}, "indexes": {}}), keyring="acme"))
    for name, spec, code in [
        ("pointer without a slash", {"name": "patients", "fields": [{"pointer": "name"}]}, "crypto.invalid_spec"),
        ("pointer listed twice", {"name": "patients", "fields": [{"pointer": "/a"}, {"pointer": "/a"}]}, "crypto.invalid_spec"),
        ("pointer inside another", {"name": "patients", "fields": [{"pointer": "/a"}, {"pointer": "/a/b"}]}, "crypto.invalid_spec"),
        ("empty spec name", {"name": "", "fields": [{"pointer": "/a"}]}, "crypto.invalid_spec"),
        ("index of 40 bytes", {"name": "patients", "fields": [{"pointer": "/a", "index": {"bytes": 40}}]}, "crypto.invalid_spec"),
    ]:
        out.append(case(f"encryptRecord/{name}", "encryptRecord",
                        {"spec": spec, "recordId": "r-1", "record": {"a": "x"}}, error(code), keyring="acme"))
    out.append(case("encryptRecord/destroyed keyring", "encryptRecord",
                    {"spec": SPEC, "recordId": "r-1001", "record": RECORD}, error("crypto.key_destroyed"),
                    keyring="acme-destroyed", nonces=[ref.nonce("record/fails/destroyed")]))

    both = {1: DATA[1], 2: DATA[2]}
    full = ref.decrypt_record(both, "acme", SPEC, "r-1001", enc_v1)
    assert full == RECORD
    out.append(case("decryptRecord/every field", "decryptRecord",
                    {"spec": SPEC, "recordId": "r-1001", "record": enc_v1}, ok({"record": full}), keyring="acme"))
    out.append(case("decryptRecord/version 1 record under the rotated keyring", "decryptRecord",
                    {"spec": SPEC, "recordId": "r-1001", "record": enc_v1}, ok({"record": full}),
                    keyring="acme-rotated"))
    readable = ["/email", "/name"]
    subset = ref.decrypt_record(both, "acme", SPEC, "r-1001", enc_v2, readable=set(readable))
    out.append(case("decryptRecord/readable subset drops the other listed fields", "decryptRecord",
                    {"spec": SPEC, "recordId": "r-1001", "record": enc_v2, "readable": readable},
                    ok({"record": subset}), keyring="acme-rotated"))
    nothing = ref.decrypt_record(both, "acme", SPEC, "r-1001", enc_v1, readable=set())
    out.append(case("decryptRecord/nothing readable", "decryptRecord",
                    {"spec": SPEC, "recordId": "r-1001", "record": enc_v1, "readable": []},
                    ok({"record": nothing}), keyring="acme"))
    out.append(case("decryptRecord/record moved to another id", "decryptRecord",
                    {"spec": SPEC, "recordId": "r-1002", "record": enc_v1}, error("crypto.decrypt_failed"),
                    keyring="acme"))
    swapped = copy.deepcopy(enc_v1)
    swapped["name"], swapped["diagnosis"] = enc_v1["diagnosis"], enc_v1["name"]
    out.append(case("decryptRecord/two fields swapped", "decryptRecord",
                    {"spec": SPEC, "recordId": "r-1001", "record": swapped}, error("crypto.decrypt_failed"),
                    keyring="acme"))
    out.append(case("decryptRecord/swapped fields outside the readable set are not opened", "decryptRecord",
                    {"spec": SPEC, "recordId": "r-1001", "record": swapped, "readable": ["/email"]},
                    ok({"record": ref.decrypt_record(both, "acme", SPEC, "r-1001", enc_v1, readable={"/email"})}),
                    keyring="acme"))
    plain_field = copy.deepcopy(enc_v1)
    plain_field["age"] = 36
    out.append(case("decryptRecord/listed field holds a number", "decryptRecord",
                    {"spec": SPEC, "recordId": "r-1001", "record": plain_field},
                    error("crypto.malformed_ciphertext"), keyring="acme"))
    not_json, _ = enc("acme", "patients.name", "r-1001", "Ada", "known/not-json")
    out.append(case("decryptRecord/field value that is not JSON", "decryptRecord",
                    {"spec": small, "recordId": "r-1001", "record": {"name": not_json}},
                    error("crypto.malformed_ciphertext"), keyring="acme"))
    out.append(case("decryptRecord/destroyed keyring", "decryptRecord",
                    {"spec": SPEC, "recordId": "r-1001", "record": enc_v1}, error("crypto.key_destroyed"),
                    keyring="acme-destroyed"))
    return out


def open_cases():
    out = []
    for name in ["acme", "acme-rotated", "acme-retired", "globex"]:
        out.append(case(f"openKeyring/{name}", "openKeyring", {"rootKey": ROOT.hex(), "state": STATES[name]},
                        ok({"tenant": TENANT[name], "activeVersion": ACTIVE[name][0]})))
    out.append(case("openKeyring/destroyed keyring opens with no keys", "openKeyring",
                    {"rootKey": ROOT.hex(), "state": DESTROYED}, ok({"tenant": "acme", "activeVersion": 0})))
    out.append(case("openKeyring/root key as base64url", "openKeyring",
                    {"rootKey": ref.b64url(ROOT), "state": STATES["acme"]}, ok({"tenant": "acme", "activeVersion": 1})))
    out.append(case("openKeyring/root key in capital hex", "openKeyring",
                    {"rootKey": ROOT.hex().upper(), "state": STATES["acme"]}, ok({"tenant": "acme", "activeVersion": 1})))
    out.append(case("openKeyring/wrong root key", "openKeyring",
                    {"rootKey": OTHER_ROOT.hex(), "state": STATES["acme"]}, error("crypto.unwrap_failed")))
    # Root-key epochs: a keyring naming its root key opens with it; naming another one it
    # is refused before any unwrapping.
    out.append(case("openKeyring/names its root key", "openKeyring",
                    {"rootKey": ROOT.hex(), "state": dict(STATES["acme"], rootKeyId=ref.root_key_id(ROOT))},
                    ok({"tenant": "acme", "activeVersion": 1})))
    out.append(case("openKeyring/names another root key", "openKeyring",
                    {"rootKey": OTHER_ROOT.hex(), "state": dict(STATES["acme"], rootKeyId=ref.root_key_id(ROOT))},
                    error("crypto.root_key_unknown")))
    for name, root in [("root key of 31 bytes", ROOT[:31].hex()), ("root key not hex or base64url", "z" * 64),
                       ("empty root key", "")]:
        out.append(case(f"openKeyring/{name}", "openKeyring", {"rootKey": root, "state": STATES["acme"]},
                        error("crypto.invalid_key")))

    def bad_state(name, mutate, code):
        s = copy.deepcopy(STATES["acme-rotated"])
        mutate(s)
        out.append(case(f"openKeyring/{name}", "openKeyring", {"rootKey": ROOT.hex(), "state": s}, error(code)))

    def wrapped(kind, i):
        return lambda s: s[kind]["versions"][i].__setitem__(
            "wrapped", ref.b64url(bytes([ref.b64url_decode(s[kind]["versions"][i]["wrapped"])[0] ^ 1])
                                  + ref.b64url_decode(s[kind]["versions"][i]["wrapped"])[1:]))
    bad_state("wrapped data key tampered", wrapped("dataKeys", 1), "crypto.unwrap_failed")
    bad_state("wrapped index key tampered", wrapped("indexKeys", 0), "crypto.unwrap_failed")
    bad_state("wrapped key not base64url", lambda s: s["dataKeys"]["versions"][0].__setitem__("wrapped", "***"),
              "crypto.unwrap_failed")
    bad_state("wrapped key cut short", lambda s: s["dataKeys"]["versions"][0].__setitem__(
        "wrapped", s["dataKeys"]["versions"][0]["wrapped"][:20]), "crypto.unwrap_failed")
    bad_state("tenant renamed", lambda s: s.__setitem__("tenant", "globex"), "crypto.unwrap_failed")
    bad_state("data key moved into the index keys", lambda s: s["indexKeys"]["versions"].__setitem__(
        0, dict(s["dataKeys"]["versions"][0])), "crypto.unwrap_failed")
    bad_state("version numbers swapped", lambda s: (
        s["dataKeys"]["versions"][0].__setitem__("version", 2), s["dataKeys"]["versions"][1].__setitem__("version", 1)),
        "crypto.unwrap_failed")
    bad_state("globex key copied in", lambda s: s["dataKeys"]["versions"].__setitem__(
        0, copy.deepcopy(STATES["globex"]["dataKeys"]["versions"][0])), "crypto.unwrap_failed")
    bad_state("format 2", lambda s: s.__setitem__("format", 2), "crypto.invalid_keyring")
    bad_state("active version not stored", lambda s: s["dataKeys"].__setitem__("active", 3), "crypto.invalid_keyring")
    bad_state("version listed twice", lambda s: s["dataKeys"]["versions"].append(dict(s["dataKeys"]["versions"][0])),
              "crypto.invalid_keyring")
    bad_state("version 0", lambda s: (s["indexKeys"]["versions"][0].__setitem__("version", 0)),
              "crypto.invalid_keyring")
    bad_state("no data keys", lambda s: s.__setitem__("dataKeys", {"active": 1, "versions": []}), "crypto.invalid_keyring")
    bad_state("destroyed but holding keys", lambda s: s.__setitem__("destroyedAt", DESTROYED_AT),
              "crypto.invalid_keyring")
    bad_state("empty tenant", lambda s: s.__setitem__("tenant", ""), "crypto.invalid_name")
    bad_state("unknown field", lambda s: s.__setitem__("rotatedAt", T0), "crypto.invalid_keyring")
    bad_state("missing index keys", lambda s: s.pop("indexKeys"), "crypto.invalid_keyring")
    bad_state("createdAt as text", lambda s: s["dataKeys"]["versions"][0].__setitem__("createdAt", "yesterday"),
              "crypto.invalid_keyring")
    bad_state("negative active version", lambda s: s["dataKeys"].__setitem__("active", -1), "crypto.invalid_keyring")
    return out


def suites():
    cases = field_cases() + blind_index_cases() + record_cases() + open_cases()
    description = (
        "Field encryption with a fixed root key, fixed data and index keys (wrapped with fixed "
        "nonces) and fixed field nonces: exact ciphertexts, known ciphertexts, rotation and "
        "rewrap, every kind of tampering, moved ciphertexts, retired and destroyed keys, wrong "
        "root keys and malformed keyring states, blind indexes under each normalization, and "
        "whole records. Expected bytes come from conformance/generate/reference.py. Keyring "
        "`globex` holds the same key bytes as `acme`: only the tenant binding keeps acme's "
        "values from opening there."
    )
    return [("crypto", description, fixtures(), cases)]
