//! `WWW-Authenticate` challenges (RFC 7235), as registries send them.
//!
//! Hand-written: the header grammar is small, and the crates for it are unmaintained.

/// An authentication challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    /// `Bearer realm="…",service="…",scope="…"`: get a token from `realm`.
    Bearer {
        /// The token endpoint.
        realm: String,
        /// The service name to ask a token for.
        service: Option<String>,
        /// The scope the registry wants, if it says.
        scope: Option<String>,
    },
    /// `Basic realm="…"`: send credentials with every request.
    Basic,
}

/// Parses the first challenge plinth can answer (Bearer preferred over Basic).
pub fn parse(header: &str) -> Option<Challenge> {
    let mut basic = false;
    for (scheme, params) in split_challenges(header) {
        match scheme.to_ascii_lowercase().as_str() {
            "bearer" => {
                let get = |k: &str| {
                    params
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.clone())
                };
                if let Some(realm) = get("realm") {
                    return Some(Challenge::Bearer {
                        realm,
                        service: get("service"),
                        scope: get("scope"),
                    });
                }
            }
            "basic" => basic = true,
            _ => {}
        }
    }
    basic.then_some(Challenge::Basic)
}

type Params = Vec<(String, String)>;

/// Splits `Scheme k=v, k="v", Scheme2 k=v` into schemes with their parameters.
fn split_challenges(header: &str) -> Vec<(String, Params)> {
    let mut out: Vec<(String, Params)> = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        // A token followed by `=` is a parameter of the current scheme; otherwise a new scheme.
        let tok_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let tok = &rest[..tok_end];
        let after = rest[tok_end..].trim_start();
        if let Some(value_part) = after.strip_prefix('=')
            && !out.is_empty()
        {
            let value_part = value_part.trim_start();
            let (value, remaining) = if let Some(q) = value_part.strip_prefix('"') {
                let mut value = String::new();
                let mut chars = q.char_indices();
                let mut end = q.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                (value, &q[end.min(q.len())..])
            } else {
                let end = value_part.find(',').unwrap_or(value_part.len());
                (value_part[..end].trim().to_string(), &value_part[end..])
            };
            out.last_mut()
                .expect("checked")
                .1
                .push((tok.to_string(), value));
            rest = remaining;
        } else {
            if tok.is_empty() {
                break;
            }
            out.push((tok.to_string(), Vec::new()));
            rest = after;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_challenge() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull""#;
        assert_eq!(
            parse(h),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/python:pull".into()),
            })
        );
    }

    #[test]
    fn parses_basic_and_odd_spacing() {
        assert_eq!(
            parse(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        let h = r#"Basic realm="x", Bearer realm = "http://a/token" , service=svc"#;
        assert_eq!(
            parse(h),
            Some(Challenge::Bearer {
                realm: "http://a/token".into(),
                service: Some("svc".into()),
                scope: None
            })
        );
        assert_eq!(parse("Negotiate"), None);
        assert_eq!(parse(""), None);
        assert!(parse(r#"Bearer realm="unterminated"#).is_some());
    }
}
