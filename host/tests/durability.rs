//! SIGKILL in the middle of a stream of audit ingests and decryptions: after a restart
//! every acknowledged event is in the chain, and `phylax audit verify` accepts the export.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::Server;
use serde_json::{json, Value};

#[test]
fn acknowledged_events_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "--rate-limit-per-second",
        "100000",
        "--rate-limit-burst",
        "100000",
    ];
    let mut server = Server::start(&data, &args);
    server.create_tenant("acme");
    let key = server.api_key("acme", &["*"]);
    let ct = server
        .req(
            "POST",
            "/v1/tenants/acme/transit/encrypt",
            Some(&key),
            Some(r#"{"field":"patients.diagnosis","recordId":"r","plaintext":"x"}"#),
        )
        .json()["ok"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_owned();

    let acked_ingests = Mutex::new(BTreeSet::new());
    let acked_decrypts = Mutex::new(BTreeSet::new());
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(20);
    std::thread::scope(|s| {
        for worker in 0..4u32 {
            let (server, key, ct, acked_ingests, acked_decrypts, stop) =
                (&server, &key, &ct, &acked_ingests, &acked_decrypts, &stop);
            s.spawn(move || {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline && i < 2000 {
                    i += 1;
                    let id = format!("w{worker}-{i}");
                    if i % 2 == 0 {
                        let ev = json!({"tenant": "acme", "actor": {"id": "edge"}, "action": "view", "operation": id, "time": phylax_host::state::now(), "outcome": "success"});
                        let body = json!({"events": [ev]}).to_string();
                        let r = server.try_req_h("POST", "/v1/tenants/acme/audit/events", Some(key), Some(&body), &[]);
                        match r {
                            Ok(r) if r.status == 200 => {
                                acked_ingests.lock().unwrap().insert(id);
                            }
                            _ => break, // the server is gone
                        }
                    } else {
                        // The record id is the ciphertext's, so this decrypt fails -- still a PHI operation, audited.
                        let body = json!({"field": "patients.diagnosis", "recordId": if i % 4 == 1 { "r".to_owned() } else { id.clone() }, "ciphertext": ct}).to_string();
                        let r = server.try_req_h("POST", "/v1/tenants/acme/transit/decrypt", Some(key), Some(&body), &[]);
                        match r {
                            Ok(r) if r.status == 200 || r.status == 400 => {
                                acked_decrypts.lock().unwrap().insert(if i % 4 == 1 { None } else { Some(id) });
                            }
                            _ => break,
                        }
                    }
                }
            });
        }
        // Kill -9 once the stream is well under way.
        s.spawn(|| {
            while acked_ingests.lock().unwrap().len() < 150 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            let pid = server.child.id();
            let status = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            stop.store(true, Ordering::Relaxed);
        });
    });
    server.kill();
    let acked_ingests = acked_ingests.into_inner().unwrap();
    let acked_decrypts = acked_decrypts.into_inner().unwrap();
    assert!(
        acked_ingests.len() >= 150,
        "only {} ingests acknowledged",
        acked_ingests.len()
    );

    // Restart on the same data dir and export the chain.
    let server = Server::start(&data, &args);
    let export = server.req("GET", "/v1/tenants/acme/audit/export", Some(&key), None);
    assert_eq!(export.status, 200, "{}", export.text);
    let records: Vec<Value> = export
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ops: BTreeSet<String> = records
        .iter()
        .filter_map(|r| r["event"]["operation"].as_str().map(str::to_owned))
        .collect();
    let missing: Vec<_> = acked_ingests
        .iter()
        .filter(|id| !ops.contains(*id))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    let decrypted_ids: BTreeSet<String> = records
        .iter()
        .filter(|r| r["event"]["operation"] == "transit.decrypt")
        .filter_map(|r| r["event"]["record"]["id"].as_str().map(str::to_owned))
        .collect();
    for id in acked_decrypts.iter().flatten() {
        assert!(
            decrypted_ids.contains(id),
            "acknowledged decrypt {id} not audited"
        );
    }
    // Sequence numbers are dense and the chain verifies, on the server and offline.
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["seq"].as_u64().unwrap(), i as u64 + 1);
    }
    let v = server
        .req("POST", "/v1/tenants/acme/audit/verify", Some(&key), None)
        .json();
    assert_eq!(v["ok"]["valid"], true, "{v}");
    let file = dir.path().join("export.jsonl");
    // `phylax audit verify` on `text`, written as an export file.
    let verify_offline = |text: &str| {
        std::fs::write(&file, text).unwrap();
        std::process::Command::new(common::bin())
            .args(["audit", "verify"])
            .arg(&file)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap()
    };
    let out = verify_offline(&export.text);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(stdout.contains("verify"));
    // The verifier tells the server's own records from ingested ones.
    let ingested = records
        .iter()
        .filter(|r| r["event"]["recordedBy"]["origin"] == "ingested")
        .count();
    assert!(ingested > 0);
    assert!(
        stdout.contains(&format!(
            "written by the server: {}; ingested from credentials: {ingested}; unmarked: 0",
            records.len() - ingested
        )),
        "{stdout}"
    );
    // Passing an ingested record off as the server's breaks the chain.
    let forged = export
        .text
        .replacen("\"origin\":\"ingested\"", "\"origin\":\"server\"", 1);
    assert_ne!(forged, export.text);
    assert!(!verify_offline(&forged).status.success());
    // A tampered export fails, naming the record.
    let out = verify_offline(&export.text.replacen("\"edge\"", "\"edgy\"", 1));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("audit.modified"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
