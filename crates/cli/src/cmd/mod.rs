//! One module per command.

pub mod build;
pub mod cache;
pub mod cat;
pub mod check;
pub mod compare;
pub mod copy;
pub mod diff;
pub mod digest;
pub mod export;
pub mod inspect;
pub mod lock;
pub mod ls;
pub mod manifest;
pub mod pin;
pub mod rebase;
pub mod reference;
pub mod refs;
pub mod sbom;
pub mod tags;
pub mod update;
