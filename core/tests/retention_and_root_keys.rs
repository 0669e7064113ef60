//! Pruned chains and root-key epochs: a chain pruned with a signed prune record
//! verifies from it; the same chain cut without one, or with a checkpoint passed off as
//! a prune, is truncation. A keyring re-wrapped under a new root key opens with it alone,
//! and names the key it needs.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use phylax_core::audit::{
    verify_retained, Action, Actor, AuditChain, AuditError, AuditEvent, AuditKey, CheckpointSigner,
    Outcome, PruneRecord,
};
use phylax_core::crypto::{Keyring, RootKey, RootKeys, Secret32};
use phylax_core::Diagnostic as _;

fn event(i: u64) -> AuditEvent {
    AuditEvent {
        tenant: "acme".into(),
        actor: Actor {
            id: format!("u{i}"),
            role: None,
            source_ip: None,
        },
        action: Action::View,
        operation: None,
        record: None,
        time: 1_700_000_000 + i,
        outcome: Outcome::Success,
        changed_fields: Vec::new(),
        decision: None,
        reason: None,
        recorded_by: None,
    }
}

#[test]
fn a_pruned_chain_verifies_only_from_its_signed_prune_record() {
    let (key, _) = AuditKey::generate().unwrap();
    let (signer, _) = CheckpointSigner::generate().unwrap();
    let mut chain = AuditChain::new(key.clone(), "acme").unwrap();
    let records: Vec<_> = (1..=10).map(|i| chain.append(event(i)).unwrap()).collect();
    let kept = &records[4..]; // seq 5..=10
    let prune = signer.sign_prune("acme", 5, &records[3].hash, key.key_id(), 99);
    let start = signer.verifier().check_prune(&prune).unwrap();
    let v = verify_retained("acme", kept, &key, Some(&start), None).unwrap();
    assert_eq!((v.verified, v.head.seq), (6, 10));

    // Cut without a prune record: truncation at the start.
    let e = verify_retained("acme", kept, &key, None, None).unwrap_err();
    assert_eq!(e, AuditError::TruncatedStart { first_seq: 5 });
    assert_eq!(e.code(), "audit.truncated");
    // A prune record claiming more was pruned than is missing: the gap is named.
    let far = signer.sign_prune("acme", 3, &records[1].hash, key.key_id(), 99);
    let start = signer.verifier().check_prune(&far).unwrap();
    let e = verify_retained("acme", kept, &key, Some(&start), None).unwrap_err();
    assert_eq!(e.code(), "audit.missing");
    // A checkpoint's signature is no prune record's (another domain), and any change to
    // the record breaks it.
    let cp = signer.sign(&chain.head(), key.key_id(), 99);
    let forged = PruneRecord {
        tenant: cp.tenant.clone(),
        first_kept_seq: cp.seq,
        prev_hash: cp.head_hash.clone(),
        key_id: cp.key_id.clone(),
        time: cp.time,
        signature: cp.signature.clone(),
    };
    assert_eq!(
        signer.verifier().check_prune(&forged).unwrap_err().code(),
        "audit.bad_checkpoint"
    );
    let mut moved = prune.clone();
    moved.first_kept_seq = 6;
    assert!(signer.verifier().check_prune(&moved).is_err());
}

#[test]
fn root_key_epochs() {
    let old = RootKey::from_secret(&Secret32::random().unwrap()).unwrap();
    let new = RootKey::from_secret(&Secret32::random().unwrap()).unwrap();
    assert_eq!(old.id().len(), 12);
    assert_ne!(old.id(), new.id());
    let keyring = Keyring::create("acme", &old, 1).unwrap();
    assert_eq!(keyring.state().root_key_id.as_deref(), Some(old.id()));
    let ct = keyring.encrypt_field("p.dx", "r1", b"secret").unwrap();

    let rewrapped = keyring.rewrapped_under(&new).unwrap();
    assert_eq!(rewrapped.root_key_id.as_deref(), Some(new.id()));
    let json = serde_json::to_string(&rewrapped).unwrap();
    // Opens with the new key alone; the old one is refused by id, before unwrapping.
    let opened = Keyring::open_json(&json, &new).unwrap();
    assert_eq!(
        &*opened.decrypt_field("p.dx", "r1", &ct).unwrap(),
        b"secret"
    );
    let e = Keyring::open_json(&json, &old).unwrap_err();
    assert_eq!(e.code(), "crypto.root_key_unknown");
    // A set of keys picks the one the keyring names.
    let old2 = RootKey::parse(&Secret32::random().unwrap().to_base64url()).unwrap();
    let both = RootKeys::new(vec![old2, new]).unwrap();
    assert!(Keyring::open_json_with(&json, &both).is_ok());
    let old_json = keyring.to_json();
    assert_eq!(
        Keyring::open_json_with(&old_json, &both)
            .unwrap_err()
            .code(),
        "crypto.root_key_unknown"
    );

    // Key material round trip (the export's sealed payload).
    let material = keyring.key_material().unwrap();
    let copy = Keyring::from_key_material(&material).unwrap();
    assert_eq!(&*copy.decrypt_field("p.dx", "r1", &ct).unwrap(), b"secret");
    assert!(Keyring::from_key_material("{\"tenant\":\"acme\"}").is_err());
}

#[test]
fn a_keyring_from_before_root_key_ids_opens_under_any_held_key_and_is_named_by_it() {
    let old = RootKey::from_secret(&Secret32::random().unwrap()).unwrap();
    let new = RootKey::from_secret(&Secret32::random().unwrap()).unwrap();
    let keyring = Keyring::create("acme", &old, 1).unwrap();
    let ct = keyring.encrypt_field("p.dx", "r1", b"secret").unwrap();
    let mut legacy = keyring.state().clone();
    legacy.root_key_id = None;
    let json = serde_json::to_string(&legacy).unwrap();
    // During a rotation the new key comes first: the old one still opens it.
    let roots = RootKeys::new(vec![
        RootKey::parse(&Secret32::random().unwrap().to_base64url()).unwrap(),
        RootKey::from_secret(&Secret32::random().unwrap()).unwrap(),
    ])
    .unwrap();
    assert!(
        Keyring::open_json_with(&json, &roots).is_err(),
        "no held key opens it"
    );
    let _ = new;
    let old_again = keyring.state().root_key_id.clone().unwrap();
    let both = RootKeys::new(vec![
        RootKey::from_secret(&Secret32::random().unwrap()).unwrap(),
        old,
    ])
    .unwrap();
    let opened = Keyring::open_json_with(&json, &both).unwrap();
    assert_eq!(
        &*opened.decrypt_field("p.dx", "r1", &ct).unwrap(),
        b"secret"
    );
    // Now it names the key that opened it, so a version added later matches.
    assert_eq!(
        opened.state().root_key_id.as_deref(),
        Some(old_again.as_str())
    );
}
