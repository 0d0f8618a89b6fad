//! A Service Bus / Event Hubs namespace from a connection string, and SAS-signed REST GETs to it.

use std::sync::Arc;

use super::ConnectionString;
use super::sas;
use crate::error::{ConfigError, MeasureError};
use crate::http::{self, HttpAuth, HttpClient, HttpGet};
use crate::poll::Poll;
use crate::secret::SecretString;

/// How requests to the namespace authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NamespaceAuth {
    /// A key: a fresh SAS token is signed per poll.
    Key {
        /// `SharedAccessKeyName`.
        name: String,
        /// `SharedAccessKey`.
        key: SecretString,
    },
    /// A ready-made `SharedAccessSignature` token.
    Token(SecretString),
}

/// A namespace: its host and credentials, and the entity the connection string names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Namespace {
    /// `ns.servicebus.windows.net`.
    pub fqdn: String,
    /// Where REST requests go: `https://<fqdn>` (tests point it at a local server).
    pub base_url: String,
    /// `EntityPath`, if any.
    pub entity_path: Option<String>,
    /// Credentials.
    pub auth: NamespaceAuth,
}

impl Namespace {
    /// From the connection string in parameter `key` (its value is never printed).
    pub fn from_connection_string(key: &str, raw: &SecretString) -> Result<Self, ConfigError> {
        let cs = ConnectionString::parse(key, raw)?;
        let endpoint = cs
            .get("Endpoint")
            .ok_or_else(|| ConfigError::invalid(key, "the connection string has no Endpoint"))?;
        let url = url::Url::parse(endpoint).map_err(|_| {
            ConfigError::invalid(key, "the connection string's Endpoint is not a URL")
        })?;
        let fqdn = url
            .host_str()
            .ok_or_else(|| {
                ConfigError::invalid(key, "the connection string's Endpoint has no host")
            })?
            .to_owned();
        let auth = if let Some(token) = cs.secret("SharedAccessSignature") {
            NamespaceAuth::Token(token.clone())
        } else {
            match (cs.get("SharedAccessKeyName"), cs.secret("SharedAccessKey")) {
                (Some(name), Some(k)) => NamespaceAuth::Key {
                    name: name.to_owned(),
                    key: k.clone(),
                },
                _ => {
                    return Err(ConfigError::invalid(
                        key,
                        "the connection string needs SharedAccessKeyName and SharedAccessKey (or SharedAccessSignature)",
                    ));
                }
            }
        };
        Ok(Self {
            base_url: format!("https://{fqdn}"),
            fqdn,
            entity_path: cs.get("EntityPath").map(str::to_owned),
            auth,
        })
    }

    /// GETs `<base_url>/<path>?api-version=<version>` once per poll with a SAS token.
    pub(crate) async fn get(
        &self,
        poll: &Poll,
        client: &Arc<HttpClient>,
        path: &str,
        api_version: &str,
        what: &str,
    ) -> Result<Arc<String>, MeasureError> {
        let token = match &self.auth {
            NamespaceAuth::Token(t) => t.clone(),
            NamespaceAuth::Key { name, key } => {
                // Signed for the namespace, valid an hour from this poll (one token per poll,
                // so identical requests in a poll still match).
                let expiry = poll.now().as_second() + sas::TOKEN_LIFETIME_SECS;
                sas::service_bus_token(&format!("https://{}/", self.fqdn), name, key, expiry)
            }
        };
        let mut req = HttpGet::new(format!("{}/{path}", self.base_url));
        req.query.push(("api-version".into(), api_version.into()));
        req.auth = HttpAuth::Header("Authorization".into(), token);
        Ok(http::get(poll, client, &req, what).await?.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_strings_name_host_entity_and_key() {
        let ns = Namespace::from_connection_string(
            "connection",
            &SecretString::new("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=listen;SharedAccessKey=k3y=;EntityPath=hub"),
        )
        .unwrap();
        assert_eq!(ns.fqdn, "ns.servicebus.windows.net");
        assert_eq!(ns.base_url, "https://ns.servicebus.windows.net");
        assert_eq!(ns.entity_path.as_deref(), Some("hub"));
        assert!(
            matches!(&ns.auth, NamespaceAuth::Key { name, key } if name == "listen" && key.expose() == "k3y=")
        );
        let err = Namespace::from_connection_string(
            "connection",
            &SecretString::new("Endpoint=sb://ns/;SharedAccessKey=canary-5ecret-9f3a"),
        )
        .unwrap_err();
        assert_eq!(err.key(), Some("connection"));
        assert!(!err.to_string().contains("5ecret"));
    }
}
