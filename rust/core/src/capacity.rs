//! Sizes a caller gives (accounts, batch lengths, steps) are checked before anything is
//! allocated: a size beyond the address space is an [`Error::InvalidArgument`], and memory
//! is reserved fallibly, so a size the machine cannot hold is an [`Error::OutOfMemory`]
//! with nothing changed, never an abort of the host process. (An operating system that
//! overcommits memory can still grant a reservation it cannot back.)

use crate::error::{Error, Result};

/// The bytes of `count` items of `per_item` bytes, refused past the address space.
pub fn bytes(count: usize, per_item: usize, what: &'static str) -> Result<usize> {
    count
        .checked_mul(per_item)
        .filter(|&b| isize::try_from(b).is_ok())
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{count} {what} need more memory than an address space holds"
            ))
        })
}

/// Room for `extra` more items in `v`, reserved fallibly.
pub fn reserve<T>(v: &mut Vec<T>, extra: usize, what: &'static str) -> Result<()> {
    let per_item = std::mem::size_of::<T>();
    let needed = bytes(extra, per_item, what)?;
    v.try_reserve(extra).map_err(|_| Error::OutOfMemory {
        what,
        count: extra,
        bytes: needed,
    })
}

/// `n` copies of `value`, reserved fallibly.
pub fn filled<T: Clone>(n: usize, value: T, what: &'static str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    reserve(&mut v, n, what)?;
    v.resize(n, value);
    Ok(v)
}

/// A copy of `items`, reserved fallibly.
pub fn copied<T: Clone>(items: &[T], what: &'static str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    reserve(&mut v, items.len(), what)?;
    v.extend_from_slice(items);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn sizes_past_the_address_space_are_invalid() {
        assert!(bytes(usize::MAX / 2, 3, "x").is_err());
        assert_eq!(bytes(4, 8, "x").ok(), Some(32));
        let mut v: Vec<u64> = Vec::new();
        let err = reserve(&mut v, usize::MAX / 4, "things").err();
        assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::InvalidInput));
    }

    #[test]
    fn fallible_copies() {
        // (A reservation the allocator refuses is tested in a process with a limited
        // address space: tests/test_ledger_edges.py; some hosts grant any reservation.)
        assert_eq!(filled(3, 7u8, "x").ok(), Some(vec![7, 7, 7]));
        assert_eq!(copied(&[1, 2], "x").ok(), Some(vec![1, 2]));
    }
}
