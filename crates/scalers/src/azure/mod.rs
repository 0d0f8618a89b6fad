//! What the Azure scalers share: clouds and endpoint suffixes, connection strings, Shared Key and
//! SAS signing, the storage REST GET (with response headers), and Atom/XML value lookup.

pub mod connection_string;
pub mod namespace;
pub(crate) mod sas;
pub(crate) mod shared_key;

use std::sync::Arc;

use crate::error::{ConfigError, MeasureError, MeasureReason};
use crate::http::HttpClient;
use crate::params::{TriggerParams, order};
use crate::poll::Poll;
use crate::secret::SecretString;

pub use connection_string::ConnectionString;

/// The storage REST version Ebb speaks (supported by Azure and Azurite alike).
pub(crate) const STORAGE_VERSION: &str = "2021-08-06";

/// Which Azure service an endpoint suffix is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// `*.core.windows.net` and its sovereign-cloud counterparts.
    Storage,
    /// `*.servicebus.windows.net` (Service Bus and Event Hubs).
    ServiceBus,
}

/// The endpoint suffix for `cloud` (KEDA's names), or `endpointSuffix` for `Private`.
///
/// `endpointSuffix` given without `cloud` overrides the public-cloud default, as KEDA does.
pub(crate) fn endpoint_suffix(
    params: &TriggerParams,
    service: Service,
    suffix_key: &str,
) -> Result<String, ConfigError> {
    let cloud: Option<String> = params.optional("cloud", order::M_)?;
    let suffix: Option<String> = params.optional(suffix_key, order::M_)?;
    let known = |cloud: &str| -> Option<&'static str> {
        let (storage, service_bus) = match cloud.to_ascii_lowercase().as_str() {
            "azurepubliccloud" => ("core.windows.net", "servicebus.windows.net"),
            "azurechinacloud" => ("core.chinacloudapi.cn", "servicebus.chinacloudapi.cn"),
            "azureusgovernmentcloud" => ("core.usgovcloudapi.net", "servicebus.usgovcloudapi.net"),
            "azuregermancloud" => ("core.cloudapi.de", "servicebus.cloudapi.de"),
            _ => return None,
        };
        Some(match service {
            Service::Storage => storage,
            Service::ServiceBus => service_bus,
        })
    };
    match cloud.as_deref() {
        None => Ok(suffix.unwrap_or_else(|| {
            known("AzurePublicCloud").unwrap_or_default().to_owned()
        })),
        Some(c) if c.eq_ignore_ascii_case("private") => suffix.ok_or_else(|| {
            ConfigError::invalid(suffix_key, "required when cloud is Private")
        }),
        Some(c) => known(c).map(str::to_owned).ok_or_else(|| ConfigError::NotOneOf {
            key: "cloud".into(),
            value: c.to_owned(),
            allowed: "AzurePublicCloud, AzureChinaCloud, AzureUSGovernmentCloud, AzureGermanCloud, Private".into(),
        }),
    }
}

/// How storage requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StorageAuth {
    /// Shared Key with the account key (base64).
    SharedKey(SecretString),
    /// A SAS token appended to every URL's query.
    Sas(SecretString),
}

/// A storage account's endpoint for one service (queue or blob) and its credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StorageAccount {
    /// The account name (signs Shared Key requests).
    pub account: String,
    /// The service endpoint, e.g. `https://acct.queue.core.windows.net` or Azurite's
    /// `http://127.0.0.1:10001/devstoreaccount1`; no trailing `/`.
    pub endpoint: String,
    /// Credentials.
    pub auth: StorageAuth,
}

impl StorageAccount {
    /// From a storage connection string (`service` is `queue` or `blob`); `key` names the param.
    pub fn from_connection_string(
        key: &str,
        raw: &SecretString,
        service: &str,
        default_suffix: &str,
    ) -> Result<Self, ConfigError> {
        let cs = ConnectionString::parse(key, raw)?;
        let explicit = cs.get(&format!("{service}Endpoint"));
        let account = cs.get("AccountName").map(str::to_owned);
        let endpoint = match (explicit, &account) {
            (Some(e), _) => e.trim_end_matches('/').to_owned(),
            (None, Some(account)) => {
                let protocol = cs.get("DefaultEndpointsProtocol").unwrap_or("https");
                let suffix = cs.get("EndpointSuffix").unwrap_or(default_suffix);
                format!("{protocol}://{account}.{service}.{suffix}")
            }
            (None, None) => {
                return Err(ConfigError::invalid(
                    key,
                    format!("the connection string has neither AccountName nor {service}Endpoint"),
                ));
            }
        };
        url::Url::parse(&endpoint).map_err(|_| {
            ConfigError::invalid(key, format!("the {service} endpoint is not a URL"))
        })?;
        let account = match account {
            Some(a) => a,
            // SAS-only strings name no account; the host's first label is the account.
            None => endpoint_account(&endpoint).unwrap_or_default(),
        };
        let auth = if let Some(sas) = cs.secret("SharedAccessSignature") {
            StorageAuth::Sas(sas.clone())
        } else if let Some(k) = cs.secret("AccountKey") {
            StorageAuth::SharedKey(k.clone())
        } else {
            return Err(ConfigError::invalid(
                key,
                "the connection string has neither AccountKey nor SharedAccessSignature",
            ));
        };
        Ok(Self {
            account,
            endpoint,
            auth,
        })
    }

    /// The URL of `path` (no leading `/`) with `query` (already encoded) and the SAS, if any.
    fn url(&self, path: &str, query: &str) -> Result<url::Url, MeasureError> {
        let mut raw = format!("{}/{path}", self.endpoint);
        let mut q = query.to_owned();
        if let StorageAuth::Sas(sas) = &self.auth {
            let sas = sas.expose().trim_start_matches('?');
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(sas);
        }
        if !q.is_empty() {
            raw.push('?');
            raw.push_str(&q);
        }
        url::Url::parse(&raw).map_err(|_| {
            MeasureError::new(
                MeasureReason::Config,
                format!("bad storage URL for {path:?}"),
            )
        })
    }

    fn secrets(&self) -> Vec<&SecretString> {
        match &self.auth {
            StorageAuth::SharedKey(k) | StorageAuth::Sas(k) => vec![k],
        }
    }
}

fn endpoint_account(endpoint: &str) -> Option<String> {
    let url = url::Url::parse(endpoint).ok()?;
    url.host_str()?.split('.').next().map(str::to_owned)
}

/// A storage response: status, the `x-ms-*` headers (names lower-case) and the body.
#[derive(Debug, Clone)]
pub(crate) struct StorageResponse {
    /// `x-ms-*` response headers, names lower-case.
    pub(crate) headers: Vec<(String, String)>,
    /// The body.
    pub(crate) body: Arc<String>,
}

impl StorageResponse {
    /// A response header by (case-insensitive) name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// GETs `path?query` from the account's service once per poll, signed with Shared Key or SAS.
///
/// Errors name the path only: the query may carry a SAS.
pub(crate) async fn storage_get(
    poll: &Poll,
    client: &Arc<HttpClient>,
    account: &StorageAccount,
    path: &str,
    query: &str,
    what: &str,
) -> Result<StorageResponse, MeasureError> {
    let key = format!(
        "azure-storage|{:p}|{}|{}|{path}?{query}",
        Arc::as_ptr(client),
        account.endpoint,
        account.account
    );
    poll.once(key, send(poll, client, account, path, query, what))
        .await
}

async fn send(
    poll: &Poll,
    client: &HttpClient,
    account: &StorageAccount,
    path: &str,
    query: &str,
    what: &str,
) -> Result<StorageResponse, MeasureError> {
    let secrets = account.secrets();
    let url = account.url(path, query)?;
    let ms_headers = vec![
        ("x-ms-date".to_owned(), shared_key::http_date(poll.now())),
        ("x-ms-version".to_owned(), STORAGE_VERSION.to_owned()),
    ];
    let mut builder = client.client()?.get(url.clone());
    for (k, v) in &ms_headers {
        builder = builder.header(k, v);
    }
    if let StorageAuth::SharedKey(key) = &account.auth {
        let auth = shared_key::authorization(&account.account, key, &url, &ms_headers)
            .map_err(|m| MeasureError::new(MeasureReason::Config, format!("{what}: {m}")))?;
        builder = builder.header("Authorization", auth.expose());
    }
    let response = builder
        .send()
        .await
        .map_err(|e| crate::http::from_reqwest(e, what, &secrets))?;
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-ms-"))
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = response
        .text()
        .await
        .map_err(|e| crate::http::from_reqwest(e, what, &secrets))?;
    if !(200..300).contains(&status) {
        let code = headers
            .iter()
            .find(|(k, _)| k == "x-ms-error-code")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let reason = match status {
            401 | 403 => MeasureReason::Unauthorized,
            404 => MeasureReason::NotFound,
            _ => MeasureReason::BadResponse,
        };
        return Err(MeasureError::new(
            reason,
            crate::error::scrub(
                format!("{what}: HTTP {status} {code} for /{path}"),
                &secrets,
            ),
        ));
    }
    Ok(StorageResponse {
        headers,
        body: Arc::new(body),
    })
}

/// The answer to a [`signed_request`]: the HTTP status and the body (any status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageReply {
    /// The HTTP status code.
    pub status: u16,
    /// The response body.
    pub body: String,
}

/// One request to a storage account's service, signed with its Shared Key or SAS, for callers
/// outside the scalers (`ebb demo`'s Storage Queue producer and worker): `verb` on `path?query`
/// (`path` without a leading `/`, `query` already encoded) with `body` sent as
/// `application/octet-stream`. Any status is returned; errors (no answer, a bad key) name the path
/// only and never a secret.
pub async fn signed_request(
    client: &HttpClient,
    account: &StorageAccount,
    verb: &str,
    path: &str,
    query: &str,
    body: &str,
) -> Result<StorageReply, MeasureError> {
    let secrets = account.secrets();
    let what = format!("{verb} /{path}");
    let url = account.url(path, query)?;
    let method = reqwest::Method::from_bytes(verb.as_bytes()).map_err(|_| {
        MeasureError::new(MeasureReason::Config, format!("{what}: not an HTTP method"))
    })?;
    let ms_headers = vec![
        (
            "x-ms-date".to_owned(),
            shared_key::http_date(jiff::Timestamp::now()),
        ),
        ("x-ms-version".to_owned(), STORAGE_VERSION.to_owned()),
    ];
    let content_type = if body.is_empty() {
        ""
    } else {
        "application/octet-stream"
    };
    let mut builder = client
        .client()?
        .request(method, url.clone())
        .header("Content-Length", body.len().to_string());
    for (k, v) in &ms_headers {
        builder = builder.header(k, v);
    }
    if !body.is_empty() {
        builder = builder.header("Content-Type", content_type);
    }
    if let StorageAuth::SharedKey(key) = &account.auth {
        let key = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            key.expose().trim(),
        )
        .map_err(|_| {
            MeasureError::new(
                MeasureReason::Config,
                format!("{what}: the account key is not valid base64"),
            )
        })?;
        let to_sign = shared_key::string_to_sign_for(
            verb,
            body.len(),
            content_type,
            &account.account,
            &url,
            &ms_headers,
        );
        let auth = shared_key::sign(&account.account, &key, &to_sign)
            .map_err(|m| MeasureError::new(MeasureReason::Config, format!("{what}: {m}")))?;
        builder = builder.header("Authorization", auth.expose());
    }
    let response = builder
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| crate::http::from_reqwest(e, &what, &secrets))?;
    let status = response.status().as_u16();
    let body = response
        .text()
        .await
        .map_err(|e| crate::http::from_reqwest(e, &what, &secrets))?;
    Ok(StorageReply { status, body })
}

/// The text of the first element whose path of local names ends with `path`
/// (e.g. `["CountDetails", "ActiveMessageCount"]`); namespaces prefixes are ignored.
pub(crate) fn xml_text(xml: &str, path: &[&str]) -> Result<Option<String>, String> {
    Ok(xml_texts(xml, path)?.into_iter().next())
}

/// Every element text whose local-name path ends with `path`.
pub(crate) fn xml_texts(xml: &str, path: &[&str]) -> Result<Vec<String>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut text: Option<String> = None;
    loop {
        match reader.read_event().map_err(|e| format!("not XML: {e}"))? {
            Event::Start(e) => {
                stack.push(e.local_name().as_ref().to_owned());
                text = Some(String::new());
            }
            Event::Text(t) => {
                if let Some(buf) = text.as_mut() {
                    buf.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(buf) = text.as_mut() {
                    let name = r.into_inner().into_owned();
                    buf.push_str(match name.as_str() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::End(_) => {
                if stack.ends_with(&path.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
                    && let Some(t) = text.take()
                {
                    out.push(t.trim().to_owned());
                }
                text = None;
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// The root element's local name (`entry`, `feed`, `Error`...).
pub(crate) fn xml_root(xml: &str) -> Option<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) => {
                return Some(e.local_name().as_ref().to_owned());
            }
            Event::Eof => return None,
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_values_are_found_by_local_name_path() {
        let xml = r#"<entry xmlns="http://www.w3.org/2005/Atom"><content><QueueDescription xmlns:d2p1="x">
            <CountDetails><d2p1:ActiveMessageCount>7</d2p1:ActiveMessageCount>
            <d2p1:DeadLetterMessageCount>2</d2p1:DeadLetterMessageCount></CountDetails>
            <MessageCount>9</MessageCount></QueueDescription></content></entry>"#;
        assert_eq!(
            xml_text(xml, &["CountDetails", "ActiveMessageCount"]).unwrap(),
            Some("7".into())
        );
        assert_eq!(xml_root(xml).as_deref(), Some("entry"));
        assert_eq!(xml_text(xml, &["Nope"]).unwrap(), None);
        assert!(xml_text("<a><b></a>", &["b"]).is_err());
    }

    #[test]
    fn clouds_pick_suffixes_and_private_needs_one() {
        let p = |m: &[(&str, &str)]| TriggerParams::new("azure-queue", 0, m.iter().copied());
        let s = |m: &[(&str, &str)]| endpoint_suffix(&p(m), Service::Storage, "endpointSuffix");
        assert_eq!(s(&[]).unwrap(), "core.windows.net");
        assert_eq!(
            s(&[("cloud", "AzureChinaCloud")]).unwrap(),
            "core.chinacloudapi.cn"
        );
        assert_eq!(
            s(&[("cloud", "Private"), ("endpointSuffix", "azurestack.local")]).unwrap(),
            "azurestack.local"
        );
        assert_eq!(
            s(&[("cloud", "Private")]).unwrap_err().key(),
            Some("endpointSuffix")
        );
        assert_eq!(s(&[("cloud", "Mars")]).unwrap_err().key(), Some("cloud"));
        let sb = endpoint_suffix(
            &p(&[("cloud", "AzureUSGovernmentCloud")]),
            Service::ServiceBus,
            "endpointSuffix",
        );
        assert_eq!(sb.unwrap(), "servicebus.usgovcloudapi.net");
    }
}

/// Test helpers: signed requests against Azurite with the well-known dev account.
#[cfg(test)]
pub(crate) mod testing {
    use base64::Engine;

    use super::shared_key;
    use crate::http::{HttpSettings, client_for};
    use crate::testutil::endpoint;

    /// Azurite's dev account name.
    pub(crate) fn account() -> String {
        endpoint("EBB_AZURITE_ACCOUNT", "devstoreaccount1")
    }
    /// Azurite's dev account key.
    pub(crate) fn key() -> String {
        endpoint(
            "EBB_AZURITE_KEY",
            "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
        )
    }
    /// `http://127.0.0.1:10001/devstoreaccount1`.
    pub(crate) fn queue_endpoint() -> String {
        endpoint(
            "EBB_AZURITE_QUEUE_ENDPOINT",
            "http://127.0.0.1:10001/devstoreaccount1",
        )
    }
    /// `http://127.0.0.1:10000/devstoreaccount1`.
    pub(crate) fn blob_endpoint() -> String {
        endpoint(
            "EBB_AZURITE_BLOB_ENDPOINT",
            "http://127.0.0.1:10000/devstoreaccount1",
        )
    }
    /// A connection string with Shared Key for Azurite's queue and blob endpoints.
    pub(crate) fn connection_string() -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={};AccountKey={};BlobEndpoint={};QueueEndpoint={};",
            account(),
            key(),
            blob_endpoint(),
            queue_endpoint()
        )
    }

    /// Fails clearly when Azurite is not running.
    pub(crate) async fn require() {
        let url = url::Url::parse(&queue_endpoint()).unwrap();
        crate::testutil::require(
            "azurite",
            &format!("{}:{}", url.host_str().unwrap(), url.port().unwrap()),
        )
        .await;
        let url = url::Url::parse(&blob_endpoint()).unwrap();
        crate::testutil::require(
            "azurite",
            &format!("{}:{}", url.host_str().unwrap(), url.port().unwrap()),
        )
        .await;
    }

    /// A signed request; panics on a non-2xx answer. Returns the body.
    pub(crate) async fn request(
        verb: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> String {
        let url = url::Url::parse(url).unwrap();
        let mut ms: Vec<(String, String)> = vec![
            (
                "x-ms-date".into(),
                shared_key::http_date(jiff::Timestamp::now()),
            ),
            ("x-ms-version".into(), super::STORAGE_VERSION.into()),
        ];
        for (k, v) in headers {
            if k.starts_with("x-ms-") {
                ms.push(((*k).into(), (*v).into()));
            }
        }
        let content_type = if body.is_empty() {
            ""
        } else {
            "application/octet-stream"
        };
        let to_sign =
            shared_key::string_to_sign_for(verb, body.len(), content_type, &account(), &url, &ms);
        let key = base64::engine::general_purpose::STANDARD
            .decode(key())
            .unwrap();
        let auth = shared_key::sign(&account(), &key, &to_sign).unwrap();
        let client = client_for(&HttpSettings::with_timeout(std::time::Duration::from_secs(
            10,
        )))
        .unwrap();
        let mut req = client
            .request(verb.parse().unwrap(), url.clone())
            .header("Authorization", auth.expose());
        for (k, v) in &ms {
            req = req.header(k, v);
        }
        if !body.is_empty() {
            req = req.header("Content-Type", content_type);
        }
        req = req.header("Content-Length", body.len().to_string());
        let resp = req.body(body.to_owned()).send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{verb} {url}: {status}: {text}");
        text
    }

    /// A signed body-less request; returns the status instead of panicking.
    pub(crate) async fn try_request(verb: &str, url: &str) -> u16 {
        let url = url::Url::parse(url).unwrap();
        let ms: Vec<(String, String)> = vec![
            (
                "x-ms-date".into(),
                shared_key::http_date(jiff::Timestamp::now()),
            ),
            ("x-ms-version".into(), super::STORAGE_VERSION.into()),
        ];
        let to_sign = shared_key::string_to_sign_for(verb, 0, "", &account(), &url, &ms);
        let key = base64::engine::general_purpose::STANDARD
            .decode(key())
            .unwrap();
        let auth = shared_key::sign(&account(), &key, &to_sign).unwrap();
        let client = client_for(&HttpSettings::with_timeout(std::time::Duration::from_secs(
            10,
        )))
        .unwrap();
        let mut req = client
            .request(verb.parse().unwrap(), url)
            .header("Authorization", auth.expose())
            .header("Content-Length", "0");
        for (k, v) in &ms {
            req = req.header(k, v);
        }
        req.send().await.unwrap().status().as_u16()
    }

    /// An account SAS (version 2019-12-12) for `services` (`q`, `b`) expiring at `expiry`.
    pub(crate) fn account_sas(services: &str, expiry: &str) -> String {
        let (sp, srt, spr, sv) = ("rl", "sco", "https,http", "2019-12-12");
        let to_sign = format!(
            "{}\n{sp}\n{services}\n{srt}\n\n{expiry}\n\n{spr}\n{sv}\n",
            account()
        );
        let key = base64::engine::general_purpose::STANDARD
            .decode(key())
            .unwrap();
        let signed = shared_key::sign(&account(), &key, &to_sign).unwrap();
        let sig = signed.expose().rsplit(':').next().unwrap().to_owned();
        format!(
            "sv={sv}&ss={services}&srt={srt}&sp={sp}&se={}&spr={}&sig={}",
            crate::metric::query_escape(expiry),
            crate::metric::query_escape(spr),
            crate::metric::query_escape(&sig)
        )
    }
}
