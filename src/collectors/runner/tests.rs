use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

/// Writes one gauge; blocks in `collect` until told to go when `gate`
/// is set.
struct Test {
    name: &'static str,
    gate: Option<Mutex<mpsc::Receiver<()>>>,
    runs: Arc<AtomicUsize>,
}

impl Source for Test {
    fn name(&self) -> &'static str {
        self.name
    }

    fn collect(&self, out: &mut MetricWriter<'_, '_>) -> Result<(), CollectError> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            let _ = gate.lock().unwrap().recv();
        }
        out.gauge(&format!("{}_value", self.name), "A test value", None, 1)?;
        Ok(())
    }
}

fn exporter() -> (Arc<Exporter>, mpsc::Sender<()>, Arc<AtomicUsize>) {
    let (go, gate) = mpsc::channel();
    let runs = Arc::new(AtomicUsize::new(0));
    let collectors: Vec<Box<dyn Source>> = vec![
        Box::new(Test {
            name: "quick",
            gate: None,
            runs: Arc::new(AtomicUsize::new(0)),
        }),
        Box::new(Test {
            name: "hung",
            gate: Some(Mutex::new(gate)),
            runs: Arc::clone(&runs),
        }),
    ];
    (Exporter::new(collectors), go, runs)
}

fn soon(ms: u64) -> Instant {
    Instant::now() + Duration::from_millis(ms)
}

#[tokio::test]
async fn a_collector_past_the_deadline_fails_and_is_not_started_again() {
    let (e, go, runs) = exporter();
    let start = Instant::now();
    let body = e.scrape(false, soon(200)).await.unwrap();
    assert!(start.elapsed() >= Duration::from_millis(200));
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(body.contains("oom_quick_value 1\n"), "{body}");
    assert!(!body.contains("oom_hung_value"), "{body}");
    assert!(body.contains("oom_scrape_collector_success{collector=\"quick\"} 1\n"));
    assert!(body.contains("oom_scrape_collector_success{collector=\"hung\"} 0\n"));
    assert_eq!(e.stuck(Instant::now()).len(), 1);
    assert_eq!(e.stuck(Instant::now())[0].collector, "hung");
    // Stuck: answered at once, and not run again.
    let start = Instant::now();
    let body = e.scrape(false, soon(5_000)).await.unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(body.contains("oom_scrape_collector_success{collector=\"hung\"} 0\n"));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // The read returns: the next scrape runs it again, and it succeeds.
    go.send(()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !e.stuck(Instant::now()).is_empty() {
        assert!(Instant::now() < deadline, "never came unstuck");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    go.send(()).unwrap();
    let body = e.scrape(true, soon(5_000)).await.unwrap();
    assert!(body.contains("oom_hung_value 1\n"), "{body}");
    assert!(body.contains("oom_scrape_collector_success{collector=\"hung\"} 1\n"));
    assert!(!body.contains("# EOF"), "the caller ends the exposition");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn collectors_in_time_keep_their_order_and_format() {
    let (e, go, _) = exporter();
    go.send(()).unwrap();
    let body = e.scrape(true, soon(5_000)).await.unwrap();
    let quick = body.find("oom_quick_value").unwrap();
    let hung = body.find("oom_hung_value").unwrap();
    let health = body.find("oom_scrape_collector_success").unwrap();
    assert!(quick < hung && hung < health, "{body}");
    assert!(e.stuck(Instant::now()).is_empty());
}
