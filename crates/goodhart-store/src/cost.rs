//! What a stage cost: its seconds, the floating-point operations of its matrix products
//! ([`goodhart_core::flops`]), the threads it ran on and the rate those threads' matrix product
//! reached when the run started, as `stage.json` records them.

use serde::{Deserialize, Serialize};

use crate::{Stage, Store, STAGE_FILE};

/// A stage's cost, from its `stage.json` (stages written before costs were recorded have
/// seconds only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageCost {
    pub seconds: f64,
    /// Operations of its matrix products (`2 m n k` each).
    #[serde(default)]
    pub matmul_flops: Option<u64>,
    /// The threads it ran on.
    #[serde(default)]
    pub threads: Option<usize>,
    /// The matrix product's rate on that many threads, measured when the run started (GFLOP/s).
    #[serde(default)]
    pub peak_gflops: Option<f64>,
}

impl StageCost {
    /// The rate its matrix products reached over the stage's whole time, in GFLOP/s.
    pub fn gflops(&self) -> Option<f64> {
        self.matmul_flops.filter(|_| self.seconds > 0.0).map(|f| f as f64 / self.seconds / 1e9)
    }

    /// [`StageCost::gflops`] as a fraction of the measured rate.
    pub fn of_peak(&self) -> Option<f64> {
        Some(self.gflops()? / self.peak_gflops.filter(|p| *p > 0.0)?)
    }
}

/// Matrix-product rates by thread count (GFLOP/s), measured by whoever runs the pipeline.
pub type MatmulPeaks = std::sync::Arc<Vec<(usize, f64)>>;

impl Store {
    /// This store, recording in each computed stage the matrix product's rate on the stage's
    /// thread count, from `peaks` (threads, GFLOP/s).
    pub fn with_matmul_peaks(mut self, peaks: Vec<(usize, f64)>) -> Self {
        self.peaks = std::sync::Arc::new(peaks);
        self
    }

    /// The measured rate on `threads` threads, if it was measured.
    pub(super) fn peak(&self, threads: usize) -> Option<f64> {
        self.peaks.iter().find(|(t, _)| *t == threads).map(|(_, g)| *g)
    }

    /// What computing `stage/key` cost, if it is complete.
    pub fn cost(&self, stage: Stage, key: &str) -> Option<StageCost> {
        read_cost(&self.dir(stage, key))
    }
}

/// The cost a stage directory's `stage.json` records.
pub(super) fn read_cost(dir: &std::path::Path) -> Option<StageCost> {
    let bytes = std::fs::read(dir.join(STAGE_FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_is_operations_over_seconds_and_its_fraction_needs_a_peak() {
        let c = StageCost {
            seconds: 2.0,
            matmul_flops: Some(300_000_000_000),
            threads: Some(2),
            peak_gflops: None,
        };
        assert_eq!(c.gflops(), Some(150.0));
        assert_eq!(c.of_peak(), None);
        let c = StageCost { peak_gflops: Some(200.0), ..c };
        assert_eq!(c.of_peak(), Some(0.75));
        // a stage written before costs were recorded has seconds only
        let old: StageCost = serde_json::from_str(r#"{"seconds": 3.5, "stage": "gold"}"#).unwrap();
        assert_eq!((old.seconds, old.gflops()), (3.5, None));
    }
}
