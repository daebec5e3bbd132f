//! The exporter's metrics about its own web layer.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::UNIX_EPOCH;

use prometheus_client::encoding::DescriptorEncoder;

use super::settings::Web;
use crate::metrics::{self, Counter, IfEmpty, MetricWriter};

/// The exporter's metrics about its web layer: connections refused by the
/// limits, and with `--web.config.file` the reload status, password checks
/// and the certificate's expiry.
pub struct WebMetrics(pub Arc<Web>);

impl std::fmt::Debug for WebMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebMetrics")
    }
}

impl prometheus_client::collector::Collector for WebMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let web = &self.0;
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut out = MetricWriter::new(&mut encoder);
        out.family::<Counter, _>(
            "exporter_web_connections_refused",
            "Connections closed at once by a limit: per_client (--web.max-connections-per-client) or total (512 open)",
            None,
            &[
                (&[("limit", "per_client")], count(&web.counters.refused_per_client)),
                (&[("limit", "total")], count(&web.counters.refused_total)),
            ], IfEmpty::Declare,
        )?;
        if web.path.is_none() {
            return Ok(());
        }
        out.family::<Counter, _>(
            "exporter_web_password_checks",
            "Basic auth bcrypt checks: ok, failed, or refused with 429 (too many at once, or the client failed too often); remembered credentials are not checked again",
            None,
            &[
                (&[("result", "ok")], count(&web.counters.checks_ok)),
                (&[("result", "failed")], count(&web.counters.checks_failed)),
                (&[("result", "refused")], count(&web.counters.checks_refused)),
            ], IfEmpty::Declare,
        )?;
        let status = *web.status.lock().unwrap_or_else(PoisonError::into_inner);
        out.gauge(
            "exporter_web_config_last_reload_successful",
            "Whether the last load of --web.config.file succeeded (1) or was refused, the previous settings kept (0)",
            None,
            i64::from(status.successful),
        )?;
        out.gauge(
            "exporter_web_config_last_reload_success_timestamp",
            "When --web.config.file was last loaded successfully (at start or on reload), in seconds since the Unix epoch",
            metrics::seconds(),
            status
                .at
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        )?;
        if let Some(not_after) = web.current().not_after {
            out.gauge(
                "exporter_web_tls_certificate_not_after_timestamp",
                "Expiry (notAfter) of the TLS certificate being served, in seconds since the Unix epoch",
                metrics::seconds(),
                not_after,
            )?;
        }
        Ok(())
    }
}
