//! The HTTP side of the registry client: connections, authentication and retries.
//!
//! One [`Client`] is shared by every request of a run: it reuses connections (HTTP/2 where the
//! registry offers it), remembers per host whether it speaks HTTPS or (for loopback and
//! configured insecure registries) plain HTTP, remembers each host's authentication challenge so
//! later requests carry credentials up front, and caches bearer tokens per scope until they
//! expire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::Deserialize;

use crate::challenge::{self, Challenge};
use crate::config::{Endpoint, RegistriesConfig};
use crate::creds::{Credential, CredentialStore};
use crate::error::{RegistryError, RegistryErrorEntry, Result};

/// How persistent to be with a failing registry.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// First backoff delay; doubled each attempt, with up to 50 % random jitter.
    pub base_delay: Duration,
    /// The longest `Retry-After` plinth will wait; longer ones fail at once with the figure.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(250),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// Options for building a [`Client`].
#[derive(Clone, Debug, Default)]
pub struct ClientOptions {
    /// Mirrors and insecure registries.
    pub config: RegistriesConfig,
    /// Credentials.
    pub credentials: CredentialStore,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// Extra registries reachable over plain HTTP (`--insecure-registry`).
    pub insecure_registries: Vec<String>,
    /// Upload chunk size in bytes (0 = default, 16 MiB). Blobs up to this size are uploaded
    /// in one request; larger ones in chunks of this size.
    pub chunk_size: usize,
    /// Tags asked for per page of a tag list (0 = default, 1000). Registries may send fewer
    /// and point at the next page with `Link`; a small value exercises pagination.
    pub tags_page_size: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct HostState {
    pub(crate) base: String,
    challenge: Option<Challenge>,
}

struct CachedToken {
    token: String,
    expires: Instant,
}

struct Inner {
    http: reqwest::Client,
    http_insecure: reqwest::Client,
    creds: CredentialStore,
    config: RegistriesConfig,
    retry: RetryPolicy,
    chunk_size: usize,
    tags_page_size: usize,
    hosts: Mutex<HashMap<String, HostState>>,
    tokens: Mutex<HashMap<String, CachedToken>>,
    /// One lock per host ping and per token key, so concurrent requests that miss the
    /// caches wait for one ping or token request instead of each making their own.
    in_flight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A registry client; cheap to clone, shared across a run.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

/// A token scope such as `repository:library/python:pull`.
pub fn scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another library may have installed one already; either is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Client {
    /// A client reading the user's registries.toml and Docker credentials.
    pub fn from_env() -> Result<Client> {
        Client::new(ClientOptions {
            config: RegistriesConfig::load()?,
            credentials: CredentialStore::from_env(),
            ..ClientOptions::default()
        })
    }

    /// A client with explicit options.
    pub fn new(options: ClientOptions) -> Result<Client> {
        install_crypto_provider();
        let build = |insecure: bool| {
            reqwest::Client::builder()
                .user_agent(concat!("plinth/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(15))
                .read_timeout(Duration::from_secs(60))
                .pool_idle_timeout(Duration::from_secs(90))
                .tls_danger_accept_invalid_certs(insecure)
                .build()
                .map_err(|e| RegistryError::Config(format!("cannot start HTTP client: {e}")))
        };
        let mut config = options.config;
        config
            .insecure_registries
            .extend(options.insecure_registries);
        Ok(Client {
            inner: Arc::new(Inner {
                http: build(false)?,
                http_insecure: build(true)?,
                creds: options.credentials,
                config,
                retry: options.retry,
                chunk_size: if options.chunk_size == 0 {
                    16 << 20
                } else {
                    options.chunk_size
                },
                tags_page_size: if options.tags_page_size == 0 {
                    1000
                } else {
                    options.tags_page_size
                },
                hosts: Mutex::new(HashMap::new()),
                tokens: Mutex::new(HashMap::new()),
                in_flight: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The registry configuration in use.
    pub fn config(&self) -> &RegistriesConfig {
        &self.inner.config
    }

    /// The upload chunk size.
    pub(crate) fn chunk_size(&self) -> usize {
        self.inner.chunk_size
    }

    /// Tags asked for per page.
    pub(crate) fn tags_page_size(&self) -> usize {
        self.inner.tags_page_size
    }

    /// The name credentials are stored under for an endpoint's host.
    fn registry_name(host: &str) -> &str {
        if host == "registry-1.docker.io" || host == "index.docker.io" {
            "docker.io"
        } else {
            host
        }
    }

    fn http_for(&self, ep: &Endpoint) -> &reqwest::Client {
        if ep.insecure {
            &self.inner.http_insecure
        } else {
            &self.inner.http
        }
    }

    /// The base URL for a host, pinging `/v2/` the first time: HTTPS, and for insecure
    /// registries plain HTTP when HTTPS does not answer (as Docker does). The ping's
    /// challenge is remembered so the first real request already carries credentials.
    pub(crate) async fn host_state(&self, ep: &Endpoint) -> Result<HostState> {
        if let Some(s) = self.inner.hosts.lock().expect("not poisoned").get(&ep.host) {
            return Ok(s.clone());
        }
        let flight = self.flight(&format!("ping|{}", ep.host));
        let _one_at_a_time = flight.lock().await;
        if let Some(s) = self.inner.hosts.lock().expect("not poisoned").get(&ep.host) {
            return Ok(s.clone());
        }
        let schemes: &[&str] = if ep.insecure {
            &["https", "http"]
        } else {
            &["https"]
        };
        let mut last_err = None;
        for (i, scheme) in schemes.iter().enumerate() {
            let base = format!("{scheme}://{}", ep.host);
            let url = format!("{base}/v2/");
            let fallback_left = i + 1 < schemes.len();
            let resp = if fallback_left {
                // HTTPS on a registry that may speak plain HTTP: one try, no backoff; a
                // failure means "use HTTP", not "the registry is down".
                self.http_for(ep)
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| RegistryError::Network {
                        registry: Self::registry_name(&ep.host).to_string(),
                        what: "ping".into(),
                        message: error_chain(&e),
                    })
            } else {
                self.with_retries(ep, "ping", || self.http_for(ep).get(&url))
                    .await
            };
            match resp {
                Ok(resp) => {
                    let challenge = (resp.status() == StatusCode::UNAUTHORIZED)
                        .then(|| header_str(resp.headers(), WWW_AUTHENTICATE))
                        .flatten()
                        .and_then(|h| challenge::parse(&h));
                    let state = HostState { base, challenge };
                    self.inner
                        .hosts
                        .lock()
                        .expect("not poisoned")
                        .insert(ep.host.clone(), state.clone());
                    return Ok(state);
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.expect("at least one scheme"))
    }

    /// Sends a request built by `build` (given the base URL), with authentication for
    /// `scopes`, retrying connection failures, 5xx and 429 with backoff. Returns any response
    /// that is not one of those (including 404s and 401s after re-authenticating once).
    pub(crate) async fn send(
        &self,
        ep: &Endpoint,
        scopes: &[String],
        what: &str,
        build: impl Fn(&reqwest::Client, &str) -> RequestBuilder,
    ) -> Result<Response> {
        let mut state = self.host_state(ep).await?;
        let mut reauthenticated = false;
        loop {
            let auth = self.authorization(ep, &state, scopes).await?;
            let http = self.http_for(ep);
            let resp = self
                .with_retries(ep, what, || {
                    let rb = build(http, &state.base);
                    match &auth {
                        Some(v) => rb.header(AUTHORIZATION, v.clone()),
                        None => rb,
                    }
                })
                .await?;
            if resp.status() != StatusCode::UNAUTHORIZED || reauthenticated {
                return Ok(resp);
            }
            // A 401: learn the challenge (it may have changed), drop cached tokens, try once more.
            reauthenticated = true;
            let challenge =
                header_str(resp.headers(), WWW_AUTHENTICATE).and_then(|h| challenge::parse(&h));
            if challenge.is_none() {
                return Ok(resp);
            }
            state.challenge = challenge;
            self.inner
                .hosts
                .lock()
                .expect("not poisoned")
                .insert(ep.host.clone(), state.clone());
            if let Some(Challenge::Bearer { realm, service, .. }) = &state.challenge {
                let key = token_key(realm, service.as_deref(), scopes);
                self.inner.tokens.lock().expect("not poisoned").remove(&key);
            }
        }
    }

    /// The lock that makes concurrent fetches of `key` (a ping, a token) happen once.
    fn flight(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.inner
            .in_flight
            .lock()
            .expect("not poisoned")
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// The `Authorization` header value for a request, if the host wants one.
    async fn authorization(
        &self,
        ep: &Endpoint,
        state: &HostState,
        scopes: &[String],
    ) -> Result<Option<HeaderValue>> {
        let registry = Self::registry_name(&ep.host);
        match &state.challenge {
            None => Ok(None),
            Some(Challenge::Basic) => match self.inner.creds.get(registry).await? {
                Some(Credential::Basic { username, password }) => {
                    Ok(Some(basic_header(&username, &password)))
                }
                _ => Ok(None),
            },
            Some(Challenge::Bearer {
                realm,
                service,
                scope: wanted,
            }) => {
                let mut scopes = scopes.to_vec();
                if scopes.is_empty()
                    && let Some(w) = wanted
                {
                    scopes.push(w.clone());
                }
                let token = self
                    .token(ep, registry, realm, service.as_deref(), &scopes)
                    .await?;
                let mut v = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    RegistryError::Auth {
                        registry: registry.into(),
                        message: "the token server returned a token that is not a valid header"
                            .into(),
                    }
                })?;
                v.set_sensitive(true);
                Ok(Some(v))
            }
        }
    }

    /// A bearer token for `scopes`, from the cache or the token server.
    async fn token(
        &self,
        ep: &Endpoint,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
    ) -> Result<String> {
        let key = token_key(realm, service, scopes);
        let cached = || {
            self.inner
                .tokens
                .lock()
                .expect("not poisoned")
                .get(&key)
                .filter(|t| t.expires > Instant::now())
                .map(|t| t.token.clone())
        };
        if let Some(t) = cached() {
            return Ok(t);
        }
        let flight = self.flight(&format!("token|{key}"));
        let _one_at_a_time = flight.lock().await;
        if let Some(t) = cached() {
            return Ok(t);
        }
        let cred = self.inner.creds.get(registry).await?;
        let auth_fail = |message: String| RegistryError::Auth {
            registry: registry.to_string(),
            message,
        };
        let http = self.http_for(ep);
        let what = format!("token from {realm}");
        let resp = match &cred {
            Some(Credential::IdentityToken(refresh)) => {
                let mut form = vec![
                    ("grant_type", "refresh_token".to_string()),
                    ("refresh_token", refresh.clone()),
                    ("client_id", "plinth".to_string()),
                ];
                if let Some(s) = service {
                    form.push(("service", s.to_string()));
                }
                if !scopes.is_empty() {
                    form.push(("scope", scopes.join(" ")));
                }
                self.with_retries(ep, &what, || http.post(realm).form(&form))
                    .await?
            }
            _ => {
                let mut query: Vec<(&str, &str)> = Vec::new();
                if let Some(s) = service {
                    query.push(("service", s));
                }
                for s in scopes {
                    query.push(("scope", s));
                }
                self.with_retries(ep, &what, || {
                    let rb = http.get(realm).query(&query);
                    match &cred {
                        Some(Credential::Basic { username, password }) => {
                            rb.basic_auth(username, Some(password))
                        }
                        _ => rb,
                    }
                })
                .await?
            }
        };
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            let detail: String = body.chars().take(200).collect();
            return Err(auth_fail(format!(
                "token server {realm} answered HTTP {}{}{}",
                status.as_u16(),
                if cred.is_some() {
                    " to the stored credentials"
                } else {
                    " (no credentials stored for this registry)"
                },
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                }
            )));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
            expires_in: Option<u64>,
        }
        let answer: TokenAnswer = resp
            .json()
            .await
            .map_err(|e| auth_fail(format!("malformed answer from token server {realm}: {e}")))?;
        let token = answer
            .token
            .or(answer.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| auth_fail(format!("token server {realm} returned no token")))?;
        // Keep a margin so a token does not expire in flight; the spec's default is 60 s.
        let life = answer.expires_in.unwrap_or(60).max(10);
        self.inner.tokens.lock().expect("not poisoned").insert(
            key,
            CachedToken {
                token: token.clone(),
                expires: Instant::now() + Duration::from_secs(life.saturating_sub(5)),
            },
        );
        Ok(token)
    }

    /// Sends with retries on connection errors, 5xx and 429, honouring `Retry-After`.
    async fn with_retries(
        &self,
        ep: &Endpoint,
        what: &str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response> {
        let policy = &self.inner.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= policy.attempts;
            match build().send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retryable = status == StatusCode::TOO_MANY_REQUESTS
                        || matches!(status.as_u16(), 500 | 502 | 503 | 504);
                    if !retryable {
                        return Ok(resp);
                    }
                    let retry_after = retry_after(resp.headers());
                    if status == StatusCode::TOO_MANY_REQUESTS
                        && (last || retry_after.is_some_and(|d| d > policy.max_retry_after))
                    {
                        return Err(RegistryError::RateLimited {
                            registry: Self::registry_name(&ep.host).to_string(),
                            repository: ep.repository.clone(),
                            what: what.to_string(),
                            remaining: rate_limit(resp.headers()),
                            retry_after: retry_after.map(|d| d.as_secs()),
                        });
                    }
                    if last {
                        return Ok(resp);
                    }
                    let wait = retry_after.unwrap_or_else(|| backoff(policy, attempt));
                    tracing::debug!(%status, ?wait, what, "retrying");
                    tokio::time::sleep(wait.min(policy.max_retry_after)).await;
                }
                Err(e) => {
                    if last || !(e.is_connect() || e.is_timeout() || e.is_request()) {
                        return Err(RegistryError::Network {
                            registry: Self::registry_name(&ep.host).to_string(),
                            what: what.to_string(),
                            message: error_chain(&e),
                        });
                    }
                    tokio::time::sleep(backoff(policy, attempt)).await;
                }
            }
        }
    }

    /// Turns a non-success response into an error naming registry, repository and status.
    pub(crate) async fn status_error(ep: &Endpoint, what: &str, resp: Response) -> RegistryError {
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        #[derive(Deserialize)]
        struct Errors {
            #[serde(default)]
            errors: Vec<RegistryErrorEntry>,
        }
        let errors = serde_json::from_slice::<Errors>(&body)
            .map(|e| e.errors)
            .unwrap_or_default();
        RegistryError::Status {
            registry: Self::registry_name(&ep.host).to_string(),
            repository: ep.repository.clone(),
            what: what.to_string(),
            status,
            errors,
        }
    }

    /// The error for a failed `HEAD`. Its answer has no body, so the same URL is asked again
    /// with `GET` to learn the registry's own error code and message (an error answer is not
    /// a pull). Falls back to the bare status when the `GET` answers differently.
    pub(crate) async fn head_error(
        &self,
        ep: &Endpoint,
        scopes: &[String],
        what: &str,
        url: &str,
        accept: Option<&str>,
        head: Response,
    ) -> RegistryError {
        let status = head.status();
        let bare = Client::status_error(ep, what, head).await;
        let get = self
            .send(ep, scopes, what, |http, base| {
                let rb = http.get(format!("{base}{url}"));
                match accept {
                    Some(a) => rb.header(reqwest::header::ACCEPT, a),
                    None => rb,
                }
            })
            .await;
        match get {
            Ok(resp) if resp.status() == status => Client::status_error(ep, what, resp).await,
            _ => bare,
        }
    }

    /// A plain request without a body, for the operations modules.
    pub(crate) fn request(
        method: Method,
        url: String,
    ) -> impl Fn(&reqwest::Client, &str) -> RequestBuilder {
        move |http, base| http.request(method.clone(), format!("{base}{url}"))
    }
}

fn token_key(realm: &str, service: Option<&str>, scopes: &[String]) -> String {
    let mut s = scopes.to_vec();
    s.sort();
    format!("{realm}|{}|{}", service.unwrap_or(""), s.join(" "))
}

fn basic_header(user: &str, password: &str) -> HeaderValue {
    use base64::Engine;
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut v = HeaderValue::from_str(&format!("Basic {enc}")).expect("base64 is a valid header");
    v.set_sensitive(true);
    v
}

fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let base = policy.base_delay * 2u32.saturating_pow(attempt.saturating_sub(1).min(8));
    let jitter = base.mul_f64(fastrand::f64() * 0.5);
    base + jitter
}

pub(crate) fn header_str(
    h: &HeaderMap,
    name: impl reqwest::header::AsHeaderName,
) -> Option<String> {
    h.get(name)?.to_str().ok().map(str::to_string)
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(h: &HeaderMap) -> Option<Duration> {
    let v = header_str(h, RETRY_AFTER)?;
    if let Ok(secs) = v.trim().parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v.trim()).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

/// `ratelimit-remaining: 0;w=21600` and `ratelimit-limit: 100;w=21600` as one phrase:
/// `0 of 100 pulls remain (window 21600 s)`.
fn rate_limit(h: &HeaderMap) -> Option<String> {
    let remaining = header_str(h, "ratelimit-remaining")?;
    let (rem, window) = remaining.split_once(';').unwrap_or((&remaining, ""));
    let mut s = rem.trim().to_string();
    if let Some(limit) = header_str(h, "ratelimit-limit") {
        s = format!("{s} of {}", limit.split(';').next().unwrap_or("").trim());
    }
    s.push_str(" pulls remain");
    if let Some(w) = window.trim().strip_prefix("w=") {
        s = format!("{s} (window {w} s)");
    }
    Some(s)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rate_limit_headers() {
        let mut h = HeaderMap::new();
        h.insert("ratelimit-limit", HeaderValue::from_static("100;w=21600"));
        h.insert("ratelimit-remaining", HeaderValue::from_static("0;w=21600"));
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(
            rate_limit(&h).as_deref(),
            Some("0 of 100 pulls remain (window 21600 s)")
        );
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
    }

    #[test]
    fn backoff_grows_with_jitter() {
        let p = RetryPolicy::default();
        let d1 = backoff(&p, 1);
        let d3 = backoff(&p, 3);
        assert!(d1 >= p.base_delay && d1 <= p.base_delay.mul_f64(1.5));
        assert!(d3 >= p.base_delay * 4);
    }

    #[test]
    fn token_keys_ignore_scope_order() {
        let a = token_key("r", Some("s"), &["b".into(), "a".into()]);
        let b = token_key("r", Some("s"), &["a".into(), "b".into()]);
        assert_eq!(a, b);
    }
}
