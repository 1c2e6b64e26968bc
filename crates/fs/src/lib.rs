//! Layer streams to a merged filesystem view.
//!
//! [`read_image`] streams every layer of an image once — compressed digest, decompression
//! (gzip, zstd, none), diff-id and tar walk in one pass on a blocking thread, layers in
//! parallel — and merges them in order with whiteouts (`.wh.NAME`) and opaque directories
//! (`.wh..wh..opq`) applied, hard links and symlinks tracked. The result, a [`MergedFs`], has
//! metadata for every path and content only for the files a [`ContentRequest`] names, so memory
//! stays flat however large the image. [`export_tar`] writes the flattened filesystem as one
//! tar; [`read_layer`] lists what one layer's tar says, whiteouts included.
//!
//! ```no_run
//! # async fn f(src: &dyn plinth_oci::Source, m: &plinth_oci::ImageManifest,
//! #            c: &plinth_oci::ConfigFile) -> Result<(), plinth_fs::FsError> {
//! use plinth_fs::{ContentRequest, ReadOptions, read_image};
//! let req = ContentRequest::new().path("/etc/os-release").glob("/var/lib/dpkg/status.d/*");
//! let fs = read_image(src, m, c, &req, &ReadOptions::default()).await?;
//! let os_release = fs.read("/etc/os-release"); // symlinks followed inside the image
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod error;
mod export;
mod layer;
mod merge;
mod merged;
mod meta;
mod read;
mod request;

pub use error::FsError;
pub use export::{ExportStats, export_tar};
pub use merged::{LayerSummary, MergedFs};
pub use meta::{FileMeta, Kind, normalize};
pub use plinth_oci::Digest;
pub use read::{LayerChange, LayerMemo, ReadOptions, read_image, read_layer};
pub use request::ContentRequest;
