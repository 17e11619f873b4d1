#![no_main]
//! cargo-fuzz target: see `mutualize_fuzz::allocate`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mutualize_fuzz::allocate(data));
