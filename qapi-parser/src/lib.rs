//! Parser and checker for QEMU's QAPI schema language.
#![warn(missing_docs)]

pub mod doc;
mod error;
pub mod model;

pub use error::Error;
