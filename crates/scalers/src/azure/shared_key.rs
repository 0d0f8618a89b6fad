//! Azure Storage Shared Key request signing (`Authorization: SharedKey <account>:<signature>`).
//!
//! String-to-sign for the Blob and Queue services, version 2015-02-21 and later:
//! `VERB\n` + eleven standard headers (all empty for our GETs) + canonicalized `x-ms-*` headers +
//! canonicalized resource `/<account><path>` followed by `\n<name>:<value>` per query parameter,
//! names lower-cased and sorted.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::secret::SecretString;

/// `x-ms-date` format (RFC 1123, always GMT).
pub(crate) fn http_date(now: jiff::Timestamp) -> String {
    now.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The `Authorization` header value for a GET of `url` with `ms_headers` (`x-ms-*`, lower-case).
///
/// Fails only when the account key is not base64 (a config problem, reported without the key).
pub(crate) fn authorization(
    account: &str,
    key: &SecretString,
    url: &url::Url,
    ms_headers: &[(String, String)],
) -> Result<SecretString, &'static str> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(key.expose().trim())
        .map_err(|_| "the account key is not valid base64")?;
    let to_sign = string_to_sign(account, url, ms_headers);
    sign(account, &key, &to_sign)
}

/// `SharedKey <account>:<base64 HMAC-SHA256(key, to_sign)>`.
pub(crate) fn sign(account: &str, key: &[u8], to_sign: &str) -> Result<SecretString, &'static str> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|_| "the account key is empty")?;
    mac.update(to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Ok(SecretString::new(format!(
        "SharedKey {account}:{signature}"
    )))
}

/// The string to sign for a body-less GET.
pub(crate) fn string_to_sign(
    account: &str,
    url: &url::Url,
    ms_headers: &[(String, String)],
) -> String {
    string_to_sign_for("GET", 0, "", account, url, ms_headers)
}

/// The string to sign for `verb` with a body of `content_length` bytes of `content_type`.
pub(crate) fn string_to_sign_for(
    verb: &str,
    content_length: usize,
    content_type: &str,
    account: &str,
    url: &url::Url,
    ms_headers: &[(String, String)],
) -> String {
    // Content-Encoding, -Language, -Length (empty when 0), -MD5, -Type, Date, If-Modified-Since,
    // If-Match, If-None-Match, If-Unmodified-Since, Range.
    let length = if content_length == 0 {
        String::new()
    } else {
        content_length.to_string()
    };
    let mut out = format!("{verb}\n\n\n{length}\n\n{content_type}\n\n\n\n\n\n\n");
    let mut headers: Vec<(String, String)> = ms_headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    headers.sort();
    for (k, v) in headers {
        out.push_str(&k);
        out.push(':');
        out.push_str(&v);
        out.push('\n');
    }
    out.push('/');
    out.push_str(account);
    out.push_str(url.path());
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
        .collect();
    params.sort();
    let mut i = 0;
    while i < params.len() {
        let name = params[i].0.clone();
        let mut values = Vec::new();
        while i < params.len() && params[i].0 == name {
            values.push(params[i].1.clone());
            i += 1;
        }
        out.push('\n');
        out.push_str(&name);
        out.push(':');
        out.push_str(&values.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_sign_canonicalizes_headers_and_query() {
        let url = url::Url::parse(
            "http://127.0.0.1:10001/devstoreaccount1/jobs/messages?peekonly=true&NumOfMessages=32",
        )
        .unwrap();
        let s = string_to_sign(
            "devstoreaccount1",
            &url,
            &[
                ("x-ms-version".into(), "2021-08-06".into()),
                ("x-ms-date".into(), "Mon, 01 Jan 2024 00:00:00 GMT".into()),
            ],
        );
        assert_eq!(
            s,
            "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:Mon, 01 Jan 2024 00:00:00 GMT\nx-ms-version:2021-08-06\n\
             /devstoreaccount1/devstoreaccount1/jobs/messages\nnumofmessages:32\npeekonly:true"
        );
    }

    #[test]
    fn bad_keys_are_reported_without_the_key() {
        let url = url::Url::parse("https://a.queue.core.windows.net/q").unwrap();
        let err = authorization("a", &SecretString::new("not base64!"), &url, &[]).unwrap_err();
        assert!(!err.contains("base64!"));
    }
}
