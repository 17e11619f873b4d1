#![no_main]
//! cargo-fuzz target: see `mutualize_fuzz::snapshot`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mutualize_fuzz::snapshot(data));
