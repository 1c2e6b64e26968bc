//! Transfer progress bars on stderr (only on a terminal, and never with `--quiet`).

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use plinth_oci::manifest::Descriptor;
use plinth_oci::source::{BlobAction, NoProgress, Progress, SharedProgress};

/// Bars per blob under one multi-bar.
struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress for Bars {
    fn start(&self, desc: &Descriptor) {
        let bar = self.multi.add(ProgressBar::new(desc.size));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(desc.digest.short().to_string());
        self.bars
            .lock()
            .expect("not poisoned")
            .insert(desc.digest.to_string(), bar);
    }

    fn advance(&self, desc: &Descriptor, n: u64) {
        if let Some(b) = self
            .bars
            .lock()
            .expect("not poisoned")
            .get(&desc.digest.to_string())
        {
            b.inc(n);
        }
    }

    fn done(&self, desc: &Descriptor, how: BlobAction) {
        let bar = self
            .bars
            .lock()
            .expect("not poisoned")
            .remove(&desc.digest.to_string());
        let msg = match how {
            BlobAction::Copied => "copied",
            BlobAction::Mounted => "mounted",
            BlobAction::Exists => "exists",
        };
        match bar {
            Some(b) => b.finish_and_clear(),
            None => {
                let _ = self.multi.println(format!("{} {msg}", desc.digest.short()));
            }
        }
        if how == BlobAction::Copied {
            let _ = self.multi.println(format!("{} {msg}", desc.digest.short()));
        }
    }
}

/// Progress for a transfer: bars on a terminal, nothing otherwise.
pub fn for_transfer(quiet: bool) -> SharedProgress {
    if quiet || !std::io::stderr().is_terminal() {
        return Arc::new(NoProgress);
    }
    Arc::new(Bars {
        multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
        bars: Mutex::new(HashMap::new()),
    })
}
