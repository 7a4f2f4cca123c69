//! Stage 3b: adversarial rounds of the learned gold (`gold.rounds`). A gold trained on the broad
//! writer's and the initial policy's samples is wrong exactly where optimisation goes: PPO against
//! it finds outputs it overrates. Round r runs PPO against gold r-1 itself, samples the policy
//! along the run, labels pairs of those samples by the rubric, and retrains the gold on its first
//! data plus every round's pairs so far, so the next gold has seen where the last one was pushed.

use goodhart_core::{Estimate, SplitMix64, TokenId};
use goodhart_nn::Gpt;
use goodhart_ppo::{PpoInputs, PpoTrainer};
use goodhart_rm::pairs::{label_pairs, split_validation, Comparison, Pair};
use goodhart_world::Split;

use super::*;
use super::{read_json, write_json};
use crate::config::GoldRounds;
use crate::plan;
use crate::progress::Task;
use crate::store::{key_of, Stage};
use crate::ReproError;

/// The comparisons a round adds, as its stage stores them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoundComparisons {
    pub train: Vec<Comparison>,
    pub val: Vec<Comparison>,
}

/// One policy sampled along a round's PPO run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// PPO steps taken when it was sampled.
    pub step: usize,
    /// KL(pi || pi_init) of that step's rollouts (k1, nats).
    pub kl: f64,
    /// The round's starting gold and the rubric (recentred on the initial policy's samples, as
    /// the curves draw it) on the snapshot's samples.
    pub gold: Estimate,
    pub rubric: Estimate,
    /// How often the round's starting gold orders the snapshot's pairs as the rubric does
    /// (pairs the rubric ties are left out).
    pub gold_agreement: f64,
}

/// What a round did, as its stage records it (`round.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GoldRoundReport {
    pub round: usize,
    pub snapshots: Vec<Snapshot>,
    /// Agreement with the rubric on the round's held-out pairs: of the gold the round started
    /// from, and of the gold it trained.
    pub agreement_before: f64,
    pub agreement_after: f64,
    /// Comparisons the retrained gold learned from: its first data and every round's.
    pub train_pairs: usize,
}

/// Log-spaced PPO steps in 1..=total, `count` of them at most, ending at `total`.
pub fn snapshot_steps(total: usize, count: usize) -> Vec<usize> {
    let mut steps: Vec<usize> = (1..=count)
        .map(|k| ((total as f64).powf(k as f64 / count as f64).round() as usize).clamp(1, total))
        .collect();
    steps.dedup();
    steps
}

/// How often `scores` order pairs as `truth` does: pairs `(a[i], b[i])` by their scores in
/// `sa`/`sb` against `ta`/`tb`; pairs the truth ties are left out (NaN when every pair ties).
pub fn agreement(sa: &[f64], sb: &[f64], ta: &[f64], tb: &[f64]) -> f64 {
    let (mut agree, mut n) = (0usize, 0usize);
    for i in 0..sa.len() {
        let truth = ta[i] - tb[i];
        if truth == 0.0 {
            continue;
        }
        n += 1;
        if (sa[i] - sb[i]) * truth > 0.0 {
            agree += 1;
        }
    }
    if n == 0 {
        f64::NAN
    } else {
        agree as f64 / n as f64
    }
}

/// The seed stride between rounds' PPO runs and samples.
const ROUND_SEED: u64 = 0x60_1D_40;

impl Pipeline {
    /// Adversarial round `round` (from 1) of the gold, starting from `previous` (the gold after
    /// round `round - 1`).
    pub(super) fn gold_round(
        &self,
        w: &WorldArtifacts,
        policy: &TrainedPolicy,
        previous: &Gold,
        round: usize,
    ) -> Result<Gold, ReproError> {
        let rounds = self.config.gold.rounds.as_ref().ok_or_else(|| {
            ReproError::Config("a gold round needs [gold.rounds] in the experiment config".into())
        })?;
        let GoldModel::Learned(previous_rm) = &previous.model else {
            return Err(ReproError::Config(
                "gold rounds teach a learned gold: remove [gold.rounds] or set gold.kind = \"learned\""
                    .into(),
            ));
        };
        let rl = &self.config.rl;
        let inputs = plan::gold_round_inputs(&previous.key, &policy.key, rounds, round, rl);
        let key = key_of(Stage::GoldRound, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::GoldRound, &key, &inputs, |tmp| {
            let seed = self.config.gold.train.seed.wrapping_add(ROUND_SEED * round as u64);
            let (pairs, sa, sb, snapshots) =
                self.round_pairs(w, &policy.model, previous, rounds, round, seed)?;
            let (comps, _) = label_pairs(pairs, &sa, &sb, 0.0, seed);
            let (new_train, new_val) = split_validation(comps, 0.1, seed);
            let (mut train, mut val) = self.first_gold_data(w, &policy.model)?;
            for earlier in &previous.rounds {
                let c: RoundComparisons = read_json(&earlier.join("comparisons.json"))?;
                train.extend(c.train);
                val.extend(c.val);
            }
            train.extend(new_train.iter().cloned());
            val.extend(new_val.iter().cloned());
            let what = format!("training gold RM, round {round}");
            let (rm, report) = self.fit_gold(&what, w, &policy.model, &train, &val)?;
            let agreement_on = |m| goodhart_rm::evaluate(m, &new_val, w.rm_specials(), BATCH).accuracy;
            let record = GoldRoundReport {
                round,
                snapshots,
                agreement_before: agreement_on(&previous_rm.model),
                agreement_after: agreement_on(&rm.model),
                train_pairs: train.len(),
            };
            write_json(&tmp.join("comparisons.json"), &RoundComparisons { train: new_train, val: new_val })?;
            write_json(&tmp.join("round.json"), &record)?;
            save_rm(tmp, &rm, report)
        })?;
        let record: GoldRoundReport = read_json(&dir.join("round.json"))?;
        let size = self.config.gold.size.clone();
        let TrainedRm { key, rm, eval, .. } = self.load_trained(Stage::GoldRound, key, &size, &dir, outcome, |e| {
            let last = record.snapshots.last();
            format!(
                "round {round}: PPO against the gold reached KL {:.1} (rubric {:.2}); on its samples the gold \
                 agreed with the rubric {:.3} before, {:.3} after; agreement on all held-out pairs {:.3}",
                last.map_or(f64::NAN, |s| s.kl),
                last.map_or(f64::NAN, |s| s.rubric.mean),
                record.agreement_before,
                record.agreement_after,
                e.val.accuracy
            )
        })?;
        let mut dirs = previous.rounds.clone();
        dirs.push(dir);
        Ok(Gold { key, eval, model: GoldModel::Learned(rm), rounds: dirs })
    }

    /// PPO against `previous` from the initial policy, sampled at the round's snapshots: the
    /// round's pairs (unlabelled), the rubric's scores of each side, and what each snapshot showed.
    #[allow(clippy::type_complexity)]
    fn round_pairs(
        &self,
        w: &WorldArtifacts,
        init: &Gpt,
        previous: &Gold,
        rounds: &GoldRounds,
        round: usize,
        seed: u64,
    ) -> Result<(Vec<Pair>, Vec<f64>, Vec<f64>, Vec<Snapshot>), ReproError> {
        let rl = &self.config.rl;
        let mut ppo = rl.ppo.clone();
        ppo.seed = ppo.seed.wrapping_add(ROUND_SEED * round as u64);
        let steps = snapshot_steps(ppo.total_steps, rounds.snapshots);
        let per_snapshot = rounds.pairs / steps.len();
        let prompts = w.prompt_tokens(Split::Train, rl.train_prompts, rl.prompt_seed)?;
        let eval_prompts = w.prompt_tokens(Split::HeldOut, 2, rl.prompt_seed ^ 0xE7A1)?;
        let judge = previous.judge(w);
        let offset = previous.eval.rubric_offset.unwrap_or(0.0);
        let inputs = PpoInputs {
            prompts: &prompts,
            eval_prompts: &eval_prompts,
            proxy: &judge,
            gold: &judge,
            rubric: None,
            template: goodhart_core::Record::new("gold-round", goodhart_core::Method::Rl),
        };
        let what = format!("gold round {round}: PPO against the gold");
        let pb = Task::start(&self.reporter, ppo.total_steps as u64, &what);
        let mut trainer = PpoTrainer::new(ppo.clone(), init, w.specials)?;
        let (mut pairs, mut sa, mut sb, mut snapshots) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut rng = SplitMix64::new(seed ^ 0x5A4D);
        for (k, &at) in steps.iter().enumerate() {
            let mut kl = 0.0;
            while trainer.step() < at {
                kl = trainer.train_step(&inputs)?.kl_k1.mean;
                pb.inc(1);
            }
            let snapshot = trainer.policy();
            let sample_seed = seed ^ (0x5EED + k as u64);
            let chosen: Vec<Vec<TokenId>> = (0..per_snapshot)
                .map(|_| prompts[rng.next_below(prompts.len() as u64) as usize].clone())
                .collect();
            let a = self.responses(w, &snapshot, &chosen, sample_seed, 0, "gold round samples")?;
            // half the pairs: a second sample of the snapshot; half: the initial policy's
            let half = per_snapshot / 2;
            let mut b = self.responses(
                w,
                &snapshot,
                &chosen[..half],
                sample_seed,
                per_snapshot,
                "gold round samples",
            )?;
            b.extend(self.responses(
                w,
                init,
                &chosen[half..],
                sample_seed ^ 0x1417,
                0,
                "gold round samples",
            )?);
            let rubric_of = |r: &[Vec<TokenId>]| -> Result<Vec<f64>, ReproError> {
                chosen.iter().zip(r).map(|(p, r)| w.rubric(p, r)).collect()
            };
            let (ra, rb) = (rubric_of(&a)?, rubric_of(&b)?);
            let ga = previous.scores(w, &chosen, &a)?;
            let gb = previous.scores(w, &chosen[..half], &b[..half])?;
            let snapshot = Snapshot {
                step: at,
                kl,
                gold: Estimate::from_values(&ga),
                rubric: Estimate::from_iterator(ra.iter().map(|r| r - offset)),
                gold_agreement: agreement(&ga[..half], &gb, &ra[..half], &rb[..half]),
            };
            pb.note(&format!(
                "  gold round {round}: step {at:>5}  KL {kl:.2}  gold {:.3}  rubric {:.3}  gold orders its pairs as \
                 the rubric {:.3}",
                snapshot.gold.mean, snapshot.rubric.mean, snapshot.gold_agreement
            ));
            snapshots.push(snapshot);
            pairs.extend(chosen.into_iter().zip(a).zip(b).map(|((prompt, a), b)| Pair { prompt, a, b }));
            sa.extend(ra);
            sb.extend(rb);
        }
        pb.finish();
        Ok((pairs, sa, sb, snapshots))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn snapshots_are_log_spaced_and_end_at_the_last_step() {
        assert_eq!(snapshot_steps(100, 5), vec![3, 6, 16, 40, 100]);
        assert_eq!(snapshot_steps(4, 6), vec![1, 2, 3, 4]);
        assert_eq!(snapshot_steps(1, 3), vec![1]);
    }

    #[test]
    fn agreement_counts_orderings_and_leaves_out_ties() {
        // the truth ties on the third pair; the scores agree on the first only
        let (sa, sb) = ([2.0, 0.0, 5.0], [1.0, 1.0, 0.0]);
        let (ta, tb) = ([1.0, 3.0, 4.0], [0.0, 0.0, 4.0]);
        assert_eq!(agreement(&sa, &sb, &ta, &tb), 0.5);
        assert!(agreement(&[1.0], &[0.0], &[2.0], &[2.0]).is_nan());
    }

    proptest! {
        #[test]
        fn snapshot_steps_increase_within_the_run(total in 1usize..500, count in 1usize..12) {
            let s = snapshot_steps(total, count);
            prop_assert!(!s.is_empty() && s.len() <= count);
            prop_assert_eq!(*s.last().unwrap(), total);
            prop_assert!(s.windows(2).all(|w| w[0] < w[1]) && s[0] >= 1);
        }

        #[test]
        fn agreement_is_one_for_the_truth_and_flips_with_it(
            t in proptest::collection::vec((-5.0f64..5.0, -5.0f64..5.0), 1..40),
        ) {
            let (ta, tb): (Vec<f64>, Vec<f64>) = t.into_iter().unzip();
            let a = agreement(&ta, &tb, &ta, &tb);
            prop_assume!(a.is_finite());
            prop_assert_eq!(a, 1.0);
            prop_assert_eq!(agreement(&tb, &ta, &ta, &tb), 0.0);
        }
    }
}
