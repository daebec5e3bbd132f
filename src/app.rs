//! Wires the configuration, the registry and the HTTP server together.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use crate::cgroup::userspace::history::History;
use crate::collectors::{self, Exporter};
use crate::config::Config;
use crate::k8s::Resolver;
use crate::k8s::metrics::NameMetrics;
use crate::kmsg::reader;
use crate::kmsg::tracker::Tracker;
use crate::metrics::{self, MetricWriter};
use crate::proc::fs::ProcFs;
use crate::web::routes::{self, AppState};
use crate::web::server;
use crate::web::{Web, WebMetrics};

/// How long in-flight requests may run after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);

/// The registry of what is not read at scrape time: the build info and the
/// start time. The collectors' families follow it in each scrape
/// ([`exporter`]).
pub fn registry() -> Registry {
    let mut registry = Registry::with_prefix("oom");
    // When this exporter started: lets alerts tell a series that is new
    // because the exporter restarted from one that is new on the host.
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    registry.register_collector(Box::new(Identity { started }));
    registry
}

/// The build info and the start time, written like every other family
/// (the registry's own `register` would end their HELP text with a period,
/// which no other family's has).
#[derive(Debug)]
struct Identity {
    /// Unix time of the start.
    started: f64,
}

impl prometheus_client::collector::Collector for Identity {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut out = MetricWriter::new(&mut encoder);
        out.info(
            "exporter_build",
            "Build of the running oom_exporter; the value is always 1",
            &[
                ("version", crate::VERSION),
                ("revision", crate::REVISION),
                ("os", std::env::consts::OS),
                ("arch", std::env::consts::ARCH),
            ],
        )?;
        out.gauge(
            "exporter_start_time",
            "When this oom_exporter started, in seconds since the Unix epoch",
            metrics::seconds(),
            self.started,
        )
    }
}

/// The pod and container names every collector and the kill reader share.
pub fn names(config: &Config) -> Arc<Resolver> {
    Arc::new(Resolver::new(Some(config.varlog.clone())))
}

/// Every enabled collector, run at each scrape under its deadline; the
/// cgroup collector records the userspace kills it sees in `userspace`.
pub fn exporter(
    config: &Config,
    tracker: Option<Arc<Tracker>>,
    names: Arc<Resolver>,
    userspace: Arc<History>,
) -> Arc<Exporter> {
    let procfs = ProcFs::new(&config.procfs);
    Exporter::new(collectors::build(
        &config.collectors,
        &procfs,
        &config.process,
        &crate::cgroup::CgroupSource {
            sysfs: config.sysfs.clone(),
            selection: config.cgroups.clone(),
            procfs: config.procfs.clone(),
            userspace_history: userspace,
        },
        tracker,
        names,
    ))
}

/// Starts the kmsg reader thread when the kmsg collector is enabled.
pub fn start_kmsg(config: &Config, names: Arc<Resolver>) -> Option<Arc<Tracker>> {
    if !config.enabled(collectors::Kmsg::NAME) {
        return None;
    }
    let procfs = ProcFs::new(&config.procfs);
    let tracker = Arc::new(Tracker::new(config.kill_limits, procfs.kernel_oom_kills()));
    let cgroups = crate::cgroup::hierarchy::detect(&config.sysfs);
    if let Err(error) = reader::spawn(
        config.kmsg.clone(),
        procfs,
        Arc::clone(&tracker),
        cgroups,
        names,
    ) {
        tracing::error!(%error, "cannot start the kmsg reader thread");
    }
    Some(tracker)
}

/// Whether the kmsg path is this host's ring buffer (a character device),
/// not a saved file: only then does `/report` add what is true now on
/// this host, whose name and kernel a saved log's kills need not share.
fn live_kmsg(config: &Config) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(&config.kmsg).is_ok_and(|m| m.file_type().is_char_device())
}

/// Serves on `listener` until `shutdown` completes, then lets in-flight
/// requests finish for at most [`SHUTDOWN_GRACE`].
pub async fn serve(
    listener: TcpListener,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let web = Web::new(config.web_config.clone());
    let names = names(config);
    let tracker = start_kmsg(config, Arc::clone(&names));
    let mut registry = registry();
    registry.register_collector(Box::new(WebMetrics(Arc::clone(&web))));
    registry.register_collector(Box::new(NameMetrics(Arc::clone(&names))));
    let userspace = Arc::new(History::new(config.kill_limits.history));
    let state = Arc::new(AppState {
        registry,
        exporter: exporter(config, tracker.clone(), names, Arc::clone(&userspace)),
        userspace,
        scrape_timeout: config.scrape_timeout,
        telemetry_path: config.telemetry_path.clone(),
        tracker,
        scrapes: Arc::new(tokio::sync::Semaphore::new(config.max_requests)),
        report_roots: live_kmsg(config).then(|| crate::web::report::Roots {
            procfs: config.procfs.clone(),
            sysfs: config.sysfs.clone(),
        }),
    });
    let reloader = tokio::spawn(watch_web_config(Arc::clone(&web)));
    server::serve(
        listener,
        routes::router(state),
        web,
        server::ConnectionLimits {
            header_timeout: config.header_timeout,
            lifetime: config.connection_lifetime,
            per_client: config.max_connections_per_client,
        },
        shutdown,
        SHUTDOWN_GRACE,
    )
    .await;
    reloader.abort();
    Ok(())
}

/// Reloads the web configuration on SIGHUP and when the file changes
/// (checked every 5 s), without touching the listener.
async fn watch_web_config(web: Arc<Web>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            Some(()) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                let web = Arc::clone(&web);
                let _ = tokio::task::spawn_blocking(move || web.reload("SIGHUP")).await;
            }
            _ = tick.tick() => {
                let web = Arc::clone(&web);
                let _ = tokio::task::spawn_blocking(move || web.reload_if_changed()).await;
            }
        }
    }
}

/// Completes on the first SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the exporter with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "received signal"),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "received signal"),
    }
}

/// Raises the soft limit on open files to the hard one (as Go programs
/// such as node_exporter do): on cgroup v1 every watched cgroup holds an
/// eventfd, besides the connections.
fn raise_open_files_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            ..limit
        };
        if let Err(error) = setrlimit(Resource::Nofile, raised) {
            tracing::debug!(%error, "cannot raise the open files limit");
        }
    }
}

/// Runs the exporter until SIGINT or SIGTERM.
pub fn run(config: Config) -> anyhow::Result<()> {
    raise_open_files_limit();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
        .context("start the async runtime")?;
    let served = runtime.block_on(async {
        let listener = TcpListener::bind(config.listen_address)
            .await
            .with_context(|| format!("listen on {}", config.listen_address))?;
        let address = listener.local_addr().context("read the bound address")?;
        tracing::info!(
            version = crate::VERSION,
            revision = crate::REVISION,
            %address,
            path = %config.telemetry_path,
            procfs = %config.procfs.display(),
            collectors = %config.collectors.join(","),
            "listening"
        );
        serve(listener, &config, shutdown_signal()).await
    });
    // A collector stuck in a read (see collectors::runner) runs on a thread
    // of its own and is not waited for; anything else still blocked (a web
    // configuration reload on a hung file system) gets this long.
    runtime.shutdown_timeout(BLOCKING_GRACE);
    served
}

/// How long shutdown waits for blocking tasks still running after the
/// server stopped.
pub const BLOCKING_GRACE: Duration = Duration::from_secs(1);
