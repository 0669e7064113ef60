#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| phylax_fuzz_targets::schema_text(data));
