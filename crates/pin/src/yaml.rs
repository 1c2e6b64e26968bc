//! `image:` values of compose files and Kubernetes manifests, with byte spans.
//!
//! Rewriting a YAML file in place needs the exact bytes of each `image:` scalar, so this
//! reads the file with `saphyr-parser`, a YAML 1.2 event parser that reports a position for
//! every event, rather than with a serde deserializer (which keeps no positions) or a line
//! scanner (which would misread flow mappings, multi-document streams, comments and quoted
//! keys). The parser's markers count characters; they are mapped to byte offsets here and
//! every scalar's bytes are checked against its value before a span is trusted.

use plinth_dockerfile::Span;
use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::text::LineIndex;

/// A node of a YAML document, just enough to find `image:` values.
#[derive(Debug)]
enum Node {
    Scalar(Scalar),
    Map(Vec<(Node, Node)>),
    Seq(Vec<Node>),
    /// Aliases and anything else plinth does not follow.
    Other,
}

/// A scalar with where it is.
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    /// The value (quotes and escapes processed).
    pub value: String,
    /// The whole scalar in the source, quotes included.
    pub span: Span,
    /// The bytes of the value alone when they can be replaced verbatim (plain scalars, and
    /// quoted ones without escapes); `None` for block scalars and escaped text.
    pub value_span: Option<Span>,
}

impl Node {
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(pairs) => pairs.iter().find_map(|(k, v)| match k {
                Node::Scalar(s) if s.value == key => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    fn scalar(&self) -> Option<&Scalar> {
        match self {
            Node::Scalar(s) => Some(s),
            _ => None,
        }
    }
}

/// A container being built.
enum Frame {
    Map {
        pairs: Vec<(Node, Node)>,
        key: Option<Node>,
    },
    Seq(Vec<Node>),
}

/// Reads every document of a YAML stream. Errors carry `line:col: message`.
fn documents(src: &str) -> Result<Vec<Node>, String> {
    let index = LineIndex::new(src);
    // Character index → byte offset (the parser's markers count characters).
    let mut offsets: Vec<usize> = src.char_indices().map(|(i, _)| i).collect();
    offsets.push(src.len());
    let byte = |ci: usize| offsets.get(ci).copied().unwrap_or(src.len());
    let mut parser = Parser::new_from_str(src);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| {
            let m = e.marker();
            format!("{}:{}: {}", m.line(), m.col() + 1, e.info())
        })?;
        let node = match ev {
            Event::StreamStart | Event::Nothing => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                root = None;
                continue;
            }
            Event::DocumentEnd => {
                docs.push(root.take().unwrap_or(Node::Other));
                continue;
            }
            Event::MappingStart(..) => {
                stack.push(Frame::Map {
                    pairs: Vec::new(),
                    key: None,
                });
                continue;
            }
            Event::SequenceStart(..) => {
                stack.push(Frame::Seq(Vec::new()));
                continue;
            }
            Event::MappingEnd | Event::SequenceEnd => match stack.pop() {
                Some(Frame::Map { pairs, .. }) => Node::Map(pairs),
                Some(Frame::Seq(items)) => Node::Seq(items),
                None => return Err("unbalanced YAML events".into()),
            },
            Event::Alias(_) => Node::Other,
            Event::Scalar(value, style, _, _) => {
                let (start, end) = (byte(span.start.index()), byte(span.end.index()));
                Node::Scalar(scalar(src, &index, value.into_owned(), style, start, end))
            }
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(items)) => items.push(node),
            Some(Frame::Map { pairs, key }) => match key.take() {
                None => *key = Some(node),
                Some(k) => pairs.push((k, node)),
            },
        }
    }
    Ok(docs)
}

fn scalar(
    src: &str,
    index: &LineIndex,
    value: String,
    style: ScalarStyle,
    start: usize,
    end: usize,
) -> Scalar {
    // The parser's end marker of a quoted scalar can run past the closing quote (over
    // trailing blanks and a comment), so the closing quote is found here.
    let rest = src.get(start..).unwrap_or("");
    let close = |q: char| -> Option<usize> {
        let mut it = rest.char_indices().skip(1).peekable();
        while let Some((i, c)) = it.next() {
            if c == q {
                if q == '\'' && it.peek().is_some_and(|&(_, n)| n == '\'') {
                    it.next();
                    continue;
                }
                return Some(i);
            }
            if q == '"' && c == '\\' {
                it.next();
            }
        }
        None
    };
    let (end, value_span) = match style {
        ScalarStyle::Plain => {
            let raw = src.get(start..end).unwrap_or("");
            (end, (raw == value).then_some((start, end)))
        }
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => {
            let q = if style == ScalarStyle::SingleQuoted {
                '\''
            } else {
                '"'
            };
            match close(q).filter(|_| rest.starts_with(q)) {
                Some(c) => {
                    let inner = &rest[1..c];
                    let verbatim = inner == value && !(q == '"' && inner.contains('\\'));
                    (start + c + 1, verbatim.then_some((start + 1, start + c)))
                }
                None => (end, None),
            }
        }
        _ => (end, None),
    };
    Scalar {
        value,
        span: index.span(start, end),
        value_span: value_span.map(|(a, b)| index.span(a, b)),
    }
}

/// The `image:` scalars of a compose file (`services.*.image`).
pub(crate) fn compose_images(src: &str) -> Result<Vec<Scalar>, String> {
    let mut out = Vec::new();
    for doc in documents(src)? {
        if let Some(Node::Map(services)) = doc.get("services") {
            for (_, svc) in services {
                if let Some(s) = svc.get("image").and_then(Node::scalar) {
                    out.push(s.clone());
                }
            }
        }
    }
    Ok(out)
}

/// The container `image:` scalars of every Kubernetes object in a YAML stream (documents
/// with `apiVersion` and `kind`): items of `containers`, `initContainers` and
/// `ephemeralContainers` sequences at any depth (Pods, workload templates, CronJobs, Lists).
/// `Ok(None)` when no document is a Kubernetes object.
pub(crate) fn kubernetes_images(src: &str) -> Result<Option<Vec<Scalar>>, String> {
    let mut out = Vec::new();
    let mut any = false;
    for doc in documents(src)? {
        if doc.get("apiVersion").is_some() && doc.get("kind").is_some() {
            any = true;
            containers(&doc, &mut out);
        }
    }
    Ok(any.then_some(out))
}

fn containers(node: &Node, out: &mut Vec<Scalar>) {
    match node {
        Node::Map(pairs) => {
            for (k, v) in pairs {
                let is_list = matches!(k, Node::Scalar(s)
                    if matches!(s.value.as_str(), "containers" | "initContainers" | "ephemeralContainers"));
                if is_list && let Node::Seq(items) = v {
                    for item in items {
                        if let Some(s) = item.get("image").and_then(Node::scalar) {
                            out.push(s.clone());
                        }
                    }
                }
                containers(v, out);
            }
        }
        Node::Seq(items) => items.iter().for_each(|i| containers(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_spans() {
        let src = "\u{feff}services:\r\n  web:\r\n    image: python:3.12 # c\r\n  db: {image: \"postgres:16\"}\r\n  odd:\r\n    image: 'a''b'\r\n  q:\r\n    image: 'c:1'   # c\r\n  r: {image: \"d:2\" }\r\n";
        let imgs = compose_images(src).unwrap();
        assert_eq!(imgs.len(), 5);
        let s = &imgs[0];
        assert_eq!(s.value, "python:3.12");
        let v = s.value_span.unwrap();
        assert_eq!(&src[v.start..v.end], "python:3.12");
        assert_eq!((v.line, v.col), (3, 12));
        let v = imgs[1].value_span.unwrap();
        assert_eq!(&src[v.start..v.end], "postgres:16");
        assert_eq!(imgs[1].span.text(src), "\"postgres:16\"");
        assert_eq!(imgs[2].value, "a'b");
        assert!(imgs[2].value_span.is_none());
        assert_eq!(imgs[3].value_span.unwrap().text(src), "c:1");
        assert_eq!(imgs[3].span.text(src), "'c:1'");
        assert_eq!(imgs[4].value_span.unwrap().text(src), "d:2");
    }

    #[test]
    fn kubernetes_containers() {
        let src = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: batch/v1\n  kind: CronJob\n  spec:\n    jobTemplate:\n      spec:\n        template:\n          spec:\n            initContainers:\n            - name: i\n              image: busybox:1.36\n            containers:\n            - name: c\n              image: \"nginx:1.27\"\n            - name: d\n              image: nginx:1.27\n---\n# not kubernetes\nfoo: {image: x}\n---\napiVersion: v1\nkind: Pod\nspec:\n  ephemeralContainers: [{name: e, image: debug:1}]\n  image: not-a-container\n";
        let imgs = kubernetes_images(src).unwrap().unwrap();
        let v: Vec<&str> = imgs.iter().map(|s| s.value.as_str()).collect();
        assert_eq!(v, ["busybox:1.36", "nginx:1.27", "nginx:1.27", "debug:1"]);
        assert!(kubernetes_images("a: 1\n").unwrap().is_none());
        assert!(kubernetes_images("a: [\n").is_err());
    }
}
