//! Audit chains: 10,000 events, every fault kind detected at the right sequence number.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers should fail loudly"
)]

use std::sync::OnceLock;

use phylax_core::audit::calls::{self, AppendRequest, VerifyRequest};
use phylax_core::audit::{
    verify, verify_from, Action, Actor, AuditChain, AuditError, AuditEvent, AuditKey, AuditRecord,
    ChainHead, CheckpointSigner, Decision, FaultKind, Outcome, RecordRef,
};
use phylax_core::crypto::Secret32;
use phylax_core::Diagnostic;

const TENANT: &str = "acme-clinic";
const N: u64 = 10_000;

fn key() -> AuditKey {
    AuditKey::from_secret(&Secret32::from_bytes([7; 32]))
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::from_secret(&Secret32::from_bytes([9; 32]))
}

fn event(tenant: &str, i: u64) -> AuditEvent {
    let action = match i % 7 {
        0 => Action::View,
        1 => Action::Create,
        2 => Action::Update,
        3 => Action::Delete,
        4 => Action::Export,
        5 => Action::Admin,
        _ => Action::Authorization,
    };
    AuditEvent {
        tenant: tenant.to_owned(),
        actor: Actor {
            id: format!("user-{}", i % 97),
            role: Some("provider".to_owned()),
            source_ip: Some(format!("10.0.{}.{}", i % 256, i % 13)),
        },
        action,
        operation: (action == Action::Admin).then(|| "api_key.rotate".to_owned()),
        record: Some(RecordRef {
            kind: "patients".to_owned(),
            id: format!("patient-{i}"),
        }),
        time: 1_700_000_000 + i,
        outcome: if i % 11 == 0 {
            Outcome::Denied
        } else {
            Outcome::Success
        },
        changed_fields: if action == Action::Update {
            vec!["diagnosis".to_owned(), "notes".to_owned()]
        } else {
            vec![]
        },
        decision: Some(Decision {
            bundle_hash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
                .to_owned(),
            policy_ids: vec![format!("policy{}", i % 5)],
            flags: vec![],
        }),
        reason: (i % 1000 == 0).then(|| "break-glass: emergency room".to_owned()),
        recorded_by: None,
    }
}

/// The 10,000-event chain, built once per test binary, and its head.
fn base() -> &'static (Vec<AuditRecord>, ChainHead) {
    static BASE: OnceLock<(Vec<AuditRecord>, ChainHead)> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut chain = AuditChain::new(key(), TENANT).unwrap();
        let records = (1..=N)
            .map(|i| chain.append(event(TENANT, i)).unwrap())
            .collect();
        (records, chain.head())
    })
}

fn records() -> Vec<AuditRecord> {
    base().0.clone()
}

fn fault(result: Result<phylax_core::audit::Verified, AuditError>) -> (FaultKind, u64) {
    let err = result.expect_err("the chain should not verify");
    err.fault()
        .unwrap_or_else(|| panic!("not a fault: {err:?}"))
}

fn check(records: &[AuditRecord]) -> (FaultKind, u64) {
    fault(verify(TENANT, records, &key(), None))
}

/// Changes one byte of a string (to another character of the same class, so hex stays hex).
fn flip(text: &mut String) {
    let mut bytes = text.clone().into_bytes();
    let at = bytes.len() / 2;
    bytes[at] = match bytes[at] {
        b'0' => b'1',
        b'a'..=b'y' | b'A'..=b'Y' | b'1'..=b'8' => bytes[at] + 1,
        _ => b'0',
    };
    *text = String::from_utf8(bytes).unwrap();
}

#[test]
fn an_intact_chain_of_10000_events_verifies() {
    let (records, head) = base();
    let done = verify(TENANT, records, &key(), None).unwrap();
    assert_eq!(done.verified, N);
    assert_eq!(&done.head, head);
    assert_eq!(records[0].seq, 1);
    assert_eq!(records[0].prev_hash, ChainHead::genesis(TENANT).hash);

    let signer = signer();
    let mut chain = AuditChain::resume(key(), head).unwrap();
    let checkpoint = chain.checkpoint(&signer, 1_800_000_000);
    let trusted = signer.verifier().check(&checkpoint).unwrap();
    let done = verify(TENANT, records, &key(), Some(&trusted)).unwrap();
    assert_eq!(done.checkpoint_seq, Some(N));

    // Appending after the checkpoint keeps it valid.
    let mut longer = records.clone();
    longer.push(chain.append(event(TENANT, N + 1)).unwrap());
    let done = verify(TENANT, &longer, &key(), Some(&trusted)).unwrap();
    assert_eq!(done.verified, N + 1);
}

#[test]
fn one_changed_byte_in_any_field_is_reported_as_modified_at_its_seq() {
    type Mutation = (&'static str, fn(&mut AuditRecord));
    let mutations: &[Mutation] = &[
        ("tenant", |r| flip(&mut r.event.tenant)),
        ("actor id", |r| flip(&mut r.event.actor.id)),
        ("role", |r| flip(r.event.actor.role.as_mut().unwrap())),
        ("source ip", |r| {
            flip(r.event.actor.source_ip.as_mut().unwrap())
        }),
        ("action", |r| {
            r.event.action = if r.event.action == Action::Export {
                Action::View
            } else {
                Action::Export
            }
        }),
        ("operation", |r| r.event.operation = Some("x".to_owned())),
        ("record type", |r| {
            flip(&mut r.event.record.as_mut().unwrap().kind)
        }),
        ("record id", |r| {
            flip(&mut r.event.record.as_mut().unwrap().id)
        }),
        ("time", |r| r.event.time ^= 1),
        ("outcome", |r| r.event.outcome = Outcome::Failure),
        ("changed fields", |r| {
            r.event.changed_fields.push("ssn".to_owned())
        }),
        ("bundle hash", |r| {
            flip(&mut r.event.decision.as_mut().unwrap().bundle_hash)
        }),
        ("policy ids", |r| {
            flip(&mut r.event.decision.as_mut().unwrap().policy_ids[0])
        }),
        ("reason", |r| r.event.reason = Some("none".to_owned())),
        ("seq", |r| r.seq ^= 1),
        ("key id", |r| flip(&mut r.key_id)),
        ("prev hash", |r| flip(&mut r.prev_hash)),
        ("hash", |r| flip(&mut r.hash)),
    ];
    let base = records();
    for (k, &(field, mutate)) in (0u64..).zip(mutations) {
        // Every field at the first event, and at a different place further on for each
        // (the last event, 9,500, 9,000, ...) to keep the debug test run short.
        for at in [1, N - 500 * k] {
            let index = usize::try_from(at - 1).unwrap();
            // The chain up to the event after the tampered one.
            let mut tampered = base[..(index + 2).min(base.len())].to_vec();
            mutate(&mut tampered[index]);
            assert_ne!(
                tampered[index], base[index],
                "{field}: mutation changed nothing"
            );
            assert_eq!(
                check(&tampered),
                (FaultKind::Modified, at),
                "{field} changed at seq {at}"
            );
        }
    }
}

#[test]
fn a_deleted_event_is_missing() {
    for at in [1u64, 5_000, N] {
        let mut tampered = records();
        tampered.remove(usize::try_from(at - 1).unwrap());
        if at == N {
            // The last event of a chain cannot be missed without a checkpoint...
            assert_eq!(
                verify(TENANT, &tampered, &key(), None).unwrap().verified,
                N - 1
            );
            continue;
        }
        assert_eq!(check(&tampered), (FaultKind::Missing, at), "deleted {at}");
    }
    // Deleted, and the rest renumbered to close the gap (hashes cannot be recomputed).
    let mut tampered = records();
    tampered.remove(4_999);
    for record in &mut tampered[4_999..] {
        record.seq -= 1;
    }
    assert_eq!(check(&tampered), (FaultKind::Missing, 5_000));
}

#[test]
fn two_swapped_events_are_reordered() {
    let mut tampered = records();
    tampered.swap(2_999, 3_000);
    assert_eq!(check(&tampered), (FaultKind::Reordered, 3_000));

    // Swapped with their sequence numbers swapped back, so numbering looks fine.
    let mut tampered = records();
    tampered.swap(2_999, 3_000);
    tampered[2_999].seq = 3_000;
    tampered[3_000].seq = 3_001;
    assert_eq!(check(&tampered), (FaultKind::Reordered, 3_000));

    // An event moved far back.
    let mut tampered = records();
    let moved = tampered.remove(100);
    tampered.insert(9_000, moved);
    assert_eq!(check(&tampered), (FaultKind::Reordered, 101));
}

#[test]
fn an_inserted_forged_event_is_inserted() {
    let base = records();
    // A forger without the key, guessing a hash, with a duplicate sequence number.
    let mut forged = base[6_000].clone();
    forged.event.actor.id = "mallory".to_owned();
    forged.hash = "00".repeat(32);
    let mut tampered = base.clone();
    tampered.insert(6_000, forged.clone());
    assert_eq!(check(&tampered), (FaultKind::Inserted, 6_001));

    // ...and with every later event renumbered to make room.
    for record in &mut tampered[6_001..] {
        record.seq += 1;
    }
    assert_eq!(check(&tampered), (FaultKind::Inserted, 6_001));

    // A forger with another key but our key id.
    let other = AuditKey::from_secret(&Secret32::from_bytes([8; 32]));
    let mut chain = AuditChain::resume(
        other,
        &ChainHead {
            tenant: TENANT.to_owned(),
            seq: 6_000,
            hash: base[5_999].hash.clone(),
        },
    )
    .unwrap();
    let mut forged = chain.append(event(TENANT, 42)).unwrap();
    forged.key_id = key().key_id().to_owned();
    let mut tampered = base.clone();
    tampered.insert(6_000, forged);
    assert_eq!(check(&tampered), (FaultKind::Inserted, 6_001));

    // A replayed copy of an authentic event.
    let mut tampered = base.clone();
    tampered.insert(6_000, base[10].clone());
    assert_eq!(check(&tampered), (FaultKind::Inserted, 6_001));

    // An authentic event of another tenant's chain (same audit key).
    let mut other_chain = AuditChain::new(key(), "other-clinic").unwrap();
    let spliced = other_chain.append(event("other-clinic", 1)).unwrap();
    let mut tampered = base[..3].to_vec();
    tampered.insert(0, spliced);
    assert_eq!(check(&tampered), (FaultKind::Inserted, 1));
}

#[test]
fn a_truncated_tail_is_caught_by_the_checkpoint() {
    let (base, head) = base();
    let signer = signer();
    let checkpoint = AuditChain::resume(key(), head)
        .unwrap()
        .checkpoint(&signer, 1_800_000_000);
    let trusted = signer.verifier().check(&checkpoint).unwrap();

    let truncated = &base[..9_990];
    // Without the checkpoint a shorter chain is self-consistent...
    assert_eq!(
        verify(TENANT, truncated, &key(), None).unwrap().verified,
        9_990
    );
    // ...with it, the cut is found at the first missing event.
    let err = verify(TENANT, truncated, &key(), Some(&trusted)).unwrap_err();
    assert_eq!(
        err,
        AuditError::Truncated {
            seq: 9_991,
            checkpoint_seq: N
        }
    );
    assert_eq!(err.code(), "audit.truncated");
    assert_eq!(
        fault(verify(TENANT, &[], &key(), Some(&trusted))),
        (FaultKind::Truncated, 1)
    );

    // Truncated and regrown by someone holding the audit key: the head hash differs.
    let mut chain = AuditChain::resume_after(key(), &base[8_999]).unwrap();
    let mut rewritten = base[..9_000].to_vec();
    for i in 0..1_000 {
        rewritten.push(chain.append(event(TENANT, 50_000 + i)).unwrap());
    }
    assert_eq!(
        verify(TENANT, &rewritten, &key(), None).unwrap().verified,
        N
    );
    assert_eq!(
        fault(verify(TENANT, &rewritten, &key(), Some(&trusted))),
        (FaultKind::Truncated, N)
    );
}

#[test]
fn a_wrong_key_is_reported_as_such() {
    let wrong = AuditKey::from_secret(&Secret32::from_bytes([1; 32]));
    let err = verify(TENANT, &base().0, &wrong, None).unwrap_err();
    assert_eq!(err.fault(), Some((FaultKind::WrongKey, 1)));
    assert_eq!(err.code(), "audit.wrong_key");
    assert!(err.to_string().contains(wrong.key_id()), "{err}");

    // A checkpoint of the right chain, checked with the wrong audit key.
    let signer = signer();
    let trusted = signer
        .verifier()
        .check(
            &AuditChain::resume(key(), &base().1)
                .unwrap()
                .checkpoint(&signer, 1),
        )
        .unwrap();
    assert_eq!(
        fault(verify(TENANT, &base().0[..5], &wrong, Some(&trusted))),
        (FaultKind::WrongKey, N)
    );
}

#[test]
fn checkpoints_are_signed_over_every_field() {
    let signer = signer();
    let checkpoint = AuditChain::resume(key(), &base().1)
        .unwrap()
        .checkpoint(&signer, 1_800_000_000);
    let verifier = signer.verifier();
    assert!(verifier.check(&checkpoint).is_ok());
    let parsed = phylax_core::audit::CheckpointVerifier::parse(&signer.public_key()).unwrap();
    assert!(parsed.check(&checkpoint).is_ok());

    let mut tampered = checkpoint.clone();
    tampered.seq -= 1;
    let mut other_tenant = checkpoint.clone();
    other_tenant.tenant = "other".to_owned();
    let mut later = checkpoint.clone();
    later.time += 1;
    let mut bad_hash = checkpoint.clone();
    flip(&mut bad_hash.head_hash);
    let mut garbled = checkpoint.clone();
    garbled.signature = "not base64!".to_owned();
    for bad in [tampered, other_tenant, later, bad_hash, garbled] {
        let err = verifier.check(&bad).unwrap_err();
        assert_eq!(err.code(), "audit.bad_checkpoint", "{bad:?}");
    }
    let stranger = CheckpointSigner::from_secret(&Secret32::from_bytes([3; 32]));
    assert_eq!(
        stranger.verifier().check(&checkpoint).unwrap_err().code(),
        "audit.bad_checkpoint"
    );
    // Debug never shows the signing seed.
    assert!(!format!("{signer:?}").contains("9, 9"));
}

#[test]
fn canonical_bytes_do_not_depend_on_field_order_or_nulls() {
    let a: AuditEvent = serde_json::from_str(
        r#"{"tenant":"t","actor":{"id":"u1","role":"staff"},"action":"view","time":5,"outcome":"success","record":{"type":"patients","id":"p1"}}"#,
    )
    .unwrap();
    let b: AuditEvent = serde_json::from_str(
        r#"{ "record": {"id":"p1","type":"patients"}, "outcome":"success", "time":5,
             "action":"view", "actor":{"sourceIp":null,"role":"staff","id":"u1"}, "tenant":"t",
             "changedFields": [] }"#,
    )
    .unwrap();
    assert_eq!(a.canonical_bytes().unwrap(), b.canonical_bytes().unwrap());
    assert_eq!(
        String::from_utf8(a.canonical_bytes().unwrap()).unwrap(),
        r#"{"action":"view","actor":{"id":"u1","role":"staff"},"outcome":"success","record":{"id":"p1","type":"patients"},"tenant":"t","time":5}"#
    );
    // Unknown fields (say, a value smuggled in beside the names) are rejected.
    assert!(serde_json::from_str::<AuditEvent>(
        r#"{"tenant":"t","actor":{"id":"u"},"action":"view","time":5,"outcome":"success","oldValue":"x"}"#
    )
    .is_err());
}

#[test]
fn records_survive_a_json_round_trip_and_resume() {
    let base = &base().0[..500];
    let json = serde_json::to_string(base).unwrap();
    let back: Vec<AuditRecord> = serde_json::from_str(&json).unwrap();
    assert_eq!(verify(TENANT, &back, &key(), None).unwrap().verified, 500);

    // Verify in two pieces: the second from the first's head.
    let first = verify(TENANT, &back[..200], &key(), None).unwrap();
    let second = verify_from(&first.head, &back[200..], &key(), None).unwrap();
    assert_eq!(second.verified, 300);
    assert_eq!(second.head.seq, 500);
}

#[test]
fn bad_events_are_refused_before_they_enter_the_chain() {
    let mut chain = AuditChain::new(key(), TENANT).unwrap();
    let mut with_value = event(TENANT, 2);
    with_value.changed_fields = vec!["diagnosis=asthma".to_owned()];
    assert_eq!(
        chain.append(with_value).unwrap_err().code(),
        "audit.invalid_event"
    );
    assert_eq!(
        chain.append(event("other-clinic", 1)).unwrap_err().code(),
        "audit.invalid_event"
    );
    let mut anonymous = event(TENANT, 3);
    anonymous.actor.id.clear();
    assert_eq!(
        chain.append(anonymous).unwrap_err().code(),
        "audit.invalid_event"
    );
    assert_eq!(
        chain.head().seq,
        0,
        "refused events leave the chain unchanged"
    );
    assert!(AuditChain::new(key(), "").is_err());
    assert_eq!(
        AuditKey::parse("short").unwrap_err().code(),
        "audit.invalid_input"
    );
    assert!(!format!("{:?}", key()).contains("7, 7"));
}

#[test]
fn json_calls_append_and_verify() {
    let key = key();
    let request = format!(
        r#"{{"head": {}, "events": [{}, {}]}}"#,
        serde_json::to_string(&ChainHead::genesis(TENANT)).unwrap(),
        serde_json::to_string(&event(TENANT, 1)).unwrap(),
        serde_json::to_string(&event(TENANT, 2)).unwrap()
    );
    let req: AppendRequest = phylax_core::calls::parse_request(&request).unwrap();
    let appended = calls::append(&key, &req).unwrap();
    assert_eq!(appended.head.seq, 2);
    // The same records as appending directly.
    assert_eq!(appended.records[..], base().0[..2]);

    let signer = signer();
    let checkpoint = calls::checkpoint(
        &key,
        &signer,
        &calls::CheckpointRequest {
            head: appended.head.clone(),
            now: 10,
        },
    )
    .unwrap();
    let mut req = VerifyRequest {
        tenant: TENANT.to_owned(),
        records: appended.records.clone(),
        start: None,
        checkpoint: Some(checkpoint),
        checkpoint_public_key: Some(signer.public_key()),
        prune: None,
    };
    let answer = phylax_core::Answer::from_result(calls::verify(&key, &req));
    let json: serde_json::Value = serde_json::from_str(&answer.to_json()).unwrap();
    assert_eq!(json["ok"]["valid"], true);
    assert_eq!(json["ok"]["verified"], 2);

    req.records[1].event.time += 1;
    let json: serde_json::Value = serde_json::from_str(
        &phylax_core::Answer::from_result(calls::verify(&key, &req)).to_json(),
    )
    .unwrap();
    assert_eq!(json["ok"]["valid"], false);
    assert_eq!(json["ok"]["verified"], 1);
    assert_eq!(json["ok"]["fault"]["code"], "audit.modified");
    assert_eq!(json["ok"]["fault"]["kind"], "modified");
    assert_eq!(json["ok"]["fault"]["seq"], 2);

    req.checkpoint_public_key = None;
    let json: serde_json::Value = serde_json::from_str(
        &phylax_core::Answer::from_result(calls::verify(&key, &req)).to_json(),
    )
    .unwrap();
    assert_eq!(json["error"]["code"], "audit.invalid_input");

    let bad = phylax_core::calls::parse_request::<VerifyRequest>(
        r#"{"tenant":"t","records":[],"extra":1}"#,
    );
    assert_eq!(bad.unwrap_err().code, "request.malformed");
}
