//! Here-documents: `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`, `3<<EOF`, several per line.

use crate::ast::{Args, Instruction, InstructionKind};
use crate::error::ErrorKind;
use crate::shell::Lexer;

/// A heredoc marker found on an instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    pub name: String,
    pub fd: u64,
    pub expand: bool,
    pub chomp: bool,
}

/// BuildKit's `canContainHeredoc`: RUN, COPY and ADD in shell form, also inside ONBUILD.
pub(crate) fn can_contain_heredoc(ins: &Instruction) -> bool {
    let ins = match &ins.args {
        Args::Onbuild(inner) if ins.kind == InstructionKind::Onbuild => inner,
        _ => ins,
    };
    matches!(
        ins.kind,
        InstructionKind::Run | InstructionKind::Copy | InstructionKind::Add
    ) && !ins.is_json()
}

/// BuildKit's `heredocsFromLine`: the markers in the order they appear.
pub(crate) fn markers_from_line(line: &str) -> Result<Vec<Marker>, ErrorKind> {
    let mut lx = Lexer::new('\\');
    lx.raw_quotes = true;
    lx.raw_escapes = true;
    lx.skip_unset_env = true;
    let empty: Vec<String> = Vec::new();
    let words = lx.process_words(line, &empty).unwrap_or_default();
    let mut out = Vec::new();
    for w in words {
        if let Some(m) = parse_marker(&w)? {
            out.push(m);
        }
    }
    Ok(out)
}

/// `^(\d*)<<(-?)([^<]*)$` then the delimiter's quoting decides expansion.
pub(crate) fn parse_marker(word: &str) -> Result<Option<Marker>, ErrorKind> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let Some(rest) = word[digits..].strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    // Go's strconv.ParseUint: empty is 0 (error ignored), overflow saturates.
    let fd = if digits == 0 {
        0
    } else {
        word[..digits].parse::<u64>().unwrap_or(u64::MAX)
    };
    let empty: Vec<String> = Vec::new();
    let mut lx = Lexer::new('\\');
    lx.skip_unset_env = true;
    let words = lx
        .process_words(rest, &empty)
        .map_err(|e| ErrorKind::HeredocDelimiter(e.message))?;
    if words.len() != 1 {
        return Ok(None);
    }
    lx.raw_quotes = true;
    let raw = lx
        .process_words(rest, &empty)
        .map_err(|e| ErrorKind::HeredocDelimiter(e.message))?;
    if raw.len() != words.len() {
        return Err(ErrorKind::HeredocDelimiter(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        )));
    }
    let quotes = |s: &str| s.matches(['\'', '"']).count();
    Ok(Some(Marker {
        name: words[0].clone(),
        fd,
        expand: quotes(&words[0]) == quotes(&raw[0]),
        chomp,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        let m = markers_from_line("RUN <<EOF <<-'END' 3<<\"X\" cat").unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(
            (m[0].name.as_str(), m[0].expand, m[0].chomp, m[0].fd),
            ("EOF", true, false, 0)
        );
        assert_eq!(
            (m[1].name.as_str(), m[1].expand, m[1].chomp),
            ("END", false, true)
        );
        assert_eq!((m[2].name.as_str(), m[2].expand, m[2].fd), ("X", false, 3));
        assert!(markers_from_line("RUN echo a<<b").unwrap().is_empty());
        assert!(markers_from_line("RUN cat <<").unwrap().is_empty());
    }
}
