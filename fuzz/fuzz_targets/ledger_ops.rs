#![no_main]
//! cargo-fuzz target: see `mutualize_fuzz::ledger_ops`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| mutualize_fuzz::ledger_ops(data));
