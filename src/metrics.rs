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

/// A type of constant metric, and how it writes one value of type `V`.
pub trait Kind<V> {
    /// The family's TYPE.
    const TYPE: MetricType;
    /// Writes one sample.
    fn write(value: V, encoder: MetricEncoder<'_>) -> fmt::Result;
}

/// Constant gauges ([`ConstGauge`]).
#[derive(Debug)]
pub enum Gauge {}

/// Constant counters ([`ConstCounter`]); the encoder adds `_total`.
#[derive(Debug)]
pub enum Counter {}

impl<V: EncodeGaugeValue + fmt::Debug + Send + Sync> Kind<V> for Gauge {
    const TYPE: MetricType = MetricType::Gauge;
    fn write(value: V, encoder: MetricEncoder<'_>) -> fmt::Result {
        ConstGauge::new(value).encode(encoder)
    }
}

impl<V: EncodeCounterValue + fmt::Debug + Send + Sync> Kind<V> for Counter {
    const TYPE: MetricType = MetricType::Counter;
    fn write(value: V, encoder: MetricEncoder<'_>) -> fmt::Result {
        ConstCounter::new(value).encode(encoder)
    }
}

/// What a family without samples writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfEmpty {
    /// Nothing: an absent source leaves no empty family behind.
    Skip,
    /// HELP and TYPE: for families that are empty until something happens
    /// (victims of OOM kills), so the exposition always documents them.
    Declare,
}

/// Writes metric families through the encoder handed to a collector.
pub struct MetricWriter<'a, 'e> {
    encoder: &'a mut DescriptorEncoder<'e>,
}

impl<'a, 'e> MetricWriter<'a, 'e> {
    /// Wraps the encoder of one scrape.
    pub fn new(encoder: &'a mut DescriptorEncoder<'e>) -> Self {
        Self { encoder }
    }

    /// One unlabelled sample of kind `K` ([`Gauge`] or [`Counter`]).
    pub fn single<K: Kind<V>, V>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        value: V,
    ) -> fmt::Result {
        let enc = self
            .encoder
            .encode_descriptor(name, help, unit.as_ref(), K::TYPE)?;
        K::write(value, enc)
    }

    /// A family of kind `K` ([`Gauge`] or [`Counter`]) with one sample per
    /// label set, in the order given; `if_empty` says what a family
    /// without samples writes.
    pub fn family<K: Kind<V>, V: Copy>(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        samples: &[(Labels<'_>, V)],
        if_empty: IfEmpty,
    ) -> fmt::Result {
        if samples.is_empty() && if_empty == IfEmpty::Skip {
            return Ok(());
        }
        let mut enc = self
            .encoder
            .encode_descriptor(name, help, unit.as_ref(), K::TYPE)?;
        for (labels, value) in samples {
            K::write(*value, enc.encode_family(labels)?)?;
        }
        Ok(())
    }

    /// One unlabelled gauge.
    pub fn gauge<V>(&mut self, name: &str, help: &str, unit: Option<Unit>, value: V) -> fmt::Result
    where
        Gauge: Kind<V>,
    {
        self.single::<Gauge, V>(name, help, unit, value)
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
        Counter: Kind<V>,
    {
        self.single::<Counter, V>(name, help, unit, value)
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
