//! Field encryption end to end: a tenant keyring, a patient record encrypted with a
//! searchable email, a key rotation with rewrap, and crypto-shredding on offboarding.
//!
//! Run with: `cargo run -p phylax-core --example field_encryption`

#![allow(clippy::indexing_slicing, reason = "an example reads known keys")]

use phylax_core::crypto::{FieldSpec, IndexSpec, Keyring, Normalization, RecordSpec, RootKey};
use phylax_core::Diagnostic;
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = 1_700_000_000;

    // 1. The operator's root key. This one is public and for demos only; production
    //    reads 32 random bytes from `PHYLAX_ROOT_KEY` or a key file.
    let root = RootKey::insecure_dev_key()?;

    // 2. A keyring for one tenant: random data and index keys, stored only wrapped.
    let mut keyring = Keyring::create("acme-clinic", &root, now)?;
    println!("stored keyring: {}", keyring.to_json());

    // 3. Which fields of a patient record are PHI, and which are searchable.
    let spec = RecordSpec {
        name: "patients".into(),
        fields: vec![
            FieldSpec {
                pointer: "/diagnosis".into(),
                index: None,
            },
            FieldSpec {
                pointer: "/email".into(),
                index: Some(IndexSpec::new(Normalization::Email)),
            },
        ],
    };
    let record =
        json!({"id": "p-42", "name": "Ann", "diagnosis": "J45.909", "email": "Ann@Example.org"});

    // 4. Encrypt the record in one call; store the blind index in a searchable column.
    let sealed = keyring.encrypt_record(&spec, "p-42", &record)?;
    println!("encrypted record: {}", sealed.record);
    println!("email index:      {:?}", sealed.indexes.get("/email"));

    // 5. Search by email: the index of the search term matches, whatever its case.
    let probe = keyring.blind_index(
        "patients.email",
        "ann@example.ORG",
        &IndexSpec::new(Normalization::Email),
    )?;
    println!(
        "search term index matches: {}",
        Some(&probe) == sealed.indexes.get("/email")
    );

    // 6. Rotate the data key; old ciphertexts still decrypt and can be rewrapped.
    keyring.rotate(&root, now + 60)?;
    let diagnosis = sealed.record["diagnosis"].as_str().unwrap_or_default();
    println!(
        "needs rewrap after rotation: {}",
        keyring.needs_rewrap(diagnosis)?
    );
    let rewrapped = keyring.rewrap("patients.diagnosis", "p-42", diagnosis)?;
    println!(
        "needs rewrap after rewrap:   {}",
        keyring.needs_rewrap(&rewrapped)?
    );

    // 7. Decrypt the record for a reader allowed to see only the email.
    let readable = ["/email".to_string()].into_iter().collect();
    let opened = keyring.decrypt_record(&spec, "p-42", &sealed.record, Some(&readable))?;
    println!("decrypted (email only): {opened}");

    // 8. Offboard the tenant: destroy its keys; every ciphertext is now unreadable.
    keyring.destroy(now + 120);
    match keyring.decrypt_field("patients.diagnosis", "p-42", &rewrapped) {
        Err(err) => println!("after destroy: {} ({})", err, err.code()),
        Ok(_) => return Err("a destroyed keyring decrypted a value".into()),
    }
    Ok(())
}
