//! Reward-model ensembles (Coste et al. 2023, "Reward Model Ensembles Help Mitigate
//! Overoptimization"): K reward models scoring the same rows, combined by one [`Objective`].
//!
//! With member scores `r_1 .. r_K` of one row:
//! - mean: `(1/K) sum_k r_k`;
//! - worst-case (WCO): `min_k r_k`;
//! - uncertainty-weighted (UWO): `mean - lambda * var`, with the members' population variance
//!   `var = (1/K) sum_k (r_k - mean)^2`.
//!
//! ```
//! use goodhart_core::{FnReward, RewardModel};
//! use goodhart_rm::ensemble::{Ensemble, Objective};
//!
//! let a = FnReward::new("a", |_p: &[Vec<u32>], r: &[Vec<u32>]| r.iter().map(|r| r.len() as f64).collect());
//! let b = FnReward::new("b", |_p: &[Vec<u32>], r: &[Vec<u32>]| r.iter().map(|_| 1.0).collect());
//! let worst = Ensemble::new("worst", vec![&a, &b], Objective::WorstCase).unwrap();
//! assert_eq!(worst.score(&[vec![0], vec![0]], &[vec![1, 2, 3], vec![]]).unwrap(), vec![1.0, 0.0]);
//! ```

use goodhart_core::{BoxError, RewardModel, TokenId};
use serde::{Deserialize, Serialize};

/// How an ensemble turns its members' scores of one row into one score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Objective {
    /// The members' mean.
    Mean,
    /// The lowest member score (WCO).
    #[serde(rename = "wco")]
    WorstCase,
    /// The mean minus `lambda` times the members' population variance (UWO).
    #[serde(rename = "uwo")]
    UncertaintyWeighted { lambda: f64 },
}

impl Objective {
    /// A short name for records and plots: `mean`, `wco`, `uwo`.
    pub fn label(&self) -> &'static str {
        match self {
            Objective::Mean => "mean",
            Objective::WorstCase => "wco",
            Objective::UncertaintyWeighted { .. } => "uwo",
        }
    }

    /// The objective of one row's member scores (at least one).
    ///
    /// # Panics
    /// On an empty slice: an ensemble has members ([`Ensemble::new`] refuses none).
    pub fn combine(&self, scores: &[f64]) -> f64 {
        assert!(!scores.is_empty(), "an ensemble objective of no scores");
        let k = scores.len() as f64;
        let mean = scores.iter().sum::<f64>() / k;
        match *self {
            Objective::Mean => mean,
            Objective::WorstCase => scores.iter().copied().fold(f64::INFINITY, f64::min),
            Objective::UncertaintyWeighted { lambda } => {
                let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / k;
                mean - lambda * var
            }
        }
    }

    /// The objective of every row, from each member's scores of the same rows
    /// (`members[k][row]`).
    ///
    /// # Errors
    /// When there are no members or their score lists differ in length.
    pub fn combine_rows(&self, members: &[&[f64]]) -> Result<Vec<f64>, EnsembleError> {
        let rows = members.first().ok_or(EnsembleError::NoMembers)?.len();
        if let Some((k, m)) = members.iter().enumerate().find(|(_, m)| m.len() != rows) {
            return Err(EnsembleError::Rows { member: k, got: m.len(), expected: rows });
        }
        let mut row = vec![0.0; members.len()];
        Ok((0..rows)
            .map(|i| {
                for (slot, m) in row.iter_mut().zip(members) {
                    *slot = m[i];
                }
                self.combine(&row)
            })
            .collect())
    }
}

/// What can be wrong with an ensemble.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnsembleError {
    #[error("an ensemble needs at least one member")]
    NoMembers,
    #[error("ensemble member {member} returned {got} scores for {expected} rows")]
    Rows { member: usize, got: usize, expected: usize },
    #[error("the uncertainty weight lambda is {0}: it must be finite and >= 0")]
    Lambda(f64),
}

/// K reward models combined by an [`Objective`]: itself a [`RewardModel`], so best-of-n and
/// PPO optimise against it unchanged.
pub struct Ensemble<'a> {
    name: String,
    members: Vec<&'a dyn RewardModel>,
    objective: Objective,
}

impl<'a> Ensemble<'a> {
    /// The ensemble of `members` under `objective`, called `name` in records.
    ///
    /// # Errors
    /// No members, or a negative or non-finite UWO lambda.
    pub fn new(
        name: impl Into<String>,
        members: Vec<&'a dyn RewardModel>,
        objective: Objective,
    ) -> Result<Self, EnsembleError> {
        if members.is_empty() {
            return Err(EnsembleError::NoMembers);
        }
        if let Objective::UncertaintyWeighted { lambda } = objective {
            if !(lambda.is_finite() && lambda >= 0.0) {
                return Err(EnsembleError::Lambda(lambda));
            }
        }
        Ok(Ensemble { name: name.into(), members, objective })
    }

    pub fn objective(&self) -> Objective {
        self.objective
    }

    pub fn members(&self) -> &[&'a dyn RewardModel] {
        &self.members
    }
}

impl RewardModel for Ensemble<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    /// The members' parameters together.
    fn num_params(&self) -> u64 {
        self.members.iter().map(|m| m.num_params()).sum()
    }

    fn score(&self, prompts: &[Vec<TokenId>], responses: &[Vec<TokenId>]) -> Result<Vec<f64>, BoxError> {
        let scores: Vec<Vec<f64>> =
            self.members.iter().map(|m| m.score(prompts, responses)).collect::<Result<_, _>>()?;
        let views: Vec<&[f64]> = scores.iter().map(Vec::as_slice).collect();
        Ok(self.objective.combine_rows(&views)?)
    }
}

/// How often two reward models order comparisons alike: the fraction of `margins_a[i]`,
/// `margins_b[i]` (each model's chosen-minus-rejected score) of the same sign, a tie on either
/// side counting one half. `None` for no comparisons.
///
/// # Panics
/// When the slices differ in length.
pub fn agreement(margins_a: &[f64], margins_b: &[f64]) -> Option<f64> {
    assert_eq!(margins_a.len(), margins_b.len(), "margins of the same comparisons");
    if margins_a.is_empty() {
        return None;
    }
    let agree: f64 = margins_a
        .iter()
        .zip(margins_b)
        .map(|(a, b)| {
            if *a == 0.0 || *b == 0.0 {
                0.5
            } else if (*a > 0.0) == (*b > 0.0) {
                1.0
            } else {
                0.0
            }
        })
        .sum();
    Some(agree / margins_a.len() as f64)
}

#[cfg(test)]
mod tests {
    use goodhart_core::FnReward;
    use proptest::prelude::*;

    use super::*;

    const UWO: Objective = Objective::UncertaintyWeighted { lambda: 0.5 };

    #[test]
    fn objectives_on_hand_made_scores() {
        let s = [1.0, 3.0, -1.0, 1.0];
        assert_eq!(Objective::Mean.combine(&s), 1.0);
        assert_eq!(Objective::WorstCase.combine(&s), -1.0);
        // var = (0 + 4 + 4 + 0) / 4 = 2
        assert_eq!(UWO.combine(&s), 1.0 - 0.5 * 2.0);
        assert_eq!(Objective::UncertaintyWeighted { lambda: 0.0 }.combine(&s), 1.0);
    }

    #[test]
    fn the_ensemble_scores_rows_through_its_members() {
        let len = FnReward::new("len", |_p: &[Vec<u32>], r: &[Vec<u32>]| {
            r.iter().map(|r| r.len() as f64).collect()
        });
        let neg = FnReward::new("neg", |_p: &[Vec<u32>], r: &[Vec<u32>]| {
            r.iter().map(|r| -(r.len() as f64)).collect()
        });
        let prompts = vec![vec![0u32]; 3];
        let responses = vec![vec![], vec![1], vec![1, 2]];
        let mean = Ensemble::new("m", vec![&len, &neg], Objective::Mean).unwrap();
        assert_eq!(mean.score(&prompts, &responses).unwrap(), vec![0.0, 0.0, 0.0]);
        let worst = Ensemble::new("w", vec![&len, &neg], Objective::WorstCase).unwrap();
        assert_eq!(worst.score(&prompts, &responses).unwrap(), vec![0.0, -1.0, -2.0]);
        let uwo = Ensemble::new("u", vec![&len, &neg], UWO).unwrap();
        // mean 0, var = len^2
        assert_eq!(uwo.score(&prompts, &responses).unwrap(), vec![0.0, -0.5, -2.0]);
        assert_eq!(uwo.name(), "u");
        assert_eq!(uwo.num_params(), 0);
    }

    #[test]
    fn a_member_with_the_wrong_number_of_scores_is_an_error() {
        let ok = FnReward::new("ok", |_p: &[Vec<u32>], r: &[Vec<u32>]| vec![0.0; r.len()]);
        let short = FnReward::new("short", |_p: &[Vec<u32>], _r: &[Vec<u32>]| vec![0.0]);
        let e = Ensemble::new("e", vec![&ok, &short], Objective::Mean).unwrap();
        let err = e.score(&[vec![0], vec![0]], &[vec![1], vec![2]]).unwrap_err();
        assert_eq!(err.to_string(), "ensemble member 1 returned 1 scores for 2 rows");
    }

    #[test]
    fn bad_ensembles_are_refused() {
        assert_eq!(Ensemble::new("e", vec![], Objective::Mean).err(), Some(EnsembleError::NoMembers));
        let ok = FnReward::new("ok", |_p: &[Vec<u32>], r: &[Vec<u32>]| vec![0.0; r.len()]);
        for lambda in [-0.1, f64::NAN, f64::INFINITY] {
            let e = Ensemble::new("e", vec![&ok], Objective::UncertaintyWeighted { lambda });
            assert!(matches!(e, Err(EnsembleError::Lambda(_))), "lambda {lambda}");
        }
    }

    #[test]
    fn agreement_counts_signs_and_ties() {
        assert_eq!(
            agreement(&[1.0, -2.0, 0.5, 0.0], &[3.0, 1.0, 0.1, 5.0]),
            Some((1.0 + 0.0 + 1.0 + 0.5) / 4.0)
        );
        assert_eq!(agreement(&[], &[]), None);
    }

    #[test]
    fn objectives_serialise_with_their_labels() {
        let json = serde_json::to_string(&UWO).unwrap();
        assert_eq!(json, r#"{"kind":"uwo","lambda":0.5}"#);
        assert_eq!(serde_json::from_str::<Objective>(r#"{"kind":"wco"}"#).unwrap(), Objective::WorstCase);
    }

    fn scores() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(-50.0f64..50.0, 1..8)
    }

    proptest! {
        /// worst case <= uwo <= mean <= max, and uwo = mean exactly when the members agree.
        #[test]
        fn objectives_are_ordered(s in scores(), lambda in 0.0f64..4.0) {
            let mean = Objective::Mean.combine(&s);
            let wco = Objective::WorstCase.combine(&s);
            let uwo = Objective::UncertaintyWeighted { lambda }.combine(&s);
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            prop_assert!(wco <= mean + 1e-9 && mean <= max + 1e-9);
            prop_assert!(uwo <= mean + 1e-9);
            prop_assert!(s.contains(&wco));
        }

        /// Every objective of identical members is their common score, whatever the order.
        #[test]
        fn agreeing_members_give_their_score(x in -50.0f64..50.0, k in 1usize..8, lambda in 0.0f64..4.0) {
            let s = vec![x; k];
            for o in [Objective::Mean, Objective::WorstCase, Objective::UncertaintyWeighted { lambda }] {
                prop_assert!((o.combine(&s) - x).abs() < 1e-9);
            }
        }

        /// The objectives do not depend on the members' order, and shift with a shared offset.
        #[test]
        fn objectives_are_symmetric_and_shift(mut s in scores(), c in -10.0f64..10.0, lambda in 0.0f64..4.0) {
            for o in [Objective::Mean, Objective::WorstCase, Objective::UncertaintyWeighted { lambda }] {
                let before = o.combine(&s);
                let shifted: Vec<f64> = s.iter().map(|x| x + c).collect();
                prop_assert!((o.combine(&shifted) - (before + c)).abs() < 1e-6);
                s.reverse();
                prop_assert!((o.combine(&s) - before).abs() < 1e-9);
            }
        }
    }
}
