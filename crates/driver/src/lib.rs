//! Work in progress: see the issue tracker. This crate exposes nothing yet.
#![deny(missing_docs)]
