//! [`Probe`] over hyper-rustls (http and https), the crates the AWS SDK already builds. Redirects are not
//! followed (a 3xx is judged as it is), so a request never reaches a host the configuration did not name.

use std::sync::OnceLock;
use std::time::Instant;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use contract::http::error_chain;

use crate::check::{Observed, BODY_LIMIT};
use crate::ports::{Probe, ProbeRequest};

type HttpClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// The HTTP client of the checks, built on first use (loading the root certificates is the slow part).
#[derive(Default)]
pub struct HyperProbe {
    client: OnceLock<Result<HttpClient, String>>,
}

impl HyperProbe {
    fn client(&self) -> Result<&HttpClient, String> {
        self.client
            .get_or_init(|| {
                let tls = rustls::ClientConfig::builder()
                    .with_native_roots()
                    .map_err(|e| format!("no TLS root certificates: {e}"))?
                    .with_no_client_auth();
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http1()
                    .build();
                Ok(Client::builder(TokioExecutor::new()).build(connector))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl Probe for HyperProbe {
    async fn request(&self, r: ProbeRequest<'_>) -> Result<Observed, String> {
        let client = self.client()?;
        let mut request = hyper::Request::builder()
            .method(r.check.method.clone())
            .uri(r.check.url.clone())
            .header(hyper::header::USER_AGENT, "ecs-deployer-hook");
        for (name, value) in r.headers {
            request = request.header(name, value);
        }
        let request = request.body(Empty::new()).map_err(|_| "cannot build the request".to_owned())?;
        let started = Instant::now();
        let exchange = async {
            let response = client.request(request).await.map_err(|e| error_chain(&e))?;
            let status = response.status().as_u16();
            // Read at most BODY_LIMIT bytes; a longer body is judged on what was read.
            let mut body = response.into_body();
            let mut bytes = Vec::new();
            while bytes.len() < BODY_LIMIT {
                match body.frame().await {
                    None => break,
                    Some(Ok(frame)) => {
                        if let Ok(data) = frame.into_data() {
                            bytes.extend_from_slice(&data);
                        }
                    }
                    Some(Err(e)) => return Err(format!("the body broke off: {e}")),
                }
            }
            bytes.truncate(BODY_LIMIT);
            Ok(Observed { status, body: bytes, latency: started.elapsed() })
        };
        match tokio::time::timeout(r.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(format!("no complete answer within {} ms", r.timeout.as_millis())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use contract::testing::one_shot_http;
    use hyper::header::{HeaderName, HeaderValue};
    use hyper::{Method, Uri};

    use super::*;
    use crate::config::HttpCheck;

    fn check(url: &str) -> HttpCheck {
        HttpCheck {
            url: url.parse::<Uri>().unwrap(),
            method: Method::GET,
            expect_status: 200,
            body_contains: None,
            json_pointer: None,
            json_equals: None,
            max_latency: Duration::from_secs(2),
            requests: 1,
            interval: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn requests_carry_method_and_headers_and_answers_are_read() {
        let (url, server) = one_shot_http(503, "/health?x=1").await;
        let mut c = check(&url);
        c.method = Method::HEAD;
        let headers = [(HeaderName::from_static("x-token"), HeaderValue::from_static("t0ken"))];
        let probe = HyperProbe::default();
        let seen = probe.request(ProbeRequest { check: &c, headers: &headers, timeout: Duration::from_secs(5) }).await;
        let request = server.await.unwrap();
        assert!(request.starts_with("HEAD /health?x=1 HTTP/1.1\r\n"), "{request}");
        assert!(request.to_ascii_lowercase().contains("x-token: t0ken"), "{request}");
        assert_eq!(seen.unwrap().status, 503);

        let (url, server) = one_shot_http(200, "/").await;
        let seen = probe
            .request(ProbeRequest { check: &check(&url), headers: &[], timeout: Duration::from_secs(5) })
            .await
            .unwrap();
        assert_eq!((seen.status, seen.body.as_slice()), (200, b"no_text".as_slice()));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn refusals_and_silence_are_reasons_without_the_url() {
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/p?token=s3cr3t", l.local_addr().unwrap())
        };
        let probe = HyperProbe::default();
        let err = probe
            .request(ProbeRequest { check: &check(&closed), headers: &[], timeout: Duration::from_secs(5) })
            .await
            .unwrap_err();
        assert!(!err.contains("s3cr3t") && err.contains("onnect"), "{err}");

        // A server that accepts and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", silent.local_addr().unwrap());
        let hold = tokio::spawn(async move { silent.accept().await.map(|(s, _)| s) });
        let err = probe
            .request(ProbeRequest { check: &check(&url), headers: &[], timeout: Duration::from_millis(200) })
            .await
            .unwrap_err();
        assert_eq!(err, "no complete answer within 200 ms");
        drop(hold);
    }
}
