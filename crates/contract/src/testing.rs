//! Test support shared by both functions' tests (feature `test-util`): never in a release build.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A one-shot HTTP server on 127.0.0.1: `url` is `http://127.0.0.1:<port><path>`; it answers one request
/// with `status` and the body `no_text`, and hands over the request it read (head and body) as text.
pub async fn one_shot_http(status: u16, path: &str) -> (String, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let url = format!("http://{}{path}", listener.local_addr().expect("local address"));
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accept");
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.expect("read");
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if seen.len() >= end + 4 + length {
                    break;
                }
            }
            if n == 0 {
                break;
            }
        }
        let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 7\r\nconnection: close\r\n\r\nno_text");
        socket.write_all(answer.as_bytes()).await.expect("write");
        String::from_utf8_lossy(&seen).to_string()
    });
    (url, task)
}

/// The JSON body of a request [`one_shot_http`] handed over.
pub fn json_body(request: &str) -> serde_json::Value {
    let start = request.find("\r\n\r\n").map_or(0, |i| i + 4);
    serde_json::from_str(&request[start..]).expect("a JSON body")
}
