//! OAuth2 client credentials (RFC 6749 §4.4), as KEDA's `authModes: oauth` takes them: a token
//! fetched from `oauthTokenURI`, cached until shortly before it expires, shared by every trigger
//! with the same token URI, client and scopes on the same HTTP client.
//!
//! Like golang.org/x/oauth2's `clientcredentials` (which KEDA uses): client credentials go in an
//! HTTP Basic header (each part form-URL-encoded); if the server rejects that, the same request is
//! retried with `client_id`/`client_secret` in the form body, and whichever worked is remembered.
//! A token is reused until 10 s before `expires_in` runs out; without `expires_in` it is reused
//! until the server answers 401 to it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::params::{TriggerParams, order};
use crate::secret::SecretString;

/// A token is refreshed this long before it expires (golang.org/x/oauth2's `expiryDelta`).
pub const EXPIRY_DELTA: Duration = Duration::from_secs(10);

/// What a client-credentials token is requested with; also its identity in the token pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OAuthSettings {
    /// `oauthTokenURI`.
    pub token_uri: String,
    /// `clientID`.
    pub client_id: String,
    /// `clientSecret` (optional for public clients).
    pub client_secret: Option<SecretString>,
    /// `scopes` (or `scope`): comma-separated, blanks dropped; sent space-joined.
    pub scopes: Vec<String>,
    /// `endpointParams`: extra form parameters, URL query syntax (`audience=x&resource=y`).
    pub endpoint_params: Vec<(String, String)>,
}

impl OAuthSettings {
    /// Reads KEDA's OAuth parameters (all from the TriggerAuthentication).
    pub fn from_params(params: &TriggerParams) -> Result<Self, ConfigError> {
        let token_uri: String = params.required("oauthTokenURI", order::A_)?;
        match url::Url::parse(&token_uri) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(ConfigError::invalid(
                    "oauthTokenURI",
                    "must be an http(s) URL",
                ));
            }
        }
        let scopes: String = params.with_default("scopes;scope", order::A_, String::new())?;
        let raw_params: String = params.with_default("endpointParams", order::A_, String::new())?;
        let endpoint_params = parse_endpoint_params(&raw_params)?;
        Ok(Self {
            token_uri,
            client_id: params.required("clientID", order::A_)?,
            client_secret: params.secret("clientSecret", order::A_),
            scopes: scopes
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            endpoint_params,
        })
    }

    fn secrets(&self) -> Vec<&SecretString> {
        self.client_secret.iter().collect()
    }
}

/// `a=b&c=d` (Go's `url.ParseQuery`): percent-decoded pairs; a key without `=` has an empty value.
fn parse_endpoint_params(raw: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k.is_empty() {
            return Err(ConfigError::invalid(
                "endpointParams",
                format!("{pair:?} has no name (expected name=value&name2=value2)"),
            ));
        }
        let decode = |s: &str| {
            form_decode(s).ok_or_else(|| {
                ConfigError::invalid("endpointParams", format!("{s:?} is not URL-encoded"))
            })
        };
        out.push((decode(k)?, decode(v)?));
    }
    Ok(out)
}

fn form_decode(s: &str) -> Option<String> {
    let plus = s.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// How the client authenticates at the token endpoint (learnt on the first success).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthStyle {
    Unknown,
    Header,
    Params,
}

#[derive(Debug)]
struct Cached {
    token: SecretString,
    refresh_at: Option<Instant>,
}

/// One cached token for one [`OAuthSettings`]; see the module docs.
#[derive(Debug)]
pub struct TokenSource {
    settings: OAuthSettings,
    style: Mutex<AuthStyle>,
    cached: tokio::sync::Mutex<Option<Cached>>,
    fetches: std::sync::atomic::AtomicUsize,
}

impl TokenSource {
    pub(crate) fn new(settings: &OAuthSettings) -> Self {
        Self {
            settings: settings.clone(),
            style: Mutex::new(AuthStyle::Unknown),
            cached: tokio::sync::Mutex::new(None),
            fetches: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many tokens this source has fetched (for tests and diagnostics).
    pub fn fetches(&self) -> usize {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A valid access token: the cached one, or a fresh one from the token endpoint.
    ///
    /// Concurrent callers wait for one fetch instead of each making their own.
    pub(crate) async fn token(&self, http: &reqwest::Client) -> Result<SecretString, MeasureError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.refresh_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch(http).await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Forgets the cached token (the resource server answered 401 to it).
    pub(crate) fn invalidate(&self) {
        if let Ok(mut cached) = self.cached.try_lock() {
            *cached = None;
        }
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<Cached, MeasureError> {
        let style = *self
            .style
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = match style {
            AuthStyle::Unknown => match self.request(http, AuthStyle::Header).await {
                Ok(t) => Ok((t, AuthStyle::Header)),
                // Some servers only read credentials from the body: try that once, as Go's does.
                Err(_) => self
                    .request(http, AuthStyle::Params)
                    .await
                    .map(|t| (t, AuthStyle::Params)),
            },
            known => self.request(http, known).await.map(|t| (t, known)),
        };
        let (cached, worked) = result?;
        *self
            .style
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = worked;
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(cached)
    }

    async fn request(
        &self,
        http: &reqwest::Client,
        style: AuthStyle,
    ) -> Result<Cached, MeasureError> {
        const WHAT: &str = "oauth: token request";
        let s = &self.settings;
        let secrets = s.secrets();
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        let scope = s.scopes.join(" ");
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        for (k, v) in &s.endpoint_params {
            form.push((k, v));
        }
        let secret = s.client_secret.as_ref().map(SecretString::expose);
        if style == AuthStyle::Params {
            form.push(("client_id", &s.client_id));
            if let Some(secret) = secret {
                form.push(("client_secret", secret));
            }
        }
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let mut builder = http
            .post(&s.token_uri)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body);
        if style == AuthStyle::Header {
            builder = builder.basic_auth(
                form_encode(&s.client_id),
                Some(form_encode(secret.unwrap_or(""))),
            );
        }
        let started = Instant::now();
        let response = builder
            .send()
            .await
            .map_err(|e| super::from_reqwest(e, WHAT, &secrets))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| super::from_reqwest(e, WHAT, &secrets))?;
        let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        if !(200..300).contains(&status) {
            // RFC 6749 §5.2: `error` is a short code; never echo the body (it may hold anything).
            let code = json
                .as_ref()
                .and_then(|j| j["error"].as_str())
                .unwrap_or("")
                .chars()
                .take(64)
                .collect::<String>();
            let reason = match (status, code.as_str()) {
                (401 | 403, _)
                | (_, "invalid_client" | "unauthorized_client" | "invalid_grant") => {
                    MeasureReason::Unauthorized
                }
                (404, _) => MeasureReason::NotFound,
                _ => MeasureReason::BadResponse,
            };
            return Err(MeasureError::new(
                reason,
                crate::error::scrub(
                    format!("{WHAT}: HTTP {status} from {} {code}", s.token_uri),
                    &secrets,
                ),
            ));
        }
        let bad = |m: &str| MeasureError::new(MeasureReason::BadResponse, format!("{WHAT}: {m}"));
        let json = json.ok_or_else(|| bad("the answer is not JSON"))?;
        let token = json["access_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("the answer has no access_token"))?;
        // `expires_in` is a number, but some servers send it as a string.
        let expires_in = json["expires_in"]
            .as_u64()
            .or_else(|| json["expires_in"].as_str().and_then(|s| s.parse().ok()))
            .filter(|s| *s > 0);
        Ok(Cached {
            token: SecretString::new(token),
            refresh_at: expires_in.map(|secs| {
                (started + Duration::from_secs(secs))
                    .checked_sub(EXPIRY_DELTA)
                    .unwrap_or(started)
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_params_decode_like_go_parse_query() {
        assert_eq!(
            parse_endpoint_params("audience=api%3A%2F%2Fx&resource=a+b&flag").unwrap(),
            vec![
                ("audience".into(), "api://x".into()),
                ("resource".into(), "a b".into()),
                ("flag".into(), String::new()),
            ]
        );
        assert_eq!(
            parse_endpoint_params("=x").unwrap_err().key(),
            Some("endpointParams")
        );
    }

    #[test]
    fn settings_read_scopes_from_either_name_and_require_uri_and_client() {
        let p = |auth: &[(&str, &str)]| {
            TriggerParams::new("metrics-api", 0, [("url", "http://x")])
                .with_auth_params(auth.iter().copied())
        };
        let s = OAuthSettings::from_params(&p(&[
            ("oauthTokenURI", "http://idp/token"),
            ("clientID", "ebb"),
            ("clientSecret", "s3cr3t"),
            ("scope", "read, ,write"),
        ]))
        .unwrap();
        assert_eq!(s.scopes, vec!["read", "write"]);
        assert!(!format!("{s:?}").contains("s3cr3t"));
        for (auth, key) in [
            (&[("clientID", "ebb")][..], "oauthTokenURI"),
            (&[("oauthTokenURI", "http://idp/t")][..], "clientID"),
            (
                &[("oauthTokenURI", "ftp://idp/t"), ("clientID", "e")][..],
                "oauthTokenURI",
            ),
        ] {
            assert_eq!(
                OAuthSettings::from_params(&p(auth)).unwrap_err().key(),
                Some(key)
            );
        }
    }
}
