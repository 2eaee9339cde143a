//! The one small HTTP client of the project (http and https through hyper-rustls): Slack webhooks from the
//! deployer, Slack's `response_url` from the front door.

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::text::truncate;

/// How long one POST may take, connection included.
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One client per process: loading the native root certificates is the slow part.
fn http_client() -> Result<&'static HttpClient, String> {
    static CLIENT: OnceLock<Result<HttpClient, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let tls = rustls::ClientConfig::builder()
                .with_native_roots()
                .map_err(|e| format!("no TLS root certificates: {e}"))?
                .with_no_client_auth();
            let connector =
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
            Ok(Client::builder(TokioExecutor::new()).build(connector))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// POSTs `body` as JSON to an http or https `url` and returns the HTTP status when it is 2xx. Anything else
/// (a refused connection, a time-out after [`POST_TIMEOUT`], a non-2xx answer) is an error whose text never
/// contains the URL, which may be a secret.
pub async fn post_json(url: &str, body: &Value) -> Result<u16, String> {
    let uri: hyper::Uri = url.parse().map_err(|_| "not a valid URL".to_owned())?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err("not an http(s) URL".into());
    }
    let request = hyper::Request::post(uri)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "ecs-deployer")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let client = http_client()?;
    let exchange = async {
        let response = client.request(request).await.map_err(|e| format!("POST failed: {}", error_chain(&e)))?;
        let status = response.status();
        let answer = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        if status.is_success() {
            Ok(status.as_u16())
        } else {
            let text = truncate(String::from_utf8_lossy(&answer).trim(), 200);
            Err(format!("POST answered HTTP {}: {text}", status.as_u16()))
        }
    };
    tokio::time::timeout(POST_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("POST timed out after {} s", POST_TIMEOUT.as_secs()))?
}

/// An error and its causes, joined with `: ` ("client error (Connect): tcp connect error: Connection
/// refused"): hyper's errors say little without their sources.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::one_shot_http;

    #[tokio::test]
    async fn post_json_sends_json_and_returns_the_status() {
        let (url, server) = one_shot_http(200, "/hook/T000/B000").await;
        let status = post_json(&url, &json!({"text": "hello"})).await.unwrap();
        assert_eq!(status, 200);
        let request = server.await.unwrap();
        assert!(request.starts_with("POST /hook/T000/B000 HTTP/1.1\r\n"), "{request}");
        assert!(request.to_ascii_lowercase().contains("content-type: application/json"));
        assert!(request.ends_with(r#"{"text":"hello"}"#), "{request}");
    }

    #[tokio::test]
    async fn post_json_fails_on_refusals_without_showing_the_url() {
        let (url, server) = one_shot_http(404, "/hook").await;
        let err = post_json(&url, &json!({})).await.unwrap_err();
        assert_eq!(err, "POST answered HTTP 404: no_text");
        server.await.unwrap();

        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/secret-path", l.local_addr().unwrap())
        };
        let err = post_json(&closed, &json!({})).await.unwrap_err();
        assert!(err.starts_with("POST failed") && !err.contains("secret-path"), "{err}");
        for bad in ["ftp://example.com/x", "/relative", "not a url"] {
            assert!(post_json(bad, &json!({})).await.is_err(), "{bad}");
        }
    }
}
