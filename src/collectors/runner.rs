//! Runs the collectors of one scrape under the scrape's deadline.
//!
//! Each collector runs on a thread of its own and encodes its families into
//! a buffer of its own; the scrape waits for them until its deadline, then
//! joins the buffers in collector order. A collector still running then is
//! reported failed for that scrape and its run is marked overdue: while an
//! overdue run has not returned (a read blocked on a hung mount, a FIFO),
//! the collector is *stuck*: later scrapes report it failed at once instead
//! of starting it again, so blocked threads cannot pile up, and
//! [`Exporter::stuck`] names it for `/-/ready`. The stuck thread is never
//! waited for: it ends with the process.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use prometheus_client::encoding::{DescriptorEncoder, prometheus_text, text};
use prometheus_client::registry::Registry;

use super::{CollectError, Source};
use crate::logonce::LogOnce;
use crate::metrics::{self, Gauge, IfEmpty, MetricWriter};

/// One collector and its runs in progress.
struct Slot {
    collector: Arc<dyn Source>,
    runs: Mutex<Runs>,
}

#[derive(Default)]
struct Runs {
    next_id: u64,
    active: Vec<Active>,
}

/// A run whose thread has not returned.
struct Active {
    id: u64,
    started: Instant,
    /// Its scrape's deadline passed before it returned.
    overdue: bool,
}

impl Slot {
    fn runs(&self) -> std::sync::MutexGuard<'_, Runs> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// When the oldest overdue run started, if there is one.
    fn stuck_since(&self) -> Option<Instant> {
        self.runs()
            .active
            .iter()
            .filter(|a| a.overdue)
            .map(|a| a.started)
            .min()
    }

    /// Registers a run starting `now`.
    fn begin(&self, now: Instant) -> u64 {
        let mut runs = self.runs();
        let id = runs.next_id;
        runs.next_id += 1;
        runs.active.push(Active {
            id,
            started: now,
            overdue: false,
        });
        id
    }

    fn end(&self, id: u64) {
        self.runs().active.retain(|a| a.id != id);
    }

    fn mark_overdue(&self, id: u64) {
        if let Some(a) = self.runs().active.iter_mut().find(|a| a.id == id) {
            a.overdue = true;
        }
    }
}

/// Ends a run when its thread returns (or unwinds).
struct RunGuard {
    slot: Arc<Slot>,
    id: u64,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.slot.end(self.id);
    }
}

/// What one collector did in one scrape.
enum Outcome {
    /// Returned in time: its families, encoded, and its result.
    Done {
        text: String,
        result: Result<(), CollectError>,
        took: Duration,
    },
    /// Still running at the deadline, or not started because a previous
    /// run is stuck: the time its (oldest) run has been going.
    Late { running: Duration },
    /// Its thread could not be started.
    NotStarted(String),
}

/// Why a collector that did not return counts as failed.
#[derive(Debug, thiserror::Error)]
pub enum LateError {
    /// Still running when its scrape's deadline passed.
    #[error(
        "did not finish before the scrape deadline (a read has not returned); not started again until it does"
    )]
    Overdue,
    /// No thread for it.
    #[error("cannot start its thread: {0}")]
    NotStarted(String),
}

/// A collector whose run is blocked past its scrape's deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Stuck {
    pub collector: &'static str,
    /// How long its blocked run has been going.
    pub blocked_for: Duration,
}

/// Runs every enabled collector at each scrape and reports their health.
pub struct Exporter {
    slots: Vec<Arc<Slot>>,
    /// Failures logged, so a recurring one is logged once.
    errors: LogOnce<&'static str>,
}

impl fmt::Debug for Exporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = self.slots.iter().map(|s| s.collector.name()).collect();
        f.debug_struct("Exporter")
            .field("collectors", &names)
            .finish()
    }
}

impl Exporter {
    /// Runs `collectors` at every scrape.
    pub fn new(collectors: Vec<Box<dyn Source>>) -> Arc<Self> {
        Arc::new(Self {
            slots: collectors
                .into_iter()
                .map(|c| {
                    Arc::new(Slot {
                        collector: Arc::from(c),
                        runs: Mutex::new(Runs::default()),
                    })
                })
                .collect(),
            errors: LogOnce::new(),
        })
    }

    /// The stuck collectors (see the module doc) at `now`.
    pub fn stuck(&self, now: Instant) -> Vec<Stuck> {
        self.slots
            .iter()
            .filter_map(|s| {
                let since = s.stuck_since()?;
                Some(Stuck {
                    collector: s.collector.name(),
                    blocked_for: now.saturating_duration_since(since),
                })
            })
            .collect()
    }

    /// Runs the collectors, waits for them until `deadline`, and returns
    /// their families followed by `oom_scrape_collector_success` and
    /// `oom_scrape_collector_duration_seconds`, in OpenMetrics or the text
    /// format 0.0.4 (without the OpenMetrics `# EOF`). Only an encoder
    /// failure is an error.
    pub async fn scrape(&self, openmetrics: bool, deadline: Instant) -> Result<String, fmt::Error> {
        let now = Instant::now();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut outcomes: Vec<Option<Outcome>> = Vec::with_capacity(self.slots.len());
        let mut started = Vec::new();
        for (i, slot) in self.slots.iter().enumerate() {
            if let Some(since) = slot.stuck_since() {
                outcomes.push(Some(Outcome::Late {
                    running: now.saturating_duration_since(since),
                }));
                continue;
            }
            let id = slot.begin(now);
            let guard = RunGuard {
                slot: Arc::clone(slot),
                id,
            };
            let tx = tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("collect-{}", slot.collector.name()))
                .spawn(move || {
                    let start = Instant::now();
                    let (text, result) = collect_one(&guard.slot.collector, openmetrics);
                    drop(guard);
                    let _ = tx.send((i, text, result, start.elapsed()));
                });
            match spawned {
                Ok(_) => {
                    outcomes.push(None);
                    started.push((i, id));
                }
                // The closure, and with it the guard, was dropped.
                Err(e) => outcomes.push(Some(Outcome::NotStarted(e.to_string()))),
            }
        }
        drop(tx);
        let mut pending = started.len();
        let mut take = |(i, text, result, took): (usize, Result<String, fmt::Error>, _, _)| {
            outcomes[i] = Some(match text {
                Ok(text) => Outcome::Done { text, result, took },
                Err(e) => Outcome::Done {
                    text: String::new(),
                    result: Err(CollectError::Encode(e)),
                    took,
                },
            });
        };
        let _ = tokio::time::timeout_at(deadline.into(), async {
            while pending > 0 {
                match rx.recv().await {
                    Some(done) => {
                        take(done);
                        pending -= 1;
                    }
                    None => break,
                }
            }
        })
        .await;
        // Those that finished as the deadline passed.
        while let Ok(done) = rx.try_recv() {
            take(done);
        }
        let late_at = Instant::now();
        for (i, id) in started {
            if outcomes[i].is_none() {
                self.slots[i].mark_overdue(id);
                outcomes[i] = Some(Outcome::Late {
                    running: late_at.saturating_duration_since(now),
                });
            }
        }
        self.finish(outcomes, openmetrics)
    }

    /// Joins the collectors' output and writes their health.
    fn finish(
        &self,
        outcomes: Vec<Option<Outcome>>,
        openmetrics: bool,
    ) -> Result<String, fmt::Error> {
        let mut body = String::with_capacity(16 * 1024);
        let mut health = Vec::with_capacity(self.slots.len());
        for (slot, outcome) in self.slots.iter().zip(outcomes) {
            let name = slot.collector.name();
            let (result, took) = match outcome {
                Some(Outcome::Done { text, result, took }) => {
                    if let Err(CollectError::Encode(e)) = result {
                        return Err(e);
                    }
                    body.push_str(&text);
                    (result, took)
                }
                Some(Outcome::Late { running }) => (Err(LateError::Overdue.into()), running),
                None => (Err(LateError::Overdue.into()), Duration::ZERO),
                Some(Outcome::NotStarted(why)) => {
                    (Err(LateError::NotStarted(why).into()), Duration::ZERO)
                }
            };
            self.log(name, result.as_ref().map(|_| ()));
            health.push((name, result.is_ok(), took.as_secs_f64()));
        }
        body.push_str(&encode(openmetrics, Health(health))?);
        Ok(body)
    }
}

impl Exporter {
    /// Logs a collector's failure at `warn` when it is new or changed, at
    /// `debug` while it recurs, and its recovery once.
    fn log(&self, collector: &'static str, outcome: Result<(), &CollectError>) {
        match outcome {
            Ok(()) => {
                if self.errors.recovered(&collector) {
                    tracing::info!(collector, "collector recovered");
                }
            }
            Err(error) => {
                let message = error.to_string();
                if self.errors.problem(collector, &message) {
                    tracing::warn!(collector, error = %message, "collector failed; serving the rest");
                } else {
                    tracing::debug!(collector, error = %message, "collector still failing");
                }
            }
        }
    }
}

/// Runs one collector into a buffer of its own: its encoded families
/// (or the encoder's failure) and its result.
fn collect_one(
    collector: &Arc<dyn Source>,
    openmetrics: bool,
) -> (Result<String, fmt::Error>, Result<(), CollectError>) {
    let result = Arc::new(Mutex::new(None));
    let once = Once {
        collector: Arc::clone(collector),
        result: Arc::clone(&result),
    };
    let text = encode(openmetrics, once);
    let result = result
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .unwrap_or(Ok(()));
    (text, result)
}

/// Encodes the families of one prometheus-client collector, with the
/// `oom_` prefix, in the chosen format (no `# EOF`).
fn encode(
    openmetrics: bool,
    collector: impl prometheus_client::collector::Collector,
) -> Result<String, fmt::Error> {
    let mut registry = Registry::with_prefix("oom");
    registry.register_collector(Box::new(collector));
    let mut out = String::new();
    if openmetrics {
        text::encode_registry(&mut out, &registry)?;
    } else {
        prometheus_text::encode(&mut out, &registry)?;
    }
    Ok(out)
}

/// One collector's run as a prometheus-client collector; keeps its result.
struct Once {
    collector: Arc<dyn Source>,
    result: Arc<Mutex<Option<Result<(), CollectError>>>>,
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("collector", &self.collector.name())
            .finish()
    }
}

impl prometheus_client::collector::Collector for Once {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let result = self.collector.collect(&mut MetricWriter::new(&mut encoder));
        let encode_error = matches!(result, Err(CollectError::Encode(_)));
        *self.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        if encode_error {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

/// `oom_scrape_collector_success` and `_duration_seconds` of one scrape.
#[derive(Debug)]
struct Health(Vec<(&'static str, bool, f64)>);

impl prometheus_client::collector::Collector for Health {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let mut out = MetricWriter::new(&mut encoder);
        let labels: Vec<[(&str, &str); 1]> = self
            .0
            .iter()
            .map(|(name, _, _)| [("collector", *name)])
            .collect();
        let success: Vec<_> = labels
            .iter()
            .zip(&self.0)
            .map(|(l, (_, ok, _))| (&l[..], i64::from(*ok)))
            .collect();
        let duration: Vec<_> = labels
            .iter()
            .zip(&self.0)
            .map(|(l, (_, _, secs))| (&l[..], *secs))
            .collect();
        out.family::<Gauge, _>(
            "scrape_collector_success",
            "1 if the collector read all of its sources in this scrape, 0 if anything was wrong (see the exporter's log)",
            None,
            &success, IfEmpty::Skip,
        )?;
        out.family::<Gauge, _>(
            "scrape_collector_duration",
            "Time the collector took in this scrape",
            metrics::seconds(),
            &duration,
            IfEmpty::Skip,
        )
    }
}

#[cfg(test)]
mod tests;
