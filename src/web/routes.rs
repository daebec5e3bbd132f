//! The HTTP surface: `/metrics` (or `--web.telemetry-path`) with format
//! negotiation, a landing page, `/kills`, `/report` ([`super::report`]),
//! `/-/healthy` and `/-/ready`. Other paths
//! answer 404; other methods 405 (HEAD is answered like GET).
//!
//! A scrape has a deadline: Prometheus' `X-Prometheus-Scrape-Timeout-Seconds`
//! less [`TIMEOUT_OFFSET`], else `--web.scrape-timeout` (see
//! [`scrape_timeout`]). `/-/ready` answers 503 while a collector is stuck
//! (see [`crate::collectors::Exporter::stuck`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;

use crate::cgroup::userspace::history::{History, UserspaceKill};
use crate::collectors::Exporter;
use crate::kmsg::tracker::{Entry, Tracker};

/// Part of Prometheus' scrape timeout left unused, so the answer (with the
/// late collectors failed) arrives before Prometheus gives up: the 0.5 s
/// that blackbox_exporter's `--timeout-offset` defaults to.
pub const TIMEOUT_OFFSET: Duration = Duration::from_millis(500);

/// Longest scrape deadline, whatever the header asks.
pub const MAX_SCRAPE_TIMEOUT: Duration = Duration::from_secs(300);

/// Shortest scrape deadline, whatever the header asks (and the least
/// `--web.scrape-timeout` takes): a collector still running at its
/// scrape's deadline counts as stuck for every later scrape, so a client
/// asking for a few nanoseconds would otherwise fail everyone's scrapes.
pub const MIN_SCRAPE_TIMEOUT: Duration = Duration::from_secs(1);

/// The header Prometheus sends with its `scrape_timeout`, in seconds.
pub const SCRAPE_TIMEOUT_HEADER: &str = "x-prometheus-scrape-timeout-seconds";

/// `Content-Type` of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The registry encoded at every scrape, before the collectors.
    pub registry: Registry,
    /// The collectors, run at every scrape.
    pub exporter: Arc<Exporter>,
    /// Deadline of a scrape without the Prometheus header.
    pub scrape_timeout: Duration,
    /// Where metrics are served.
    pub telemetry_path: String,
    /// The kmsg reader's state, for `/kills` (None when kmsg is disabled).
    pub tracker: Option<Arc<Tracker>>,
    /// The userspace kills the cgroup collector saw, for `/kills`.
    pub userspace: Arc<History>,
    /// Scrapes allowed at once (`--web.max-requests`); more get 503.
    pub scrapes: Arc<tokio::sync::Semaphore>,
    /// Where `/report` reads what is true now (None: it says nothing of now).
    pub report_roots: Option<super::report::Roots>,
}

/// Builds the router; tests call it directly with `tower::ServiceExt::oneshot`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(landing))
        .route(&state.telemetry_path, get(metrics))
        .route("/kills", get(kills))
        .route("/report", get(super::report::report))
        .route("/-/healthy", get(|| async { "Healthy\n" }))
        .route("/-/ready", get(ready))
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .with_state(state)
}

/// 200 `Ready`, or 503 naming the collectors stuck in a read.
async fn ready(State(state): State<Arc<AppState>>) -> Response {
    let stuck = state.exporter.stuck(Instant::now());
    if stuck.is_empty() {
        return "Ready\n".into_response();
    }
    let mut body = String::from("Not ready: ");
    for (i, s) in stuck.iter().enumerate() {
        if i > 0 {
            body.push_str(", ");
        }
        body.push_str(&format!(
            "collector {} stuck in a read for {:.0}s",
            s.collector,
            s.blocked_for.as_secs_f64()
        ));
    }
    body.push_str(" (reported failed in every scrape until the read returns)\n");
    (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
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
         <li><a href=\"/report\">Report of the last OOM kill (Markdown)</a></li>\n\
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

/// A kernel or a userspace kill in `/kills`.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum AnyKill {
    Kernel(Box<Entry>),
    Userspace(Box<UserspaceKill>),
}

impl AnyKill {
    fn time(&self) -> Option<&str> {
        match self {
            Self::Kernel(e) => e.kill.time.as_deref(),
            Self::Userspace(k) => k.time.as_deref(),
        }
    }
}

/// The last kills (newest first, bounded by `--collector.kmsg.history` for
/// each of the kernel's and the userspace killers'), including those from
/// before start, flagged `before_start`; `killer` tells whose.
async fn kills(State(state): State<Arc<AppState>>, Query(q): Query<KillsQuery>) -> Response {
    let Some(tracker) = &state.tracker else {
        return (StatusCode::NOT_FOUND, "the kmsg collector is disabled\n").into_response();
    };
    let limit = q.limit.unwrap_or(usize::MAX);
    let mut entries: Vec<AnyKill> = tracker
        .recent(limit)
        .into_iter()
        .map(|e| AnyKill::Kernel(Box::new(e)))
        .chain(
            state
                .userspace
                .recent(limit)
                .into_iter()
                .map(|k| AnyKill::Userspace(Box::new(k))),
        )
        .collect();
    // Newest first: RFC 3339 UTC times sort as text.
    entries.sort_by(|a, b| b.time().cmp(&a.time()));
    entries.truncate(limit);
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
    let timeout = scrape_timeout(headers.get(SCRAPE_TIMEOUT_HEADER), state.scrape_timeout);
    let deadline = Instant::now() + timeout;
    // The collectors run on threads of their own (they do blocking file
    // I/O); this task only waits for them, until the deadline. The
    // registry is encoded after them (and written before them), so what it
    // reports of their work (the name cache) is this scrape's.
    let encoded = match state.exporter.scrape(openmetrics, deadline).await {
        Ok(rest) => match encode(&state.registry, openmetrics) {
            Ok(mut body) => {
                body.push_str(&rest);
                if openmetrics {
                    text::encode_eof(&mut body).map(|()| body)
                } else {
                    Ok(body)
                }
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match encoded {
        Ok(body) => {
            let content_type = if openmetrics {
                OPENMETRICS_CONTENT_TYPE
            } else {
                prometheus_text::CONTENT_TYPE
            };
            ([(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "encoding metrics failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding metrics failed\n",
            )
                .into_response()
        }
    }
}

/// Encodes the registry in the chosen format, without OpenMetrics' `# EOF`
/// (the collectors' families follow).
pub fn encode(registry: &Registry, openmetrics: bool) -> Result<String, std::fmt::Error> {
    let mut body = String::with_capacity(16 * 1024);
    if openmetrics {
        text::encode_registry(&mut body, registry)?;
    } else {
        prometheus_text::encode(&mut body, registry)?;
    }
    Ok(body)
}

/// How long a scrape may take: Prometheus' scrape timeout from `header`
/// less [`TIMEOUT_OFFSET`], from [`MIN_SCRAPE_TIMEOUT`] to
/// [`MAX_SCRAPE_TIMEOUT`]; `default` without a usable header (absent, not
/// a positive number of seconds).
pub fn scrape_timeout(header: Option<&HeaderValue>, default: Duration) -> Duration {
    let asked = header
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs > 0.0);
    match asked {
        Some(secs) => {
            let secs = (secs - TIMEOUT_OFFSET.as_secs_f64()).clamp(
                MIN_SCRAPE_TIMEOUT.as_secs_f64(),
                MAX_SCRAPE_TIMEOUT.as_secs_f64(),
            );
            Duration::from_secs_f64(secs)
        }
        None => default,
    }
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
            exporter: Exporter::new(Vec::new()),
            scrape_timeout: Duration::from_secs(10),
            telemetry_path: "/metrics".to_owned(),
            tracker: None,
            userspace: Arc::new(History::new(0)),
            scrapes: Arc::new(tokio::sync::Semaphore::new(40)),
            report_roots: None,
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

    #[test]
    fn scrape_timeout_from_the_prometheus_header() {
        let default = Duration::from_secs(10);
        let t = |v: &str| scrape_timeout(Some(&HeaderValue::from_str(v).unwrap()), default);
        assert_eq!(scrape_timeout(None, default), default);
        assert_eq!(t("10"), Duration::from_millis(9500));
        assert_eq!(t("2.5"), Duration::from_secs(2));
        // Never under a second, so a client cannot make every collector
        // overrun (and count as stuck for everyone else's scrapes).
        assert_eq!(t("1.2"), MIN_SCRAPE_TIMEOUT);
        assert_eq!(t("0.5"), MIN_SCRAPE_TIMEOUT);
        assert_eq!(t("0.0000001"), MIN_SCRAPE_TIMEOUT);
        assert_eq!(t("1e9"), MAX_SCRAPE_TIMEOUT);
        for bad in ["", "0", "-3", "ten", "NaN", "inf"] {
            assert_eq!(t(bad), default, "{bad:?}");
        }
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
