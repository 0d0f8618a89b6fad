//! The one HTTP client constructor (`client_for`) and the memoised GET every HTTP scaler uses.
//!
//! Request authentication lives here too: static credentials (`HttpAuth`), OAuth2 client
//! credentials ([`oauth`]) and AWS SigV4 with static, ambient or assumed-role credentials ([`aws`]).
//! Tokens and assumed-role credentials are cached on the shared [`HttpClient`], so every trigger
//! with the same HTTP settings and the same credentials shares one token.

pub mod aws;
pub mod oauth;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::poll::Poll;
use crate::pool::{ClientPool, Clients};
use crate::secret::SecretString;
use crate::tls::TlsSettings;

use aws::{AwsAuth, RoleCredentials, RoleKey};
use oauth::{OAuthSettings, TokenSource};

/// What an HTTP client is built from; also its identity in the shared pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpSettings {
    /// Whole-request timeout (`timeout` param, else `KEDA_HTTP_DEFAULT_TIMEOUT`).
    pub timeout: Duration,
    /// CA, client certificate and `unsafeSsl`.
    pub tls: TlsSettings,
}

impl HttpSettings {
    /// Plain settings: a timeout, system roots, verification on.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            tls: TlsSettings::default(),
        }
    }
}

/// Builds an HTTP client: timeouts, TLS CA/cert/key and `unsafeSsl`, rustls with ring.
/// The only place in Ebb that may call `reqwest::ClientBuilder::new` (see clippy.toml).
#[allow(clippy::disallowed_methods)]
pub fn client_for(settings: &HttpSettings) -> Result<reqwest::Client, ConfigError> {
    let tls = settings.tls.client_config()?;
    reqwest::ClientBuilder::new()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .pool_idle_timeout(Duration::from_secs(90))
        .no_proxy()
        .tls_backend_preconfigured(tls)
        .build()
        .map_err(|e| ConfigError::invalid("tls", e.to_string()))
}

/// A shared HTTP client (one per `HttpSettings`).
///
/// The reqwest client (root store, TLS config, connection pool) is made on the first request:
/// building a scaler only checks the TLS material, so `ebb validate` and the admission webhook stay
/// cheap however many triggers they look at.
#[derive(Debug)]
pub struct HttpClient {
    settings: HttpSettings,
    client: OnceLock<reqwest::Client>,
    /// OAuth2 tokens, one per client-credentials identity; held by the triggers that use them.
    tokens: ClientPool<OAuthSettings, TokenSource>,
    /// Assumed-role AWS credentials, one per (STS endpoint, role, base identity).
    roles: ClientPool<RoleKey, RoleCredentials>,
}

/// What a trigger keeps alive so its cached token or role credentials outlive one request.
#[derive(Debug, Default)]
pub struct AuthHold {
    token: Option<Arc<TokenSource>>,
    role: Option<Arc<RoleCredentials>>,
}

impl AuthHold {
    /// The OAuth token source held, if any.
    pub fn token_source(&self) -> Option<&Arc<TokenSource>> {
        self.token.as_ref()
    }

    /// The assumed-role credentials held, if any.
    pub fn role_credentials(&self) -> Option<&Arc<RoleCredentials>> {
        self.role.as_ref()
    }
}

impl HttpClient {
    pub(crate) fn client(&self) -> Result<&reqwest::Client, MeasureError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let client = client_for(&self.settings)
            .map_err(|e| MeasureError::new(MeasureReason::Config, e.to_string()))?;
        Ok(self.client.get_or_init(|| client))
    }

    /// The shared token source for `settings`.
    pub(crate) fn token_source(&self, settings: &OAuthSettings) -> Arc<TokenSource> {
        match self.tokens.get_or_create(settings, |s| {
            Ok::<_, std::convert::Infallible>(TokenSource::new(s))
        }) {
            Ok(t) => t,
            Err(never) => match never {},
        }
    }

    /// The shared assumed-role credentials for `key`.
    pub(crate) fn role_credentials(&self, key: &RoleKey) -> Arc<RoleCredentials> {
        match self.roles.get_or_create(key, |k| {
            Ok::<_, std::convert::Infallible>(RoleCredentials::new(k))
        }) {
            Ok(r) => r,
            Err(never) => match never {},
        }
    }

    /// Holds the cached credentials `auth` needs; a scaler keeps the result as long as it lives.
    pub fn hold(&self, auth: &HttpAuth) -> AuthHold {
        match auth {
            HttpAuth::OAuth(settings) => AuthHold {
                token: Some(self.token_source(settings)),
                role: None,
            },
            HttpAuth::SigV4(aws) => self.hold_aws(aws),
            _ => AuthHold::default(),
        }
    }

    /// Holds the assumed-role credentials of `aws`, if it assumes a role.
    pub fn hold_aws(&self, aws: &AwsAuth) -> AuthHold {
        AuthHold {
            token: None,
            role: aws.role_key().map(|k| self.role_credentials(&k)),
        }
    }
}

impl Clients {
    /// The shared HTTP client for `settings` (TLS material checked, nothing built or connected).
    pub fn http(&self, settings: &HttpSettings) -> Result<Arc<HttpClient>, ConfigError> {
        self.inner.http.get_or_create(settings, |s| {
            s.tls.check()?;
            Ok(HttpClient {
                settings: s.clone(),
                client: OnceLock::new(),
                tokens: ClientPool::default(),
                roles: ClientPool::default(),
            })
        })
    }
}

/// Authentication for one HTTP request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum HttpAuth {
    /// No credentials.
    #[default]
    None,
    /// `Authorization: Basic`.
    Basic {
        /// User name.
        username: String,
        /// Password (may be absent).
        password: Option<SecretString>,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(SecretString),
    /// A header whose value is secret (e.g. `X-API-KEY`).
    Header(String, SecretString),
    /// A query parameter whose value is secret (e.g. `api_key`).
    Query(String, SecretString),
    /// `Authorization: Bearer <token>` with a client-credentials token from an OAuth2 server.
    OAuth(OAuthSettings),
    /// AWS Signature Version 4 (e.g. Amazon Managed Service for Prometheus).
    SigV4(AwsAuth),
}

/// A GET request, hashable so identical requests in one poll are made once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HttpGet {
    /// URL without credentials.
    pub url: String,
    /// Extra query parameters (appended, URL-encoded).
    pub query: Vec<(String, String)>,
    /// Extra non-secret headers.
    pub headers: Vec<(String, String)>,
    /// Credentials.
    pub auth: HttpAuth,
}

impl HttpGet {
    /// A GET of `url` with no extras.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            query: Vec::new(),
            headers: Vec::new(),
            auth: HttpAuth::None,
        }
    }

    fn secrets(&self) -> Vec<&SecretString> {
        self.auth.secrets()
    }
}

impl HttpAuth {
    /// Every secret value in the credentials (for scrubbing messages).
    pub(crate) fn secrets(&self) -> Vec<&SecretString> {
        match self {
            HttpAuth::None => vec![],
            HttpAuth::Basic { password, .. } => password.iter().collect(),
            HttpAuth::Bearer(s) | HttpAuth::Header(_, s) | HttpAuth::Query(_, s) => vec![s],
            HttpAuth::OAuth(o) => o.client_secret.iter().collect(),
            HttpAuth::SigV4(a) => a.secrets(),
        }
    }
}

/// A successful response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// The status code (2xx).
    pub status: u16,
    /// The body.
    pub body: Arc<String>,
}

/// Splits `user:password@` out of a URL: returns the bare URL and basic credentials.
pub fn split_userinfo(raw: &str) -> Result<(url::Url, HttpAuth), String> {
    let mut url = url::Url::parse(raw).map_err(|e| format!("not a URL: {e}"))?;
    let auth = if url.username().is_empty() {
        HttpAuth::None
    } else {
        let username = percent_encoding::percent_decode_str(url.username())
            .decode_utf8_lossy()
            .into_owned();
        let password = url.password().map(|p| {
            SecretString::new(percent_encoding::percent_decode_str(p).decode_utf8_lossy())
        });
        HttpAuth::Basic { username, password }
    };
    // Infallible for http(s) URLs with a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok((url, auth))
}

/// GETs `req` once per poll; non-2xx is an error with a reason from the status.
pub async fn get(
    poll: &Poll,
    client: &Arc<HttpClient>,
    req: &HttpGet,
    what: &str,
) -> Result<HttpResponse, MeasureError> {
    let mut hasher = DefaultHasher::new();
    req.hash(&mut hasher);
    // The client pointer identifies TLS/timeouts; the hash covers URL, headers and credentials.
    let key = format!(
        "http|{:p}|{}|{:x}",
        Arc::as_ptr(client),
        req.url,
        hasher.finish()
    );
    poll.once(key, send(client, req, what)).await
}

async fn send(
    client: &HttpClient,
    req: &HttpGet,
    what: &str,
) -> Result<HttpResponse, MeasureError> {
    // Credentials written into the URL become basic auth, so no message ever shows them.
    let (url, embedded) = match split_userinfo(&req.url) {
        Ok((url, embedded)) => (url.to_string(), embedded),
        Err(_) => (req.url.clone(), HttpAuth::None),
    };
    let auth = if req.auth == HttpAuth::None {
        &embedded
    } else {
        &req.auth
    };
    let mut secrets = req.secrets();
    if let HttpAuth::Basic {
        password: Some(p), ..
    } = &embedded
    {
        secrets.push(p);
    }
    let http = client.client()?;
    let mut builder = http.get(&url);
    if !req.query.is_empty() {
        builder = builder.query(&req.query);
    }
    for (k, v) in &req.headers {
        builder = builder.header(k, v);
    }
    let mut token_source = None;
    let mut token = None;
    let mut role_secrets = None;
    builder = match auth {
        HttpAuth::None | HttpAuth::SigV4(_) => builder,
        HttpAuth::Basic { username, password } => {
            builder.basic_auth(username, password.as_ref().map(SecretString::expose))
        }
        HttpAuth::Bearer(token) => builder.bearer_auth(token.expose()),
        HttpAuth::Header(name, value) => builder.header(name, value.expose()),
        HttpAuth::Query(name, value) => builder.query(&[(name, value.expose())]),
        HttpAuth::OAuth(settings) => {
            let source = client.token_source(settings);
            let t = source.token(http).await?;
            let builder = builder.bearer_auth(t.expose());
            token = Some(t);
            token_source = Some(source);
            builder
        }
    };
    secrets.extend(token.as_ref());
    let mut request = builder
        .build()
        .map_err(|e| from_reqwest(e, what, &secrets))?;
    if let HttpAuth::SigV4(aws) = auth {
        let credentials = aws.credentials(client).await?;
        let signed = aws
            .sign_request(&credentials, "GET", request.url().as_str(), &[], b"")
            .map_err(|m| {
                MeasureError::new(MeasureReason::Config, format!("{what}: signing: {m}"))
            })?;
        for (k, v) in signed {
            let value = reqwest::header::HeaderValue::from_str(v.expose()).map_err(|_| {
                MeasureError::new(MeasureReason::Config, format!("{what}: signing failed"))
            })?;
            request.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                    MeasureError::new(MeasureReason::Config, format!("{what}: signing failed"))
                })?,
                value,
            );
        }
        role_secrets = Some(credentials);
    }
    let mut all_secrets = secrets.clone();
    if let Some(c) = &role_secrets {
        all_secrets.extend(c.secrets());
    }
    let response = http
        .execute(request)
        .await
        .map_err(|e| from_reqwest(e, what, &all_secrets))?;
    let status = response.status();
    let body = response
        .text()
        .await
        .map_err(|e| from_reqwest(e, what, &all_secrets))?;
    if !status.is_success() {
        let reason = match status.as_u16() {
            401 | 403 => MeasureReason::Unauthorized,
            404 => MeasureReason::NotFound,
            _ => MeasureReason::BadResponse,
        };
        if status.as_u16() == 401
            && let Some(source) = &token_source
        {
            // The token was revoked or expired early: fetch a new one next time.
            source.invalidate();
        }
        let snippet: String = body.chars().take(200).collect();
        return Err(MeasureError::new(
            reason,
            crate::error::scrub(
                format!(
                    "{what}: HTTP {} from {}: {snippet}",
                    status.as_u16(),
                    req.url
                ),
                &all_secrets,
            ),
        ));
    }
    Ok(HttpResponse {
        status: status.as_u16(),
        body: Arc::new(body),
    })
}

/// Classifies a reqwest error; the URL is dropped and secrets scrubbed.
pub(crate) fn from_reqwest(
    e: reqwest::Error,
    what: &str,
    secrets: &[&SecretString],
) -> MeasureError {
    let reason = if e.is_timeout() {
        MeasureReason::Timeout
    } else if e.is_connect() {
        MeasureReason::Unreachable
    } else if e.is_decode() || e.is_body() {
        MeasureReason::BadResponse
    } else {
        MeasureReason::Unreachable
    };
    let e = e.without_url();
    MeasureError::caused_by(reason, format!("{what}: request failed"), &e, secrets)
}

/// KEDA's `authModes` (basic, bearer, tls, custom, apiKey, oauth) read from a trigger.
///
/// `authModes` (or `authMode`) comes from metadata (or auth params); credentials from auth params.
/// `ca` is honoured whenever given. One of basic/bearer/custom/apiKey/oauth per trigger, optionally
/// with tls.
pub fn auth_from_params(
    params: &crate::params::TriggerParams,
    insecure: bool,
) -> Result<(HttpAuth, TlsSettings), ConfigError> {
    use crate::params::order;
    let modes: String = params.with_default("authModes;authMode", order::MA, String::new())?;
    let mut auth = HttpAuth::None;
    let mut tls = TlsSettings {
        ca: params.optional("ca", order::A_)?,
        insecure,
        ..TlsSettings::default()
    };
    let set = |new: HttpAuth, auth: &mut HttpAuth| -> Result<(), ConfigError> {
        if *auth != HttpAuth::None {
            return Err(ConfigError::invalid(
                "authModes",
                "use at most one of basic, bearer, custom, apiKey and oauth",
            ));
        }
        *auth = new;
        Ok(())
    };
    for mode in modes.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        match mode {
            "basic" => set(
                HttpAuth::Basic {
                    username: params.required("username", order::A_)?,
                    password: params.secret("password", order::A_),
                },
                &mut auth,
            )?,
            "bearer" => set(
                HttpAuth::Bearer(params.required_secret("bearerToken;token", order::A_)?),
                &mut auth,
            )?,
            "oauth" => set(
                HttpAuth::OAuth(OAuthSettings::from_params(params)?),
                &mut auth,
            )?,
            "custom" => set(
                HttpAuth::Header(
                    params.required("customAuthHeader", order::A_)?,
                    params.required_secret("customAuthValue", order::A_)?,
                ),
                &mut auth,
            )?,
            "apiKey" => {
                let key = params.required_secret("apiKey", order::A_)?;
                let method =
                    params.one_of("method", order::MA, &["header", "query"], Some("header"))?;
                let name: Option<String> = params.optional("keyParamName", order::MA)?;
                let new = if method == "query" {
                    HttpAuth::Query(name.unwrap_or_else(|| "api_key".into()), key)
                } else {
                    HttpAuth::Header(name.unwrap_or_else(|| "X-API-KEY".into()), key)
                };
                set(new, &mut auth)?;
            }
            "tls" => {
                let with_cert = TlsSettings::from_params(params, order::A_, insecure)?;
                if with_cert.cert.is_none() {
                    return Err(params.missing("cert", order::A_));
                }
                tls = with_cert;
            }
            other => {
                return Err(ConfigError::NotOneOf {
                    key: "authModes".into(),
                    value: other.to_owned(),
                    allowed: "basic, bearer, tls, custom, apiKey, oauth".into(),
                });
            }
        }
    }
    tls.validate()?;
    Ok((auth, tls))
}
