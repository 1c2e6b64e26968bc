//! One module per command.

pub mod cache;
pub mod copy;
pub mod digest;
pub mod manifest;
pub mod reference;
pub mod tags;
pub mod build;
pub mod rebase;
pub mod inspect;
pub mod sbom;
pub mod check;
pub mod lock;
pub mod pin;
pub mod refs;
pub mod update;
pub mod cat;
pub mod export;
pub mod ls;
