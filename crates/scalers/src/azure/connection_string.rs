//! Azure connection strings (`Key=Value;Key=Value`): storage accounts, Service Bus and Event Hubs.

use std::collections::BTreeMap;

use crate::error::ConfigError;
use crate::secret::SecretString;

/// A parsed connection string. Keys are matched case-insensitively, as the Azure SDKs do; the
/// secret parts (`AccountKey`, `SharedAccessKey`, `SharedAccessSignature`) stay `SecretString`s.
#[derive(Clone, Default)]
pub struct ConnectionString {
    plain: BTreeMap<String, String>,
    secrets: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionString")
            .field(
                "keys",
                &self
                    .plain
                    .keys()
                    .chain(self.secrets.keys())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

const SECRET_KEYS: &[&str] = &["accountkey", "sharedaccesskey", "sharedaccesssignature"];

impl ConnectionString {
    /// Parses `raw` (the value of parameter `key`, named in errors; the value is never printed).
    pub fn parse(key: &str, raw: &SecretString) -> Result<Self, ConfigError> {
        let mut parsed = Self::default();
        for part in raw
            .expose()
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            // Values (keys, SAS tokens) may contain '=': split at the first one only.
            let Some((name, value)) = part.split_once('=') else {
                return Err(ConfigError::invalid(
                    key,
                    "not a connection string: every part must be Key=Value",
                ));
            };
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            if SECRET_KEYS.contains(&name.as_str()) {
                parsed.secrets.insert(name, SecretString::new(value));
            } else {
                parsed.plain.insert(name, value.to_owned());
            }
        }
        if parsed.plain.is_empty() && parsed.secrets.is_empty() {
            return Err(ConfigError::invalid(key, "the connection string is empty"));
        }
        Ok(parsed)
    }

    /// A non-secret part, e.g. `get("AccountName")`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.plain
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A secret part (`AccountKey`, `SharedAccessKey`, `SharedAccessSignature`).
    pub fn secret(&self, name: &str) -> Option<&SecretString> {
        self.secrets
            .get(&name.to_ascii_lowercase())
            .filter(|v| !v.expose().is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_case_insensitive_and_values_keep_their_equals_signs() {
        let raw = SecretString::new(
            "DefaultEndpointsProtocol=https;accountname=acct;AccountKey=a2V5==;EndpointSuffix=core.windows.net",
        );
        let cs = ConnectionString::parse("connection", &raw).unwrap();
        assert_eq!(cs.get("AccountName"), Some("acct"));
        assert_eq!(cs.secret("accountKey").unwrap().expose(), "a2V5==");
        assert!(!format!("{cs:?}").contains("a2V5"));
        let err =
            ConnectionString::parse("connection", &SecretString::new("nonsense")).unwrap_err();
        assert_eq!(err.key(), Some("connection"));
        assert!(!err.to_string().contains("nonsense"));
    }
}
