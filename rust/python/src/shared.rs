//! A ledger shared between Python threads, and the rule that keeps them from deadlocking.
//!
//! The rule (issue 9, item 1): never wait on the ledger's lock while attached to the
//! interpreter, and never run Python while holding it. A garbage-collection finalizer
//! can run at any Python allocation and call into this ledger, or hand the interpreter
//! to a thread that does; so:
//! - the lock is taken without waiting when it is free, else only after detaching;
//! - the work done under it is plain Rust (the closure is `Send`: it cannot hold a Python
//!   object), and its result is plain Rust data;
//! - Python objects for the result are built after the lock is released.
//!
//! A panic inside the work is caught before the guard drops, so the lock is never
//! poisoned; a poisoned lock would be recovered anyway. Either way the ledger stays
//! usable.

use crate::errors::{Kind, Raised};
use mutualize_core::Ledger;
use pyo3::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// The ledger behind its lock.
#[derive(Debug, Default)]
pub struct SharedLedger {
    inner: Mutex<Ledger>,
}

impl SharedLedger {
    /// Runs `work` on the ledger: the lock is taken at once when free (the work then runs
    /// attached: it is short and calls no Python), else waited for detached.
    pub fn run<T, F>(&self, py: Python<'_>, work: F) -> Result<T, Raised>
    where
        F: FnOnce(&mut Ledger) -> Result<T, Raised> + Send,
        T: Send,
    {
        match self.inner.try_lock() {
            Ok(guard) => guarded(guard, work),
            Err(TryLockError::Poisoned(p)) => guarded(self.recover(p), work),
            Err(TryLockError::WouldBlock) => py.detach(|| guarded(self.lock(), work)),
        }
    }

    /// Runs `work` detached from the interpreter for the wait and the work (heavy
    /// operations: other Python threads run meanwhile).
    pub fn run_detached<T, F>(&self, py: Python<'_>, work: F) -> Result<T, Raised>
    where
        F: FnOnce(&mut Ledger) -> Result<T, Raised> + Send,
        T: Send,
    {
        py.detach(|| guarded(self.lock(), work))
    }

    /// Replaces the whole ledger (a restore).
    pub fn replace(&self, py: Python<'_>, ledger: Ledger) -> Result<(), Raised> {
        self.run(py, |l| {
            *l = ledger;
            Ok(())
        })
    }

    /// Waits for the lock; only ever called detached.
    fn lock(&self) -> MutexGuard<'_, Ledger> {
        self.inner.lock().unwrap_or_else(|p| self.recover(p))
    }

    fn recover<'a>(
        &'a self,
        poisoned: PoisonError<MutexGuard<'a, Ledger>>,
    ) -> MutexGuard<'a, Ledger> {
        self.inner.clear_poison();
        poisoned.into_inner()
    }
}

/// Runs `work` under `guard`, turning a panic into an `InvariantError` before the guard
/// drops (a panic is a bug: the message says so, and what `check()` finds now).
fn guarded<T>(
    mut guard: MutexGuard<'_, Ledger>,
    work: impl FnOnce(&mut Ledger) -> Result<T, Raised>,
) -> Result<T, Raised> {
    match catch_unwind(AssertUnwindSafe(|| work(&mut guard))) {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown".to_owned());
            let state = match guard.check() {
                Ok(()) => "the ledger's invariants hold".to_owned(),
                Err(e) => format!("the ledger's invariants do not hold ({e})"),
            };
            Err(Raised::new(
                Kind::Invariant,
                format!("internal error (a bug in mutualize, please report it): {what}; {state}"),
            ))
        }
    }
}
