//! Credentials from Docker's and podman's files: `$REGISTRY_AUTH_FILE`, then
//! `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`).
//!
//! Within a file the precedence is Docker's: `credHelpers[host]`, then `credsStore`, then
//! `auths[host]`. Helpers are `docker-credential-<name>` programs run with a timeout. Secrets
//! never appear in errors or logs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

use crate::error::{RegistryError, Result};

/// A credential for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// User name and password (or personal access token).
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token endpoint.
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credential::IdentityToken(_) => write!(f, "IdentityToken(***)"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// Where credentials come from.
#[derive(Clone, Debug, Default)]
pub struct CredentialStore {
    files: Vec<PathBuf>,
    overrides: HashMap<String, Credential>,
}

/// The key Docker uses for Docker Hub in `auths`.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

impl CredentialStore {
    /// The files Docker and podman read, in order.
    pub fn from_env() -> CredentialStore {
        let mut files = Vec::new();
        if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE") {
            files.push(PathBuf::from(f));
        }
        let docker_dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| dirs::home_dir().map(|h| h.join(".docker")));
        if let Some(dir) = docker_dir {
            files.push(dir.join("config.json"));
        }
        CredentialStore {
            files,
            overrides: HashMap::new(),
        }
    }

    /// A store reading only the given files.
    pub fn from_files(files: Vec<PathBuf>) -> CredentialStore {
        CredentialStore {
            files,
            overrides: HashMap::new(),
        }
    }

    /// Uses `cred` for `registry`, ahead of any file (`--creds`).
    pub fn set(&mut self, registry: &str, cred: Credential) {
        self.overrides.insert(registry.to_string(), cred);
    }

    /// The credential for a registry (`docker.io`, `127.0.0.1:5000`), if any.
    pub async fn get(&self, registry: &str) -> Result<Option<Credential>> {
        if let Some(c) = self.overrides.get(registry) {
            return Ok(Some(c.clone()));
        }
        for path in &self.files {
            let bytes = match std::fs::read(path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(RegistryError::Config(format!(
                        "{}: cannot read: {e}",
                        path.display()
                    )));
                }
            };
            let file: ConfigFile = serde_json::from_slice(&bytes).map_err(|e| {
                RegistryError::Config(format!("{}: malformed JSON: {e}", path.display()))
            })?;
            if let Some(c) = lookup(&file, registry, path).await? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

/// The keys a registry may be stored under.
fn keys(registry: &str) -> Vec<String> {
    if registry == "docker.io" {
        return vec![
            DOCKER_HUB_KEY.into(),
            "docker.io".into(),
            "index.docker.io".into(),
            "registry-1.docker.io".into(),
            "https://index.docker.io/v1".into(),
        ];
    }
    vec![
        registry.into(),
        format!("https://{registry}"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ]
}

fn helper_key(registry: &str) -> String {
    if registry == "docker.io" {
        DOCKER_HUB_KEY.into()
    } else {
        registry.into()
    }
}

async fn lookup(
    file: &ConfigFile,
    registry: &str,
    path: &std::path::Path,
) -> Result<Option<Credential>> {
    let keys = keys(registry);
    if let Some(helper) = keys.iter().find_map(|k| file.cred_helpers.get(k)) {
        return run_helper(helper, &helper_key(registry)).await;
    }
    if let Some(store) = &file.creds_store
        && let Some(c) = run_helper(store, &helper_key(registry)).await?
    {
        return Ok(Some(c));
    }
    let Some(entry) = keys.iter().find_map(|k| file.auths.get(k)) else {
        return Ok(None);
    };
    if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credential::IdentityToken(token.to_string())));
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(u, p)| (u.to_string(), p.to_string()))
            })
            .ok_or_else(|| {
                RegistryError::Config(format!(
                    "{}: the auth entry for {registry} is not base64 of user:password",
                    path.display()
                ))
            })?;
        return Ok(Some(Credential::Basic {
            username: decoded.0,
            password: decoded.1,
        }));
    }
    if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
        return Ok(Some(Credential::Basic {
            username: u.clone(),
            password: p.clone(),
        }));
    }
    Ok(None)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

/// Runs `docker-credential-<helper> get` with the server URL on stdin.
async fn run_helper(helper: &str, server: &str) -> Result<Option<Credential>> {
    use tokio::io::AsyncWriteExt;
    let program = format!("docker-credential-{helper}");
    let fail = |m: String| RegistryError::Auth {
        registry: server.to_string(),
        message: format!("credential helper {program}: {m}"),
    };
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| fail(format!("cannot run it: {e}")))?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin
        .write_all(server.as_bytes())
        .await
        .map_err(|e| fail(e.to_string()))?;
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .map_err(|_| fail("no answer within 30 s".into()))?
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
        // Helpers say "credentials not found in native keychain" when they have nothing.
        if msg.to_ascii_lowercase().contains("not found") {
            return Ok(None);
        }
        return Err(fail(format!("exited with {}: {msg}", out.status)));
    }
    let answer: HelperAnswer =
        serde_json::from_slice(&out.stdout).map_err(|e| fail(format!("malformed answer: {e}")))?;
    if answer.username == "<token>" {
        return Ok(Some(Credential::IdentityToken(answer.secret)));
    }
    Ok(Some(Credential::Basic {
        username: answer.username,
        password: answer.secret,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, json: &str) -> PathBuf {
        let p = dir.join("config.json");
        std::fs::write(&p, json).unwrap();
        p
    }

    #[tokio::test]
    async fn reads_auths_and_identity_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let auth = base64::engine::general_purpose::STANDARD.encode("me:s3cret");
        let p = write(
            dir.path(),
            &format!(
                r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},
                "127.0.0.1:5002":{{"identitytoken":"tok"}}}}}}"#
            ),
        );
        let store = CredentialStore::from_files(vec![p]);
        assert_eq!(
            store.get("docker.io").await.unwrap(),
            Some(Credential::Basic {
                username: "me".into(),
                password: "s3cret".into()
            })
        );
        assert_eq!(
            store.get("127.0.0.1:5002").await.unwrap(),
            Some(Credential::IdentityToken("tok".into()))
        );
        assert_eq!(store.get("quay.io").await.unwrap(), None);
        let shown = format!("{:?}", store.get("docker.io").await.unwrap());
        assert!(!shown.contains("s3cret"));
    }

    #[tokio::test]
    async fn runs_credential_helpers_first() {
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-plinthtest");
        std::fs::write(
            &helper,
            "#!/bin/sh\nread server\necho \"{\\\"ServerURL\\\":\\\"$server\\\",\\\"Username\\\":\\\"h\\\",\\\"Secret\\\":\\\"$server\\\"}\"\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = write(
            dir.path(),
            r#"{"credHelpers":{"example.com":"plinthtest"},"auths":{"example.com":{"auth":"eDp5"}}}"#,
        );
        // SAFETY: tests in this module run the helper through PATH; no other thread reads it.
        let path = format!(
            "{}:{}",
            dir.path().display(),
            std::env::var("PATH").unwrap()
        );
        unsafe { std::env::set_var("PATH", path) };
        let store = CredentialStore::from_files(vec![p]);
        assert_eq!(
            store.get("example.com").await.unwrap(),
            Some(Credential::Basic {
                username: "h".into(),
                password: "example.com".into()
            })
        );
    }

    #[tokio::test]
    async fn malformed_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "{not json");
        let err = CredentialStore::from_files(vec![p])
            .get("x")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("malformed JSON"), "{err}");
    }
}
