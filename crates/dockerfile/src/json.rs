//! The JSON (exec) form of `RUN`, `CMD`, `COPY`… as BuildKit reads it.
//!
//! BuildKit calls Go's `encoding/json` to decode `[...]` into `[]any`. This module
//! reproduces what matters of that behaviour without recursion: the whole input is
//! validated first (any syntax error makes the instruction fall back to shell
//! form), nesting deeper than Go's 10 000 levels is a syntax error, lone UTF-16
//! surrogates decode to U+FFFD, and a valid array holding anything but strings is a
//! hard error.

/// One string element of a JSON array with its byte range in the parsed text
/// (the range covers the quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonString {
    pub value: String,
    pub start: usize,
    pub end: usize,
}

/// What a text that starts with `[` turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonArray {
    /// Valid JSON array of strings only.
    Strings(Vec<JsonString>),
    /// Valid JSON, but an element is not a string (BuildKit refuses the file).
    NotStringArray,
    /// Not valid JSON: BuildKit falls back to shell form.
    Invalid,
}

const MAX_DEPTH: usize = 10_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    Array,
    Object,
}

struct Cursor<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && matches!(self.s[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), ()> {
        if self.s[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(())
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<(), ()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(()),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(());
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(());
            }
        }
        Ok(())
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.s.get(at..at + 4)?;
        let mut v = 0u32;
        for &b in h {
            v = v * 16 + (b as char).to_digit(16)?;
        }
        Some(v)
    }

    /// Parses a string starting at the opening quote; returns its decoded value.
    fn string(&mut self) -> Result<String, ()> {
        debug_assert_eq!(self.peek(), Some(b'"'));
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(b) = self.peek() else { return Err(()) };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    let Some(e) = self.s.get(self.pos + 1).copied() else {
                        return Err(());
                    };
                    self.pos += 2;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let r = self.hex4(self.pos).ok_or(())?;
                            self.pos += 4;
                            if (0xd800..0xe000).contains(&r) {
                                // A valid pair is consumed whole; anything else is U+FFFD
                                // and the following escape is decoded on its own.
                                let pair = if self.s.get(self.pos) == Some(&b'\\')
                                    && self.s.get(self.pos + 1) == Some(&b'u')
                                {
                                    self.hex4(self.pos + 2)
                                } else {
                                    None
                                };
                                match pair {
                                    Some(r2)
                                        if (0xd800..0xdc00).contains(&r)
                                            && (0xdc00..0xe000).contains(&r2) =>
                                    {
                                        let c = 0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00);
                                        out.push(char::from_u32(c).unwrap_or('\u{fffd}'));
                                        self.pos += 6;
                                    }
                                    _ => out.push('\u{fffd}'),
                                }
                            } else {
                                out.push(char::from_u32(r).unwrap_or('\u{fffd}'));
                            }
                        }
                        _ => return Err(()),
                    }
                }
                0..=0x1f => return Err(()),
                _ => {
                    // Copy one whole UTF-8 character.
                    let ch = self.text[self.pos..].chars().next().ok_or(())?;
                    out.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
        }
    }
}

/// Decodes `text` (which must start with `[`) the way BuildKit's `parseJSON` does.
pub(crate) fn parse_array(text: &str) -> JsonArray {
    match parse_inner(text) {
        Ok(Some(v)) => JsonArray::Strings(v),
        Ok(None) => JsonArray::NotStringArray,
        Err(()) => JsonArray::Invalid,
    }
}

fn parse_inner(text: &str) -> Result<Option<Vec<JsonString>>, ()> {
    let mut c = Cursor {
        s: text.as_bytes(),
        text,
        pos: 0,
    };
    let mut stack: Vec<Container> = Vec::new();
    let mut elems: Vec<JsonString> = Vec::new();
    let mut all_strings = true;
    c.skip_ws();
    if c.peek() != Some(b'[') {
        return Err(());
    }
    // `expect_value`: the cursor is before a value (after skipping whitespace).
    let mut expect_value = true;
    loop {
        if expect_value {
            c.skip_ws();
            let start = c.pos;
            let direct = stack.len() == 1 && stack[0] == Container::Array;
            match c.peek().ok_or(())? {
                b'[' | b'{' => {
                    let kind = if c.peek() == Some(b'[') {
                        Container::Array
                    } else {
                        Container::Object
                    };
                    c.pos += 1;
                    stack.push(kind);
                    if stack.len() > MAX_DEPTH {
                        return Err(());
                    }
                    if direct {
                        all_strings = false;
                    }
                    c.skip_ws();
                    let close = if kind == Container::Array { b']' } else { b'}' };
                    if c.peek() == Some(close) {
                        c.pos += 1;
                        stack.pop();
                        expect_value = false;
                        if stack.is_empty() {
                            break;
                        }
                        continue;
                    }
                    if kind == Container::Object {
                        object_key(&mut c)?;
                    }
                    continue;
                }
                b'"' => {
                    let v = c.string()?;
                    if direct {
                        elems.push(JsonString {
                            value: v,
                            start,
                            end: c.pos,
                        });
                    }
                }
                b't' => c.literal(b"true")?,
                b'f' => c.literal(b"false")?,
                b'n' => c.literal(b"null")?,
                b'-' | b'0'..=b'9' => c.number()?,
                _ => return Err(()),
            }
            if direct && c.s[start] != b'"' {
                all_strings = false;
            }
            expect_value = false;
        }
        // After a value inside a container.
        c.skip_ws();
        let Some(top) = stack.last().copied() else {
            break;
        };
        match (top, c.peek().ok_or(())?) {
            (_, b',') => {
                c.pos += 1;
                if top == Container::Object {
                    c.skip_ws();
                    if c.peek() != Some(b'"') {
                        return Err(());
                    }
                    object_key(&mut c)?;
                }
                expect_value = true;
            }
            (Container::Array, b']') | (Container::Object, b'}') => {
                c.pos += 1;
                stack.pop();
                if stack.is_empty() {
                    break;
                }
            }
            _ => return Err(()),
        }
    }
    c.skip_ws();
    if c.pos != c.s.len() {
        return Err(());
    }
    Ok(if all_strings { Some(elems) } else { None })
}

/// Parses `"key" :` inside an object; leaves the cursor before the value.
fn object_key(c: &mut Cursor<'_>) -> Result<(), ()> {
    c.skip_ws();
    if c.peek() != Some(b'"') {
        return Err(());
    }
    c.string()?;
    c.skip_ws();
    if c.peek() != Some(b':') {
        return Err(());
    }
    c.pos += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(t: &str) -> Vec<String> {
        match parse_array(t) {
            JsonArray::Strings(v) => v.into_iter().map(|s| s.value).collect(),
            other => panic!("{t}: {other:?}"),
        }
    }

    #[test]
    fn arrays() {
        assert_eq!(strings("[]"), Vec::<String>::new());
        assert_eq!(strings("[ \"a\" , \"b\" ] "), vec!["a", "b"]);
        assert_eq!(
            strings(r#"["\" \\ \/ \b \f \n \r \t \u0000"]"#),
            vec!["\" \\ / \u{8} \u{c} \n \r \t \0"]
        );
        assert_eq!(
            strings(r#"["\ud83d\ude00", "\ud800x"]"#),
            vec!["😀", "\u{fffd}x"]
        );
        assert_eq!(
            parse_array(r#"[ "echo", [ "nested json" ] ]"#),
            JsonArray::NotStringArray
        );
        assert_eq!(
            parse_array(r#"[1, {"a": [true, null]}]"#),
            JsonArray::NotStringArray
        );
        assert_eq!(parse_array(r#"["a", "b""#), JsonArray::Invalid);
        assert_eq!(parse_array(r#"['a']"#), JsonArray::Invalid);
        assert_eq!(parse_array(r#"["a"] x"#), JsonArray::Invalid);
        assert_eq!(parse_array(r#"[01]"#), JsonArray::Invalid);
        assert_eq!(parse_array("[\"a\tb\"]"), JsonArray::Invalid);
        let deep = "[".repeat(20_000) + &"]".repeat(20_000);
        assert_eq!(parse_array(&deep), JsonArray::Invalid);
        let ok = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(parse_array(&ok), JsonArray::NotStringArray);
    }

    #[test]
    fn spans() {
        let JsonArray::Strings(v) = parse_array(r#"[ "ab", "c" ]"#) else {
            panic!()
        };
        assert_eq!((v[0].start, v[0].end), (2, 6));
        assert_eq!((v[1].start, v[1].end), (8, 11));
    }
}
