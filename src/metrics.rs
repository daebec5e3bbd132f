//! Thin helpers over prometheus-client's [`DescriptorEncoder`] for values read
//! at scrape time: each call writes one metric family of constant gauges or
//! counters. Names are bare (`memory_total`) and the unit is passed apart, so
//! the encoder adds the `oom_` prefix, the unit suffix and `_total`.

use std::fmt;

use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeMetric, MetricEncoder,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
pub use prometheus_client::registry::Unit;

/// Label pairs of one sample.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

/// Writes metric families through the encoder handed to a collector.
pub struct MetricWriter<'a, 'e> {
    encoder: &'a mut DescriptorEncoder<'e>,
}

impl<'a, 'e> MetricWriter<'a, 'e> {
    /// Wraps the encoder of one scrape.
    pub fn new(encoder: &'a mut DescriptorEncoder<'e>) -> Self {
        Self { encoder }
    }

    /// One unlabelled gauge.
    pub fn gauge<V>(&mut self, name: &str, help: &str, unit: Option<Unit>, value: V) -> fmt::Result
    where
        V: EncodeGaugeValue + fmt::Debug + Send + Sync,
    {
        let enc = self
            .encoder
            .encode_descriptor(name, help, unit.as_ref(), MetricType::Gauge)?;
        ConstGauge::new(value).encode(enc)
    }

    /// One unlabelled counter.
    pub fn counter<V>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        value: V,
    ) -> fmt::Result
    where
        V: EncodeCounterValue + fmt::Debug + Send + Sync,
    {
        let enc = self
            .encoder
            .encode_descriptor(name, help, unit.as_ref(), MetricType::Counter)?;
        ConstCounter::new(value).encode(enc)
    }

    /// A gauge family with one sample per label set. Writes nothing when
    /// `samples` is empty, so an absent source leaves no empty family behind.
    pub fn gauges<V>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        samples: &[(Labels<'_>, V)],
    ) -> fmt::Result
    where
        V: EncodeGaugeValue + fmt::Debug + Send + Sync + Copy,
    {
        if samples.is_empty() {
            return Ok(());
        }
        self.gauges_declared(name, help, unit, samples)
    }

    /// Like [`MetricWriter::gauges`], but HELP and TYPE are written even
    /// without samples (see [`MetricWriter::counters_declared`]).
    pub fn gauges_declared<V>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        samples: &[(Labels<'_>, V)],
    ) -> fmt::Result
    where
        V: EncodeGaugeValue + fmt::Debug + Send + Sync + Copy,
    {
        self.family(name, help, unit, MetricType::Gauge, samples, |v, enc| {
            ConstGauge::new(v).encode(enc)
        })
    }

    /// One descriptor, then one sample per label set written by `write`.
    fn family<V: Copy>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        metric_type: MetricType,
        samples: &[(Labels<'_>, V)],
        write: impl Fn(V, MetricEncoder<'_>) -> fmt::Result,
    ) -> fmt::Result {
        let mut enc = self
            .encoder
            .encode_descriptor(name, help, unit.as_ref(), metric_type)?;
        for (labels, value) in samples {
            write(*value, enc.encode_family(labels)?)?;
        }
        Ok(())
    }

    /// A counter family with one sample per label set; nothing when empty.
    pub fn counters<V>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        samples: &[(Labels<'_>, V)],
    ) -> fmt::Result
    where
        V: EncodeCounterValue + fmt::Debug + Send + Sync + Copy,
    {
        if samples.is_empty() {
            return Ok(());
        }
        self.counters_declared(name, help, unit, samples)
    }

    /// Like [`MetricWriter::counters`], but the family's HELP and TYPE are
    /// written even without samples: for families that are empty until
    /// something happens (victims of OOM kills), so the exposition always
    /// documents them.
    pub fn counters_declared<V>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        samples: &[(Labels<'_>, V)],
    ) -> fmt::Result
    where
        V: EncodeCounterValue + fmt::Debug + Send + Sync + Copy,
    {
        self.family(name, help, unit, MetricType::Counter, samples, |v, enc| {
            ConstCounter::new(v).encode(enc)
        })
    }

    /// An info metric (`<name>_info 1` with the given labels).
    pub fn info(&mut self, name: &str, help: &str, labels: Labels<'_>) -> fmt::Result {
        let mut enc = self
            .encoder
            .encode_descriptor(name, help, None, MetricType::Info)?;
        enc.encode_info(&labels)
    }
}

/// `Unit::Other("ratio")`: a share in 0..1.
pub fn ratio() -> Option<Unit> {
    Some(Unit::Other("ratio".to_owned()))
}

/// `Unit::Other("pages")`: a count of memory pages.
pub fn pages() -> Option<Unit> {
    Some(Unit::Other("pages".to_owned()))
}

/// `Unit::Bytes`
pub fn bytes() -> Option<Unit> {
    Some(Unit::Bytes)
}

/// `Unit::Seconds`
pub fn seconds() -> Option<Unit> {
    Some(Unit::Seconds)
}
