"""audit.json: chains built here from fixed events, and every fault kind.

Records follow `core/src/audit/chain.rs`: hash = HMAC-SHA256(audit key,
"phylax/audit/event/v1" || len||tenant || seq (u64 BE) || len||key id || previous hash ||
len||JCS(event)), the first previous hash being SHA-256("phylax/audit/genesis/v1" ||
len||tenant), the key id the first 8 bytes of HMAC(key, "phylax/audit/key-id/v1") in hex.
Checkpoints are Ed25519 over "phylax/audit/checkpoint/v1" || len||tenant || seq || head
hash || len||key id || time. Each fault case is a chain damaged in one way, with the fault
the verifier must name (`core/src/audit/verify.rs`'s table): modified, missing,
reordered, inserted, truncated, wrong_key, at the first bad sequence number.
"""

import copy

import reference as ref
from common import T0, case, error, includes, ok

KEY = ref.fixed_bytes("audit-key")
OTHER_KEY = ref.fixed_bytes("other-audit-key")
KEY_HEX = KEY.hex()
KEY_ID = ref.audit_key_id(KEY)
SIGNER = ref.fixed_bytes("checkpoint-signing-key")
OTHER_SIGNER = ref.fixed_bytes("other-checkpoint-signing-key")
SIGNER_PUBLIC = ref.b64url(ref.ed25519_public(SIGNER))
BUNDLE = "sha256:" + ref.sha256(b"conformance bundle").hex()

EVENTS = [
    {"tenant": "acme", "actor": {"id": "dr-who", "role": "provider", "sourceIp": "203.0.113.7"}, "action": "view",
     "record": {"type": "patients", "id": "r-1001"}, "time": T0, "outcome": "success",
     "decision": {"bundleHash": BUNDLE, "policyIds": ["provider-own-patients"]}},
    {"tenant": "acme", "actor": {"id": "dr-who", "role": "provider", "sourceIp": "203.0.113.7"}, "action": "update",
     "record": {"type": "patients", "id": "r-1001"}, "time": T0 + 60, "outcome": "success",
     "changedFields": ["diagnosis", "allergies"],
     "decision": {"bundleHash": BUNDLE, "policyIds": ["provider-own-patients"]}},
    {"tenant": "acme", "actor": {"id": "gx-nurse", "role": "staff", "sourceIp": "198.51.100.23"},
     "action": "authorization", "record": {"type": "patients", "id": "r-1001"}, "time": T0 + 61,
     "outcome": "denied",
     "decision": {"bundleHash": BUNDLE, "policyIds": ["tenant-isolation-records"], "flags": ["cross_tenant_denied"]}},
    {"tenant": "acme", "actor": {"id": "boss", "role": "owner"}, "action": "admin", "operation": "api_key.rotate",
     "time": T0 + 3600, "outcome": "success"},
    {"tenant": "acme", "actor": {"id": "root", "role": "platform_admin"}, "action": "export",
     "record": {"type": "patients", "id": "r-1001"}, "time": T0 + 7200, "outcome": "success",
     "decision": {"bundleHash": BUNDLE, "policyIds": ["platform-admin-break-glass"], "flags": ["break_glass"]},
     "reason": "Notfall — Patientin bewusstlos, Ticket 4711"},
]
GLOBEX_EVENTS = [
    {"tenant": "globex", "actor": {"id": "gx-doc"}, "action": "view", "record": {"type": "patients", "id": "g-1"},
     "time": T0, "outcome": "success"},
    {"tenant": "globex", "actor": {"id": "gx-doc"}, "action": "create", "record": {"type": "patients", "id": "g-2"},
     "time": T0 + 5, "outcome": "failure"},
]

GENESIS = ref.genesis_head("acme")
RECORDS, HEAD = ref.audit_append(KEY, GENESIS, EVENTS)
GLOBEX_RECORDS, _ = ref.audit_append(KEY, ref.genesis_head("globex"), GLOBEX_EVENTS)
OTHER_RECORDS, _ = ref.audit_append(OTHER_KEY, GENESIS, EVENTS)
HEADS = [GENESIS] + [{"tenant": "acme", "seq": r["seq"], "hash": r["hash"]} for r in RECORDS]
CP_TIME = T0 + 86_400


def cp(seq, signer=SIGNER, **override):
    fields = {"tenant": "acme", "seq": seq, "head_hash": HEADS[seq]["hash"], "key_id": KEY_ID, "time": CP_TIME}
    fields.update(override)
    return ref.checkpoint(signer, fields["tenant"], fields["seq"], fields["head_hash"], fields["key_id"],
                          fields["time"])


def append_cases():
    out = []

    def a(name, head, events, expect):
        out.append(case(f"auditAppend/{name}", "auditAppend", {"head": head, "events": events}, expect,
                        auditKey=KEY_HEX))

    first, head3 = ref.audit_append(KEY, GENESIS, EVENTS[:3])
    a("three events from the genesis head", GENESIS, EVENTS[:3], ok({"records": first, "head": head3}))
    rest, head5 = ref.audit_append(KEY, head3, EVENTS[3:])
    a("two more after the stored head", head3, EVENTS[3:], ok({"records": rest, "head": head5}))
    a("no events", head3, [], ok({"records": [], "head": head3}))
    loose = {"tenant": "acme", "actor": {"id": "svc-sync", "role": None, "sourceIp": None}, "action": "create",
             "operation": None, "record": {"type": "patients", "id": "r-2002"}, "time": T0 + 9, "outcome": "success",
             "changedFields": [], "decision": {"bundleHash": BUNDLE, "flags": []}, "reason": None}
    records, head = ref.audit_append(KEY, GENESIS, [loose])
    assert "changedFields" not in records[0]["event"] and records[0]["event"]["decision"]["policyIds"] == []
    a("nulls and empty lists are not stored; policyIds always is", GENESIS, [loose],
      ok({"records": records, "head": head}))
    initech = ref.genesis_head("initech")
    records, head = ref.audit_append(KEY, initech, [dict(GLOBEX_EVENTS[0], tenant="initech")])
    a("another tenant's genesis", initech, [dict(GLOBEX_EVENTS[0], tenant="initech")],
      ok({"records": records, "head": head}))
    a("event of another tenant", GENESIS, [GLOBEX_EVENTS[0]], error("audit.invalid_event"))
    a("all or nothing: one bad event fails the call", GENESIS, [EVENTS[0], GLOBEX_EVENTS[0]],
      error("audit.invalid_event"))
    a("empty actor id", GENESIS, [dict(EVENTS[0], actor={"id": ""})], error("audit.invalid_event"))
    a("changed field that carries a value", GENESIS, [dict(EVENTS[1], changedFields=["diagnosis=J45.909"])],
      error("audit.invalid_event"))
    a("changed field with a line break", GENESIS, [dict(EVENTS[1], changedFields=["diagnosis\nJ45"])],
      error("audit.invalid_event"))
    a("empty tenant", {"tenant": "", "seq": 0, "hash": ref.audit_genesis("").hex()}, [dict(EVENTS[0], tenant="")],
      error("audit.invalid_event"))
    a("stored head hash in capitals", dict(head3, hash=head3["hash"].upper()), EVENTS[3:], error("audit.invalid_input"))
    a("empty chain's head without the genesis hash", dict(GENESIS, hash="00" * 32), EVENTS[:1],
      error("audit.invalid_input"))
    a("stored head hash too short", dict(head3, hash=head3["hash"][:62]), EVENTS[3:], error("audit.invalid_input"))
    return out


def fault(kind, seq, verified):
    return includes({"valid": False, "verified": verified,
                     "fault": {"kind": kind, "code": f"audit.{kind}", "seq": seq}})


def valid(verified, head):
    return ok({"valid": True, "verified": verified, "head": head})


def verify_cases():
    out = []

    def v(name, records, expect, key=KEY_HEX, tenant="acme", **extra):
        request = {"tenant": tenant, "records": records}
        request.update(extra)
        out.append(case(f"auditVerify/{name}", "auditVerify", request, expect, auditKey=key))

    def damaged(index, mutate):
        records = copy.deepcopy(RECORDS)
        mutate(records[index])
        return records

    v("intact chain", RECORDS, valid(5, HEAD))
    v("intact chain against a checkpoint of its head", RECORDS, valid(5, HEAD), checkpoint=cp(5),
      checkpointPublicKey=SIGNER_PUBLIC)
    v("intact chain against an earlier checkpoint", RECORDS, valid(5, HEAD), checkpoint=cp(3),
      checkpointPublicKey=SIGNER_PUBLIC)
    v("checkpoint public key as hex", RECORDS, valid(5, HEAD), checkpoint=cp(5),
      checkpointPublicKey=ref.ed25519_public(SIGNER).hex())
    v("empty chain", [], valid(0, GENESIS))
    v("continuation from a verified head", RECORDS[2:], valid(3, HEAD), start=HEADS[2])
    v("continuation with a checkpoint at its start", RECORDS[2:], valid(3, HEAD), start=HEADS[2],
      checkpoint=cp(2), checkpointPublicKey=SIGNER_PUBLIC)
    v("first records only", RECORDS[:2], valid(2, HEADS[2]))

    # modified
    v("event content modified", damaged(2, lambda r: r["event"].__setitem__("outcome", "success")),
      fault("modified", 3, 2))
    v("changed field names modified", damaged(1, lambda r: r["event"].__setitem__("changedFields", ["allergies"])),
      fault("modified", 2, 1))
    v("first event modified", damaged(0, lambda r: r["event"]["actor"].__setitem__("id", "someone-else")),
      fault("modified", 1, 0))
    v("last event modified", damaged(4, lambda r: r["event"].__setitem__("reason", "routine")),
      fault("modified", 5, 4))
    v("sequence number field modified", damaged(2, lambda r: r.__setitem__("seq", 9)), fault("modified", 3, 2))
    v("previous hash field modified", damaged(2, lambda r: r.__setitem__("prevHash", "00" * 32)),
      fault("modified", 3, 2))
    v("hash field modified", damaged(2, lambda r: r.__setitem__("hash", "11" * 32)), fault("modified", 3, 2))
    v("key id field modified", damaged(2, lambda r: r.__setitem__("keyId", "0123456789abcdef")),
      fault("modified", 3, 2))
    v("hash in capitals", damaged(2, lambda r: r.__setitem__("hash", r["hash"].upper())), fault("modified", 3, 2))

    # missing
    v("event deleted", RECORDS[:2] + RECORDS[3:], fault("missing", 3, 2))
    renumbered = copy.deepcopy(RECORDS[:2] + RECORDS[3:])
    renumbered[2]["seq"], renumbered[3]["seq"] = 3, 4
    v("event deleted and the later ones renumbered", renumbered, fault("missing", 3, 2))
    v("first event deleted", RECORDS[1:], fault("missing", 1, 0))

    # reordered
    v("two events swapped", RECORDS[:2] + [RECORDS[3], RECORDS[2]] + RECORDS[4:], fault("reordered", 3, 2))
    swapped = copy.deepcopy(RECORDS[:2] + [RECORDS[3], RECORDS[2]] + RECORDS[4:])
    swapped[2]["seq"], swapped[3]["seq"] = 3, 4
    v("two events swapped with their sequence numbers", swapped, fault("reordered", 3, 2))
    v("last two events swapped", RECORDS[:3] + [RECORDS[4], RECORDS[3]], fault("reordered", 4, 3))

    # inserted
    forged = copy.deepcopy(RECORDS[2])
    forged["event"] = dict(forged["event"], actor={"id": "mallory"}, outcome="success")
    forged["hash"] = ref.audit_mac(OTHER_KEY, "acme", 3, KEY_ID, bytes.fromhex(RECORDS[1]["hash"]),
                                   forged["event"]).hex()
    v("forged event inserted", RECORDS[:2] + [forged] + RECORDS[2:], fault("inserted", 3, 2))
    v("event duplicated", RECORDS[:2] + [RECORDS[1]] + RECORDS[2:], fault("inserted", 3, 2))
    v("event of another tenant's chain spliced in", RECORDS[:2] + [GLOBEX_RECORDS[1]] + RECORDS[2:],
      fault("inserted", 3, 2))
    v("another tenant's chain", GLOBEX_RECORDS, fault("inserted", 1, 0))

    # truncated
    v("last events removed, checkpoint of the old head", RECORDS[:3], fault("truncated", 4, 3), checkpoint=cp(5),
      checkpointPublicKey=SIGNER_PUBLIC)
    v("every event removed, checkpoint of the old head", [], fault("truncated", 1, 0), checkpoint=cp(5),
      checkpointPublicKey=SIGNER_PUBLIC)
    rewritten, _ = ref.audit_append(KEY, HEADS[4], [dict(EVENTS[4], reason="routine export")])
    v("last event rewritten with the audit key, checkpoint of the old head", RECORDS[:4] + rewritten,
      fault("truncated", 5, 4), checkpoint=cp(5), checkpointPublicKey=SIGNER_PUBLIC)

    # wrong key
    v("verified with another audit key", RECORDS, fault("wrong_key", 1, 0), key=OTHER_KEY.hex())
    v("chain written under another audit key", OTHER_RECORDS, fault("wrong_key", 1, 0))
    v("checkpoint made for another audit key", RECORDS, fault("wrong_key", 5, 4),
      checkpoint=cp(5, key_id=ref.audit_key_id(OTHER_KEY)), checkpointPublicKey=SIGNER_PUBLIC)

    # Bad checkpoints and requests are errors, not findings.
    bad_sig = dict(cp(5), seq=4)
    v("checkpoint altered after signing", RECORDS, error("audit.bad_checkpoint"), checkpoint=bad_sig,
      checkpointPublicKey=SIGNER_PUBLIC)
    v("checkpoint signed by another key", RECORDS, error("audit.bad_checkpoint"), checkpoint=cp(5, OTHER_SIGNER),
      checkpointPublicKey=SIGNER_PUBLIC)
    v("checkpoint of another tenant", RECORDS, error("audit.bad_checkpoint"),
      checkpoint=cp(5, tenant="globex"), checkpointPublicKey=SIGNER_PUBLIC)
    v("checkpoint head hash not hex", RECORDS, error("audit.bad_checkpoint"),
      checkpoint=dict(cp(5), headHash="zz" * 32), checkpointPublicKey=SIGNER_PUBLIC)
    v("checkpoint signature not base64url", RECORDS, error("audit.bad_checkpoint"),
      checkpoint=dict(cp(5), signature="***"), checkpointPublicKey=SIGNER_PUBLIC)
    v("checkpoint before the start", RECORDS[3:], error("audit.bad_checkpoint"), start=HEADS[3],
      checkpoint=cp(2), checkpointPublicKey=SIGNER_PUBLIC)
    v("checkpoint without a public key", RECORDS, error("audit.invalid_input"), checkpoint=cp(5))
    v("checkpoint public key malformed", RECORDS, error("audit.invalid_input"), checkpoint=cp(5),
      checkpointPublicKey="abc")
    v("start of another tenant's chain", RECORDS, error("audit.invalid_input"),
      start=ref.genesis_head("globex"))
    v("start hash not hex", RECORDS[2:], error("audit.invalid_input"), start=dict(HEADS[2], hash="x" * 64))

    # pruned at retention: the kept records verify from a signed prune record
    def prune(first_kept, signer=SIGNER, **override):
        record = ref.prune_record(signer, "acme", first_kept, HEADS[first_kept - 1]["hash"], KEY_ID, 1700000900)
        record.update(override)
        return record

    v("pruned chain from its prune record", RECORDS[2:], valid(3, HEAD), prune=prune(3),
      checkpointPublicKey=SIGNER_PUBLIC)
    v("pruned chain with a checkpoint of its head", RECORDS[2:], valid(3, HEAD), prune=prune(3),
      checkpoint=cp(5), checkpointPublicKey=SIGNER_PUBLIC)
    v("pruned chain missing a record after the prune point", RECORDS[3:], fault("missing", 3, 0),
      prune=prune(3), checkpointPublicKey=SIGNER_PUBLIC)
    v("prune record moved after signing", RECORDS[3:], error("audit.bad_checkpoint"),
      prune=dict(prune(3), firstKeptSeq=4), checkpointPublicKey=SIGNER_PUBLIC)
    v("prune record signed by another key", RECORDS[2:], error("audit.bad_checkpoint"),
      prune=prune(3, OTHER_SIGNER), checkpointPublicKey=SIGNER_PUBLIC)
    checkpoint_as_prune = cp(2)
    v("checkpoint passed off as a prune record", RECORDS[2:], error("audit.bad_checkpoint"),
      prune={"tenant": "acme", "firstKeptSeq": 3, "prevHash": checkpoint_as_prune["headHash"],
             "keyId": KEY_ID, "time": checkpoint_as_prune["time"],
             "signature": checkpoint_as_prune["signature"]},
      checkpointPublicKey=SIGNER_PUBLIC)
    v("prune record of another tenant", RECORDS[2:], error("audit.bad_checkpoint"),
      prune=dict(prune(3), tenant="globex"), checkpointPublicKey=SIGNER_PUBLIC)
    v("prune record without a public key", RECORDS[2:], error("audit.invalid_input"), prune=prune(3))
    v("prune record and start together", RECORDS[2:], error("audit.invalid_input"), prune=prune(3),
      start=HEADS[2], checkpointPublicKey=SIGNER_PUBLIC)
    v("prune record keeping from seq 1", RECORDS, error("audit.bad_checkpoint"),
      prune=dict(prune(2), firstKeptSeq=1), checkpointPublicKey=SIGNER_PUBLIC)
    return out


def suites():
    description = (
        "Audit chains computed by conformance/generate/reference.py from fixed events, a fixed "
        "audit key (key id " + KEY_ID + ") and a fixed Ed25519 checkpoint key: exact records "
        "from auditAppend, intact chains, and one damaged chain per fault kind (modified, "
        "missing, reordered, inserted, truncated against a checkpoint, wrong key) with the "
        "fault's kind, code and first bad sequence number. Checkpoint public key: "
        + SIGNER_PUBLIC + "."
    )
    return [("audit", description, {}, append_cases() + verify_cases())]
