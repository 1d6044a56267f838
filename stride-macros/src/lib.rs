//! The `network!` macro of stride. Depend on the `stride` crate, which re-exports it.
