//! Byte-exact edits of a file's text (and the line index of `plinth-dockerfile`, for spans).

pub(crate) use plinth_dockerfile::LineIndex;

/// One replacement of bytes `start..end` of a file by `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// First byte replaced.
    pub start: usize,
    /// One past the last byte replaced.
    pub end: usize,
    /// The new bytes.
    pub text: String,
}

/// Applies non-overlapping edits; every byte outside them is kept as it is.
pub(crate) fn apply(src: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(src.len() + edits.len() * 80);
    let mut at = 0;
    for e in sorted {
        out.push_str(&src[at..e.start]);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(&src[at..]);
    out
}

/// A unified diff of `old` → `new` with `a/NAME` and `b/NAME` headers, three lines of
/// context, as `diff -u` and `git apply` read it.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// Writes `text` to `path` through a temporary file beside it, then renames it over the
/// target, so a reader sees the old file or the new one, never a part. The file's
/// permissions are kept. Like git for working-tree files, it does not `fsync`: pinning a
/// tree of 200 Dockerfiles spent 0.6 s of its 1.1 s in `fsync` alone.
pub fn write_atomic(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.plinth-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        if let Ok(meta) = std::fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(text.as_bytes())?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns() {
        let src = "\u{feff}ab\r\nçd e\n";
        let idx = LineIndex::new(src);
        let s = idx.span(3, 5);
        assert_eq!((s.line, s.col, s.end_col), (1, 1, 3));
        let e = src.find('e').unwrap();
        let s = idx.span(e, e + 1);
        assert_eq!((s.line, s.col), (2, 4));
    }

    #[test]
    fn edits_keep_other_bytes() {
        let src = "a\r\nFROM x  \r\n# c\r\n";
        let at = src.find('x').unwrap();
        let out = apply(
            src,
            &[Edit {
                start: at + 1,
                end: at + 1,
                text: "@d".into(),
            }],
        );
        assert_eq!(out, "a\r\nFROM x@d  \r\n# c\r\n");
    }

    #[test]
    fn atomic_write_keeps_mode() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("Dockerfile");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, "new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
