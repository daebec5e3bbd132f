//! The name cache's own health, written with the exporter's identity at
//! every scrape: whether the kubelet's directories could be read, how many
//! names are kept, how often they were listed.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use super::Resolver;
use crate::metrics::{Counter, Gauge, IfEmpty, Labels, MetricWriter};

/// Writes the `oom_pod_names_*` families.
#[derive(Debug)]
pub struct NameMetrics(pub Arc<Resolver>);

impl Collector for NameMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let mut out = MetricWriter::new(&mut encoder);
        let s = self.0.stats();
        // Only once a pod was looked up: a host without pods never reads them.
        let readable: Vec<(Labels<'_>, i64)> = if s.listings > 0 {
            [("pods", s.readable[0]), ("containers", s.readable[1])]
                .iter()
                .map(|(dir, ok)| {
                    let labels: Labels<'_> = match *dir {
                        "pods" => &[("directory", "pods")],
                        _ => &[("directory", "containers")],
                    };
                    (labels, i64::from(*ok))
                })
                .collect()
        } else {
            Vec::new()
        };
        out.family::<Gauge, _>(
            "pod_names_directory_readable",
            "1 if the kubelet's log directory (<--path.varlog>/pods or /containers) could be listed at the last look, 0 if not (no namespace, pod or container names); absent until a pod was seen",
            None,
            &readable,
            IfEmpty::Skip,
        )?;
        let cached: [(Labels<'_>, i64); 2] = [
            (&[("kind", "pod")], s.pods as i64),
            (&[("kind", "container")], s.containers as i64),
        ];
        out.family::<Gauge, _>(
            "pod_names_cached",
            "Pods and containers whose names are kept (deleted ones too, until the cache is full)",
            None,
            &cached,
            IfEmpty::Declare,
        )?;
        out.family::<Counter, _>(
            "pod_names_listings",
            "Times the kubelet's log directories were listed (a lookup missed and a directory had changed)",
            None,
            &[(&[][..], s.listings)],
            IfEmpty::Declare,
        )?;
        out.gauge(
            "pod_names_ignored_entries",
            "Entries of the last listing of the kubelet's log directories whose names are not in the kubelet's format",
            None,
            s.ignored as i64,
        )
    }
}
