//! The HTTP surface: `/metrics` (or `--web.telemetry-path`) with format
//! negotiation, a landing page, `/-/healthy` and `/-/ready`. Other paths
//! answer 404; other methods 405 (HEAD is answered like GET).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;

use crate::kmsg::tracker::Tracker;

/// `Content-Type` of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The registry encoded at every scrape.
    pub registry: Registry,
    /// Where metrics are served.
    pub telemetry_path: String,
    /// The kmsg reader's state, for `/kills` (None when kmsg is disabled).
    pub tracker: Option<Arc<Tracker>>,
    /// Scrapes allowed at once (`--web.max-requests`); more get 503.
    pub scrapes: Arc<tokio::sync::Semaphore>,
}

/// Builds the router; tests call it directly with `tower::ServiceExt::oneshot`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(landing))
        .route(&state.telemetry_path, get(metrics))
        .route("/kills", get(kills))
        .route("/-/healthy", get(|| async { "Healthy\n" }))
        .route("/-/ready", get(|| async { "Ready\n" }))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .with_state(state)
}

async fn landing(State(state): State<Arc<AppState>>) -> Html<String> {
    let path = &state.telemetry_path;
    Html(format!(
        "<!DOCTYPE html>\n<html><head><title>oom_exporter</title></head><body>\n\
         <h1>oom_exporter</h1>\n\
         <p>Tells you the Linux OOM killer is coming, and whom it killed.</p>\n\
         <p>Version {version} (revision {revision})</p>\n\
         <ul>\n<li><a href=\"{path}\">Metrics</a></li>\n\
         <li><a href=\"/kills\">Recent OOM kills (JSON)</a></li>\n\
         <li><a href=\"/-/healthy\">Health</a></li>\n\
         <li><a href=\"/-/ready\">Readiness</a></li>\n</ul>\n</body></html>\n",
        version = crate::VERSION,
        revision = crate::REVISION,
    ))
}

/// `?limit=N` for `/kills`.
#[derive(Debug, serde::Deserialize)]
struct KillsQuery {
    limit: Option<usize>,
}

/// The last kills (newest first, bounded by `--collector.kmsg.history`),
/// including those from before start, flagged `before_start`.
async fn kills(State(state): State<Arc<AppState>>, Query(q): Query<KillsQuery>) -> Response {
    let Some(tracker) = &state.tracker else {
        return (StatusCode::NOT_FOUND, "the kmsg collector is disabled\n").into_response();
    };
    let entries = tracker.recent(q.limit.unwrap_or(usize::MAX));
    match serde_json::to_string(&entries) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(error) => {
            tracing::error!(%error, "encoding /kills failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "encoding failed\n").into_response()
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Ok(_permit) = Arc::clone(&state.scrapes).try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many concurrent scrapes (--web.max-requests)\n",
        )
            .into_response();
    };
    let openmetrics = wants_openmetrics(headers.get(header::ACCEPT));
    // Collectors do blocking file I/O: keep it off the async workers.
    let encoded = tokio::task::spawn_blocking(move || encode(&state.registry, openmetrics)).await;
    match encoded {
        Ok(Ok(body)) => {
            let content_type = if openmetrics {
                OPENMETRICS_CONTENT_TYPE
            } else {
                prometheus_text::CONTENT_TYPE
            };
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Ok(Err(error)) => {
            tracing::error!(%error, "encoding metrics failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding metrics failed\n",
            )
                .into_response()
        }
        Err(error) => {
            tracing::error!(%error, "scrape task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "scrape failed\n").into_response()
        }
    }
}

/// Encodes the registry in the chosen format.
pub fn encode(registry: &Registry, openmetrics: bool) -> Result<String, std::fmt::Error> {
    let mut body = String::with_capacity(16 * 1024);
    if openmetrics {
        text::encode(&mut body, registry)?;
    } else {
        prometheus_text::encode(&mut body, registry)?;
    }
    Ok(body)
}

/// True when the `Accept` header prefers OpenMetrics to the 0.0.4 text
/// format: OpenMetrics must be listed explicitly with a quality at least as
/// high as `text/plain`'s. Without a header, or with `*/*`, the answer is text.
pub fn wants_openmetrics(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let (mut openmetrics, mut plain) = (0.0_f32, 0.0_f32);
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/openmetrics-text" => openmetrics = openmetrics.max(q),
            "text/plain" => plain = plain.max(q),
            _ => {}
        }
    }
    openmetrics > 0.0 && openmetrics >= plain
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Method, Request};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn app() -> Router {
        router(Arc::new(AppState {
            registry: Registry::with_prefix("oom"),
            telemetry_path: "/metrics".to_owned(),
            tracker: None,
            scrapes: Arc::new(tokio::sync::Semaphore::new(40)),
        }))
    }

    async fn call(method: Method, uri: &str, accept: Option<&str>) -> (StatusCode, String, String) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(accept) = accept {
            req = req.header(header::ACCEPT, accept);
        }
        let resp = app()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let ctype = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, ctype, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn routes_statuses_and_formats() {
        assert_eq!(
            call(Method::GET, "/nope", None).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            call(Method::POST, "/metrics", None).await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        let (status, ctype, _) = call(Method::GET, "/metrics", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ctype, prometheus_text::CONTENT_TYPE);
        let (_, ctype, body) = call(
            Method::GET,
            "/metrics",
            Some("application/openmetrics-text"),
        )
        .await;
        assert_eq!(ctype, OPENMETRICS_CONTENT_TYPE);
        assert!(body.ends_with("# EOF\n"));
        assert_eq!(call(Method::GET, "/-/ready", None).await.0, StatusCode::OK);
    }

    fn accept(s: &str) -> bool {
        wants_openmetrics(Some(&HeaderValue::from_str(s).unwrap()))
    }

    #[test]
    fn negotiation() {
        assert!(!wants_openmetrics(None));
        assert!(!accept("*/*"));
        assert!(!accept("text/plain;version=0.0.4"));
        assert!(accept("application/openmetrics-text; version=1.0.0"));
        // Prometheus 2.x/3.x scrape header.
        assert!(accept(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        ));
        assert!(!accept(
            "application/openmetrics-text;q=0.2,text/plain;q=0.9"
        ));
        assert!(!accept("application/openmetrics-text;q=0"));
    }
}
