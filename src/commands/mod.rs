//! Commands besides serving metrics.

pub mod kills;
