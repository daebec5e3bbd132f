//! Basic auth and the configured extra headers, applied to every path.
//!
//! Remembered credentials pass at once; any other check runs bcrypt on a
//! blocking thread, admitted by the [`AuthGate`](super::authgate::AuthGate)
//! so one client cannot lock out another (429 when refused).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use super::clients::ClientKey;
use super::settings::Web;

/// The client address of a request's connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Client(pub(super) ClientKey);

/// Basic auth and extra headers from the current settings, on every path.
pub(super) async fn web_layer(
    State(web): State<Arc<Web>>,
    request: Request,
    next: Next,
) -> Response {
    let settings = web.current();
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let authorized = if !settings.needs_auth() {
        true
    } else if let Some((user, password)) = credentials(authorization) {
        let known = settings.users.get(&user);
        if known.is_some_and(|hash| web.gate.remembered(&user, &password, hash)) {
            true
        } else {
            let client = request.extensions().get::<Client>().map(|c| c.0);
            match web.gate.admit(client, Instant::now()) {
                Err(refusal) => {
                    web.counters.checks_refused.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(client = ?client, %refusal, "password check refused");
                    return (StatusCode::TOO_MANY_REQUESTS, format!("{refusal}\n")).into_response();
                }
                Ok(permit) => {
                    // bcrypt is slow on purpose: keep it off the async workers.
                    let settings = Arc::clone(&settings);
                    let web = Arc::clone(&web);
                    tokio::task::spawn_blocking(move || {
                        let ok = settings.verify(&user, &password);
                        match settings.users.get(&user) {
                            Some(hash) if ok => {
                                web.counters.checks_ok.fetch_add(1, Ordering::Relaxed);
                                web.gate.remember(&user, &password, hash);
                            }
                            _ => {
                                web.counters.checks_failed.fetch_add(1, Ordering::Relaxed);
                                if permit.failed(Instant::now()) {
                                    tracing::warn!(
                                        client = %client.map_or_else(|| "unknown".to_owned(), |c| c.to_string()),
                                        "too many failed password checks from this client; answering 429 without checking until its budget refills"
                                    );
                                }
                            }
                        }
                        drop(permit);
                        ok
                    })
                    .await
                    .unwrap_or(false)
                }
            }
        }
    } else {
        false
    };
    let mut response = if authorized {
        next.run(request).await
    } else {
        let mut r = (StatusCode::UNAUTHORIZED, "401 Unauthorized\n").into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oom_exporter\""),
        );
        r
    };
    for (name, value) in &settings.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// User and password from an `Authorization: Basic` header value.
pub(crate) fn credentials(authorization: Option<&str>) -> Option<(String, String)> {
    authorization.and_then(parse_basic)
}

fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}
