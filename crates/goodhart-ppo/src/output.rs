//! What a run reports: a log per iteration, the judges' evaluations, the records of the curve.

use goodhart_core::{Curve, Method, PpoStepLog, Record};
pub use goodhart_policy::eval::GoldEval;
use serde::{Deserialize, Serialize};

/// The result of a (possibly partial) run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpoOutput {
    /// One row per gold evaluation, in step order.
    pub records: Vec<Record>,
    pub evals: Vec<GoldEval>,
    /// One log per PPO iteration.
    pub logs: Vec<PpoStepLog>,
    /// Whether the run reached `total_steps` (false when stopped by the callback).
    pub complete: bool,
}

impl goodhart_core::OptimisedRun for PpoOutput {
    /// The evaluations as a [`Curve`].
    fn curve(&self) -> Curve {
        Curve { method: Method::Rl, points: self.evals.iter().map(GoldEval::to_point).collect() }
    }
}
