//! Stage 9: one round of iterated RLHF (finding 9). Round i trains a proxy on gold labels of
//! pi_{i-1}'s own samples, then runs PPO (no KL penalty) from pi_{i-1} against it until
//! sqrt(KL(pi_i || pi_{i-1})) first reaches the round's share of the distance.

use goodhart_core::Estimate;
use goodhart_kl::Estimator;
use goodhart_nn::Gpt;
use goodhart_policy::{generate, response_logprobs};
use goodhart_ppo::{KlPenalty, PpoInputs, PpoStepLog, PpoTrainer};
use goodhart_world::Split;

use super::rubric::RubricScorer;
use super::*;
use super::{read_json, write_json};
use crate::plan;
use crate::progress::Task;
use crate::store::{key_of, Stage};
use crate::ReproError;

/// One round of an iterated run, as its stage records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Round {
    /// 1-based index of this round, and the run's number of rounds.
    pub round: usize,
    pub rounds: usize,
    /// The round's proxy: its validation loss and accuracy on comparisons of the round's
    /// starting policy.
    pub proxy_val_loss: f64,
    pub proxy_val_accuracy: f64,
    /// PPO steps taken, and whether the rollouts reached the round's distance within
    /// `rl.ppo.total_steps` steps.
    pub steps: usize,
    pub reached: bool,
    /// KL(pi_i || pi_{i-1}) on the held-out prompts at the round's end (k3, nats).
    pub kl_round: Estimate,
    /// KL(pi_i || pi_init) on the held-out prompts (k3, nats).
    pub kl_init: Estimate,
    /// Gold, proxy and rubric of pi_i on the held-out prompts.
    pub gold: Estimate,
    pub proxy: Estimate,
    pub rubric: Option<Estimate>,
    pub logs: Vec<PpoStepLog>,
}

/// A policy with the key that names it in the store.
#[derive(Clone, Copy)]
pub struct KeyedPolicy<'a> {
    pub key: &'a str,
    pub model: &'a Gpt,
}

/// What one round needs besides its starting policy.
#[derive(Clone, Copy)]
pub struct RoundSpec<'a> {
    pub size: &'a str,
    pub round: usize,
    pub rounds: usize,
    /// The whole run's distance d = sqrt(KL); each round travels d / rounds.
    pub d: f64,
    pub init: KeyedPolicy<'a>,
}

impl Pipeline {
    /// Stage 9: round `spec.round` of `spec.rounds` from `start`: the round's proxy (its own data
    /// and proxy stages, on `proxies.pairs / rounds` comparisons, so that every k spends the same
    /// labels), then PPO to sqrt(KL) = d / rounds. Returns the round's policy under its
    /// key (the round's) and its record.
    pub fn rlhf_round(
        &self,
        w: &WorldArtifacts,
        gold: &Gold,
        start: KeyedPolicy<'_>,
        spec: &RoundSpec<'_>,
    ) -> Result<(TrainedPolicy, Round), ReproError> {
        if !(spec.d.is_finite() && spec.d > 0.0) || spec.rounds == 0 || spec.round == 0 {
            return Err(ReproError::Config(format!(
                "iterated RLHF needs a distance d > 0 and at least one round (got d = {}, round {} of {}): \
                 set sweeps.iterated_d and sweeps.iterated_rounds",
                spec.d, spec.round, spec.rounds
            )));
        }
        let owned = TrainedPolicy { key: start.key.to_string(), model: start.model.clone() };
        // a fixed label budget: each of k rounds labels proxies.pairs / k comparisons
        let mut budget = self.config.proxies.clone();
        budget.pairs = (budget.pairs / spec.rounds).max(1);
        let data = self.proxy_data_with(w, &owned, gold, &budget)?;
        let proxy = self.proxy(w, spec.size, &data)?;
        let c = &self.config.rl;
        let mut ppo = c.ppo.clone();
        ppo.kl_penalty = KlPenalty::Fixed { coef: 0.0 };
        ppo.seed = ppo.seed.wrapping_add(spec.round as u64 - 1);
        let target_kl = (spec.d / spec.rounds as f64).powi(2);
        let round = (spec.round, spec.rounds, target_kl);
        let inputs = plan::rlhf_round_inputs(spec.init.key, start.key, &proxy.key, &gold.key, &ppo, c, round);
        let key = key_of(Stage::RlhfRound, &inputs);
        let (dir, outcome) = self.store.ensure(Stage::RlhfRound, &key, &inputs, |tmp| {
            let prompts = w.prompt_tokens(Split::Train, c.train_prompts, c.prompt_seed)?;
            let eval_prompts = w.prompt_tokens(Split::HeldOut, c.eval_prompts, c.prompt_seed ^ 0xE7A1)?;
            let rubric = RubricScorer::for_gold(w, gold)?;
            let gold_judge = gold.judge(w);
            let mut template = goodhart_core::Record::new("iterated", goodhart_core::Method::Rl);
            template.rm_size = proxy.size.clone();
            let ppo_inputs = PpoInputs {
                prompts: &prompts,
                eval_prompts: &eval_prompts,
                proxy: &proxy.rm,
                gold: &gold_judge,
                rubric: Some(&rubric),
                template,
            };
            let what = format!("RLHF round {} of {} vs {}", spec.round, spec.rounds, proxy.rm.name);
            let pb = Task::start(&self.reporter, ppo.total_steps as u64, &what);
            let mut trainer = PpoTrainer::new(ppo.clone(), start.model, w.specials)?;
            let mut reached = false;
            while trainer.step() < ppo.total_steps {
                let log = trainer.train_step(&ppo_inputs)?;
                pb.inc(1);
                if log.kl_k3.mean >= target_kl {
                    reached = true;
                    break;
                }
            }
            pb.finish();
            let eval = trainer.evaluate(&ppo_inputs)?;
            let policy = trainer.policy();
            let kl_init = self.kl_between(w, &policy, spec.init.model, &eval_prompts, ppo.seed)?;
            policy.save(tmp.join("model"))?;
            let round = Round {
                round: spec.round,
                rounds: spec.rounds,
                proxy_val_loss: proxy.eval.val.loss,
                proxy_val_accuracy: proxy.eval.val.accuracy,
                steps: trainer.step(),
                reached,
                kl_round: eval.kl,
                kl_init,
                gold: eval.gold,
                proxy: eval.proxy,
                rubric: eval.rubric,
                logs: trainer.logs().to_vec(),
            };
            write_json(&tmp.join("round.json"), &round)
        })?;
        let model = Gpt::load(dir.join("model"), &self.device)?;
        let round: Round = read_json(&dir.join("round.json"))?;
        self.report_stage(
            Stage::RlhfRound,
            outcome,
            &dir,
            &format!(
                "round {} of {}: {} steps, KL to the round's start {:.2}, to pi_init {:.2}, gold {:.3}{}",
                round.round,
                round.rounds,
                round.steps,
                round.kl_round.mean,
                round.kl_init.mean,
                round.gold.mean,
                if round.reached { "" } else { " (distance not reached within rl.ppo.total_steps)" }
            ),
        );
        Ok((TrainedPolicy { key, model }, round))
    }

    /// KL(policy || reference) of whole responses (k3 summed over tokens), on one response of
    /// `policy` to each prompt.
    fn kl_between(
        &self,
        w: &WorldArtifacts,
        policy: &Gpt,
        reference: &Gpt,
        prompts: &[Vec<TokenId>],
        seed: u64,
    ) -> Result<Estimate, ReproError> {
        let sampling = self.config.rl.ppo.sampling();
        let samples = generate(policy, prompts, &sampling, w.specials, seed ^ 0x4B4C, 0, BATCH)?;
        let responses: Vec<Vec<TokenId>> = samples.into_iter().map(|s| s.response).collect();
        let lp = response_logprobs(policy, prompts, &responses, w.specials, BATCH)?;
        let lr = response_logprobs(reference, prompts, &responses, w.specials, BATCH)?;
        let kls: Vec<f64> = lp
            .iter()
            .zip(&lr)
            .map(|(p, r)| {
                p.iter().zip(r).map(|(&p, &r)| Estimator::K3.eval(f64::from(r) - f64::from(p))).sum()
            })
            .collect();
        Ok(Estimate::from_values(&kls))
    }
}
