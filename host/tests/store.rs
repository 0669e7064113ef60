//! The store suite, run against both backends: SQLite in a temp dir and a real
//! PostgreSQL server (`PHYLAX_TEST_POSTGRES`, a fresh database per test). The same test
//! bodies, parametrized by backend; nothing is mocked.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use phylax_host::store::{self, PolicyRow, Store, TenantRow, TenantState};

/// Opens one store (again: another "node" on it).
type Opener = Box<dyn Fn() -> Arc<dyn Store>>;

/// A fresh store of each backend: `(name, opener)`. The opener opens the same store
/// again (another "node" on it).
fn backends(tag: &str) -> Vec<(&'static str, Opener)> {
    let dir = tempfile::tempdir().unwrap().keep();
    let path = dir.join("phylax.db");
    let mut out: Vec<(&'static str, Opener)> = vec![(
        "sqlite",
        Box::new(move || {
            let url = format!("sqlite:{}", path.display());
            store::open(Some(&url), &dir, 4).unwrap()
        }),
    )];
    if let Some(base) = common::postgres() {
        let url = common::fresh_database(&base, tag);
        out.push((
            "postgres",
            Box::new(move || store::open(Some(&url), std::path::Path::new("."), 8).unwrap()),
        ));
    }
    out
}

fn tenant(id: &str) -> TenantRow {
    TenantRow::new(id, 10, format!("{{\"of\":\"{id}\"}}"))
}

/// A chain builder that appends one record after the head (the transitions' audit
/// record), as the lifecycle does.
fn one_record(tenant: &str, head: Option<(u64, String)>) -> Vec<(u64, String)> {
    let seq = head.map_or(1, |(s, _)| s + 1);
    vec![(seq, format!("{{\"tenant\":\"{tenant}\",\"seq\":{seq}}}"))]
}

#[test]
fn rows_round_trip_and_record_changes() {
    for (name, open) in backends("rows") {
        let s = open();
        let (v0, none) = s.changes_since(u64::MAX, 0).unwrap();
        assert!(none.is_empty());
        assert!(s.create_tenant(&tenant("acme")).unwrap(), "{name}");
        assert!(!s.create_tenant(&tenant("acme")).unwrap(), "{name}: taken");
        assert!(s.create_tenant(&tenant("beta")).unwrap());
        assert_eq!(s.tenant("acme").unwrap().unwrap(), tenant("acme"));
        assert_eq!(s.tenant("nobody").unwrap(), None);
        assert_eq!(s.tenants().unwrap().len(), 2);

        assert_eq!(s.put_policies("acme", "[1]", 20).unwrap(), 1, "{name}");
        assert_eq!(s.put_policies("acme", "[2]", 21).unwrap(), 2);
        assert_eq!(s.policies("acme", None).unwrap().unwrap().files, "[2]");
        assert_eq!(s.policies("acme", Some(1)).unwrap().unwrap().files, "[1]");
        assert_eq!(s.policies("acme", Some(9)).unwrap(), None);
        assert_eq!(s.policy_versions("acme").unwrap().len(), 2);

        s.put_api_keys("acme", &[("k1".into(), "{\"r\":1}".into())])
            .unwrap();
        s.put_api_keys("acme", &[("k1".into(), "{\"r\":2}".into())])
            .unwrap();
        assert_eq!(
            s.api_key("k1").unwrap(),
            Some(("acme".into(), "{\"r\":2}".into()))
        );
        assert_eq!(s.api_keys("acme").unwrap(), vec!["{\"r\":2}".to_owned()]);

        // A keyring is replaced only over the one it was made from.
        let beta = tenant("beta").keyring;
        assert!(
            s.update_keyring("beta", &beta, "{\"rotated\":1}").unwrap(),
            "{name}"
        );
        assert!(
            !s.update_keyring("beta", &beta, "{\"lost\":1}").unwrap(),
            "{name}: stale"
        );
        assert_eq!(
            s.tenant("beta").unwrap().unwrap().keyring,
            "{\"rotated\":1}"
        );
        // An API key record is swapped only if unchanged.
        assert!(!s
            .swap_api_keys(
                "acme",
                "k1",
                "{\"r\":1}",
                &[("k1".into(), "{\"lost\":1}".into())]
            )
            .unwrap());
        assert!(
            !s.swap_api_keys(
                "beta",
                "k1",
                "{\"r\":2}",
                &[("k1".into(), "{\"lost\":1}".into())]
            )
            .unwrap(),
            "{name}: another tenant's key"
        );
        assert!(s
            .swap_api_keys(
                "acme",
                "k1",
                "{\"r\":2}",
                &[
                    ("k1".into(), "{\"r\":3}".into()),
                    ("k2".into(), "{\"new\":1}".into())
                ]
            )
            .unwrap());
        let revoked = [("k1".to_owned(), "{\"revoked\":1}".to_owned())];
        let shred = store::Transition {
            tenant: "acme",
            from: TenantState::Active,
            due_by: None,
            to: TenantState::Shredded,
            offboarding_since: None,
            shred_due_at: None,
            deleted_at: Some(30),
            keyring: Some("{\"destroyed\":1}"),
            revoked_keys: &revoked,
        };
        assert!(
            s.transition_tenant(&shred, &mut one_record).unwrap(),
            "{name}"
        );
        // A second shred finds the tenant no longer active: nothing written.
        assert!(
            !s.transition_tenant(&shred, &mut one_record).unwrap(),
            "{name}"
        );
        // A transition whose audit record cannot be built is not applied.
        let mut none = |_: &str, _: Option<(u64, String)>| Vec::new();
        let back = store::Transition {
            from: TenantState::Shredded,
            to: TenantState::Active,
            ..shred
        };
        assert!(s.transition_tenant(&back, &mut none).is_err(), "{name}");
        assert_eq!(
            s.tenant("acme").unwrap().unwrap().life.state,
            TenantState::Shredded
        );
        let acme = s.tenant("acme").unwrap().unwrap();
        assert_eq!(acme.deleted_at, Some(30));
        // No rotation lands on an offboarded tenant, even one read before it.
        assert!(
            !s.update_keyring("acme", "{\"destroyed\":1}", "{\"back\":1}")
                .unwrap(),
            "{name}"
        );
        assert_eq!(acme.keyring, "{\"destroyed\":1}");
        // Offboarded tenants have no current policies.
        assert!(s.current_policies().unwrap().is_empty(), "{name}");
        s.put_setting("a", "1").unwrap();
        s.put_setting("a", "2").unwrap();
        assert_eq!(s.setting("a").unwrap().as_deref(), Some("2"));
        assert_eq!(s.settings().unwrap(), vec![("a".into(), "2".into())]);

        // Every write is one change, in commit order, with no gap.
        let (now, changes) = s.changes_since(v0, 1000).unwrap();
        let kinds: Vec<(String, String)> = changes
            .iter()
            .map(|c| (c.kind.clone(), c.subject.clone()))
            .collect();
        let expected: Vec<(String, String)> = [
            ("tenant", "acme"),
            ("tenant", "beta"),
            ("policies", "acme"),
            ("policies", "acme"),
            ("api_key", "k1"),
            ("api_key", "k1"),
            ("keyring", "beta"),
            ("api_key", "k1"),
            ("api_key", "k2"),
            ("tenant", "acme"),
            ("api_key", "k1"),
            ("setting", "a"),
            ("setting", "a"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        assert_eq!(kinds, expected, "{name}");
        assert_eq!(now, v0 + expected.len() as u64);
        let versions: Vec<u64> = changes.iter().map(|c| c.version).collect();
        assert_eq!(versions, ((v0 + 1)..=now).collect::<Vec<_>>(), "{name}");
        // Paged reads, and nothing after the newest.
        assert_eq!(s.changes_since(v0, 3).unwrap().1.len(), 3);
        assert!(s.changes_since(now, 1000).unwrap().1.is_empty());
    }
}

#[test]
fn copies_are_idempotent() {
    for (name, open) in backends("copy") {
        let s = open();
        let mut row = tenant("acme");
        row.deleted_at = Some(5);
        s.put_tenant_row(&row).unwrap();
        s.put_tenant_row(&row).unwrap();
        assert_eq!(s.tenant("acme").unwrap().unwrap(), row, "{name}");
        let p = PolicyRow {
            tenant: "acme".into(),
            version: 3,
            created_at: 7,
            files: "[]".into(),
        };
        s.put_policy_row(&p).unwrap();
        s.put_policy_row(&PolicyRow {
            files: "[\"other\"]".into(),
            ..p.clone()
        })
        .unwrap();
        assert_eq!(s.policies("acme", Some(3)).unwrap().unwrap(), p, "{name}");
    }
}

/// A chain of test records: `seq:previous` (what the builder of a real chain does with
/// hashes), so a fork or a gap shows in the text.
/// A stand-in record: JSON, as every stored record is (the database reads the audit
/// filter columns out of it).
fn rec(text: &str) -> String {
    format!("{{\"t\":\"{text}\"}}")
}

fn link(head: Option<(u64, String)>, n: usize) -> Vec<(u64, String)> {
    let (mut seq, mut prev) = head.map_or((0, "genesis".to_owned()), |(s, r)| (s, r));
    (0..n)
        .map(|_| {
            seq += 1;
            let text = rec(&format!("{seq}:{}", prev.len()));
            prev = text.clone();
            (seq, text)
        })
        .collect()
}

#[test]
fn chain_heads_are_locked_across_stores() {
    for (name, open) in backends("chains") {
        // Four "nodes", each its own store on the same database, append at once.
        let nodes: Vec<Arc<dyn Store>> = (0..4).map(|_| open()).collect();
        let tenants = vec!["a".to_owned(), "b".to_owned()];
        std::thread::scope(|scope| {
            for node in &nodes {
                let tenants = &tenants;
                scope.spawn(move || {
                    for round in 0..40 {
                        node.append_audit_locked(tenants, &mut |_t, head| {
                            link(head, 1 + round % 3)
                        })
                        .unwrap();
                    }
                });
            }
        });
        for t in &tenants {
            let rows = nodes[0].audit_page(t, 0, 10_000).unwrap();
            let expected: u64 = 4 * (0..40u64).map(|r| 1 + r % 3).sum::<u64>();
            let seqs: Vec<u64> = rows.iter().map(|(s, _)| *s).collect();
            assert_eq!(
                seqs,
                (1..=expected).collect::<Vec<_>>(),
                "{name}: gap or duplicate"
            );
            // Each record links to the one before it: no fork.
            let mut prev = "genesis".to_owned();
            for (seq, text) in &rows {
                assert_eq!(
                    text,
                    &rec(&format!("{seq}:{}", prev.len())),
                    "{name}: fork at {seq}"
                );
                prev = text.clone();
            }
            assert_eq!(nodes[1].last_audit(t).unwrap().unwrap(), prev);
        }
        // The (tenant, seq) key is the backstop: a taken seq is refused, nothing kept.
        let s = &nodes[0];
        assert!(s.append_audit("a", &[(1, rec("again"))]).is_err(), "{name}");
        assert!(s
            .append_audit_locked(&["a".into()], &mut |_, _| vec![(1, rec("x"))])
            .is_err());
        let after: BTreeSet<String> = s
            .audit_page("a", 0, 10_000)
            .unwrap()
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        assert!(
            !after.contains(&rec("again")) && !after.contains(&rec("x")),
            "{name}"
        );
        // A failed batch rolls back every tenant of it.
        let before_b = s.audit_page("b", 0, 10_000).unwrap().len();
        assert!(s
            .append_audit_locked(&["b".into(), "a".into()], &mut |t, head| {
                if t == "a" {
                    vec![(1, rec("dup"))]
                } else {
                    link(head, 1)
                }
            })
            .is_err());
        assert_eq!(
            s.audit_page("b", 0, 10_000).unwrap().len(),
            before_b,
            "{name}"
        );
    }
}

#[test]
fn nodes_starting_at_once_migrate_once() {
    let Some(base) = common::postgres() else {
        return;
    };
    let url = common::fresh_database(&base, "migrate");
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let url = &url;
                scope
                    .spawn(move || store::open(Some(url), std::path::Path::new("."), 2).map(|_| ()))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
    });
    assert_eq!(
        common::psql(&url, "SELECT count(*) FROM phylax_migrations"),
        phylax_host::store::postgres::MIGRATION_COUNT.to_string()
    );
}

#[test]
fn an_unreachable_database_is_unavailable_and_passwords_are_never_shown() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://phylax:s3cret-pw@127.0.0.1:{port}/phylax");
    let err = store::open(Some(&url), std::path::Path::new("."), 2).unwrap_err();
    assert!(err.unavailable, "{err}");
    assert!(!err.message.contains("s3cret-pw"), "{err}");
    assert!(err.message.contains("phylax:***@127.0.0.1"), "{err}");
    // An unknown scheme is refused, not guessed.
    let err = store::open(Some("mysql://x@y/z"), std::path::Path::new("."), 2).unwrap_err();
    assert!(
        !err.unavailable && err.message.contains("unknown store URL"),
        "{err}"
    );
    assert_eq!(
        store::redact_url("postgres://u:p@h:5/d?sslmode=require&password=p2"),
        "postgres://u:***@h:5/d?sslmode=require&password=***"
    );
}

/// An audit record as stored: JSON with the event's filterable fields.
fn audit_json(seq: u64, actor: &str, outcome: &str, record: Option<&str>, time: u64) -> String {
    let record = record.map_or(String::new(), |id| {
        format!(",\"record\":{{\"type\":\"Patient\",\"id\":\"{id}\"}}")
    });
    format!(
        "{{\"seq\":{seq},\"event\":{{\"tenant\":\"a\",\"actor\":{{\"id\":\"{actor}\",\"role\":\"staff\",\"sourceIp\":\"10.0.0.{}\"}},\"action\":\"view\",\"operation\":\"chart.read\",\"time\":{time},\"outcome\":\"{outcome}\"{record}}}}}",
        seq % 4
    )
}

#[test]
fn audit_filters_and_cursors_run_in_the_database() {
    use phylax_host::store::{AuditCursor, AuditFilter};
    for (name, open) in backends("audit_filters") {
        let s = open();
        let rows: Vec<(u64, String)> = (1..=60u64)
            .map(|seq| {
                let actor = ["ann", "bob", "cy"][(seq % 3) as usize];
                let outcome = if seq % 7 == 0 { "denied" } else { "success" };
                let record = (seq % 5 == 0).then(|| format!("p{}", seq % 2));
                (
                    seq,
                    audit_json(seq, actor, outcome, record.as_deref(), 1000 + seq),
                )
            })
            .collect();
        s.append_audit("a", &rows).unwrap();
        s.append_audit("other", &[(1, audit_json(1, "ann", "denied", None, 1))])
            .unwrap();
        let seqs = |f: &AuditFilter, c: AuditCursor, limit: u32| -> Vec<u64> {
            s.audit_search("a", f, c, limit)
                .unwrap()
                .into_iter()
                .map(|(q, _)| q)
                .collect()
        };
        let expect = |pred: &dyn Fn(u64) -> bool| -> Vec<u64> {
            (1..=60u64).rev().filter(|q| pred(*q)).collect()
        };
        let all = AuditFilter::default();
        assert_eq!(
            seqs(&all, AuditCursor::Before(None), 1000),
            expect(&|_| true),
            "{name}"
        );
        assert_eq!(
            seqs(&all, AuditCursor::After(55), 3),
            vec![56, 57, 58],
            "{name}"
        );
        assert_eq!(
            seqs(&all, AuditCursor::Before(Some(4)), 10),
            vec![3, 2, 1],
            "{name}"
        );
        let f = AuditFilter {
            actor: Some("bob".into()),
            ..AuditFilter::default()
        };
        assert_eq!(
            seqs(&f, AuditCursor::Before(None), 1000),
            expect(&|q| q % 3 == 1),
            "{name}"
        );
        let f = AuditFilter {
            actor: Some("bob".into()),
            outcome: Some("denied".into()),
            ..AuditFilter::default()
        };
        assert_eq!(
            seqs(&f, AuditCursor::Before(None), 1000),
            expect(&|q| q % 3 == 1 && q % 7 == 0),
            "{name}"
        );
        let f = AuditFilter {
            record_type: Some("Patient".into()),
            record_id: Some("p1".into()),
            ..AuditFilter::default()
        };
        assert_eq!(
            seqs(&f, AuditCursor::Before(None), 1000),
            expect(&|q| q % 5 == 0 && q % 2 == 1),
            "{name}"
        );
        let f = AuditFilter {
            source_ip: Some("10.0.0.2".into()),
            from: Some(1010),
            to: Some(1030),
            ..AuditFilter::default()
        };
        assert_eq!(
            seqs(&f, AuditCursor::Before(None), 1000),
            expect(&|q| q % 4 == 2 && (10..=30).contains(&q)),
            "{name}"
        );
        // Paging newest first with the last seq as the cursor walks every match once.
        let f = AuditFilter {
            outcome: Some("success".into()),
            ..AuditFilter::default()
        };
        let mut walked: Vec<u64> = Vec::new();
        let mut cursor = AuditCursor::Before(None);
        loop {
            let page = seqs(&f, cursor, 7);
            walked.extend(&page);
            match page.last() {
                Some(last) if page.len() == 7 => cursor = AuditCursor::Before(Some(*last)),
                _ => break,
            }
        }
        assert_eq!(walked, expect(&|q| q % 7 != 0), "{name}");
        // A value is bound, never spliced into the query text.
        let f = AuditFilter {
            actor: Some("ann' OR '1'='1".into()),
            ..AuditFilter::default()
        };
        assert!(
            seqs(&f, AuditCursor::Before(None), 1000).is_empty(),
            "{name}"
        );
        // Another tenant's records never match.
        let f = AuditFilter {
            outcome: Some("denied".into()),
            to: Some(1),
            ..AuditFilter::default()
        };
        assert!(
            seqs(&f, AuditCursor::Before(None), 1000).is_empty(),
            "{name}"
        );
    }
}
