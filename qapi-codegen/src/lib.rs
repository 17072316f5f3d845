//! Generates typed Rust bindings from checked QAPI schemas.
//!
//! The input is one or more releases of a schema (`qapi_parser`'s model,
//! plus the [`facts`] kept beside it); [`merge`] folds the releases into
//! one model that knows which release has what, and [`rust`] turns that
//! into Rust source: structs, enums, unions, alternates, one type per
//! command implementing `qmp_types::Command`, an `Event` enum and an
//! extension trait with one method per command. [`api`] lists and diffs
//! releases for humans.
//!
//! Architecture invariant: this crate produces source text only. It does
//! not depend on `qmp-types`; the code it writes does.
#![warn(missing_docs)]

pub mod api;
pub mod facts;
pub mod merge;
pub mod naming;
pub mod rust;

pub use merge::Release;
