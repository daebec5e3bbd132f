//! Benchmark (not a test): kill-to-metric latency with real OOM kills. Runs
//! the exporter in-process on 127.0.0.1:0, kills `tail /dev/zero` in a
//! 32 MiB memory cgroup 20 times, and measures from the moment the killed
//! child is reaped to the first scrape whose `oom_kills_total` shows it
//! (scraping every 1 ms). Needs root. Run: `cargo bench --bench kill_latency`.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark may stop on a broken set-up

#[path = "../tests/it/support/memcg.rs"]
mod memcg;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use clap::Parser;
use oom_exporter::{app, cli};

const KILLS: usize = 20;

fn scrape(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("read");
    body
}

fn scrape_kills(addr: SocketAddr) -> f64 {
    scrape(addr)
        .lines()
        .find_map(|l| l.strip_prefix("oom_kills_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1.0)
}

fn main() {
    if !std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
    {
        eprintln!("kill_latency: needs root (memory cgroup and OOM kills); skipped");
        return;
    }
    let config = cli::Cli::try_parse_from([
        "oom_exporter",
        "--web.listen-address=127.0.0.1:0",
        "--log.level=warn",
    ])
    .expect("args")
    .into_config()
    .expect("config");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    runtime.spawn(async move { app::serve(listener, &config, std::future::pending()).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while scrape_kills(addr) < 0.0 || !kmsg_up(addr) {
        assert!(Instant::now() < deadline, "exporter not up");
        std::thread::sleep(Duration::from_millis(10));
    }
    let cg = memcg::MemCgroup::new("latency");
    let mut latencies = Vec::new();
    for i in 0..KILLS {
        let (_, status, reaped) = cg.hog();
        assert_eq!(status.code(), None, "hog not killed");
        let want = (i + 1) as f64;
        while scrape_kills(addr) < want {
            assert!(
                reaped.elapsed() < Duration::from_secs(5),
                "kill {i} not counted"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        latencies.push(reaped.elapsed().as_secs_f64() * 1e3);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "kill-to-metric latency over {KILLS} real OOM kills in {}: median {:.1} ms, p90 {:.1} ms, max {:.1} ms (from reaping the victim to the first scrape showing it; scrapes every 1 ms)",
        cg.name,
        latencies[KILLS / 2],
        latencies[KILLS * 9 / 10],
        latencies[KILLS - 1]
    );
}

fn kmsg_up(addr: SocketAddr) -> bool {
    scrape(addr).contains("\noom_kmsg_up 1\n")
}
