#![no_main]

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run(
    "backup_manifest",
    data,
    harness::scratch()
));
