//! Commands besides serving metrics.

pub mod kills;
pub mod top;
