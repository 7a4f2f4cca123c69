//! The trainer: the policy, its frozen initial copy, the value model and their optimisers; one
//! PPO iteration ([`PpoTrainer::train_step`]), evaluations, checkpoints and the loop.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use burn::module::{ModuleMapper, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use goodhart_core::{Estimate, Record, SplitMix64, TokenId};
use goodhart_nn::{clip_global_norm, Gpt, ScalarModel};
use goodhart_policy::sampling::sequence_rng;
use goodhart_policy::{generate, response_logprobs, Specials};

use crate::checkpoint::{self, TrainState};
use crate::rollout::*;
use crate::*;
use goodhart_policy::eval::{checked_reward, sequence_kl};

/// A PPO run in progress.
///
/// # Determinism and resume
///
/// All randomness of step `s` comes from `(seed, s)`: the prompts and the minibatch order from
/// `sequence_rng(seed ^ STEP_SALT, s)`, the responses from [`generate`] with seed
/// `seed ^ ROLLOUT_SALT` and `first_index = s * batch_size` (each response has its own stream).
/// Evaluations sample with `seed ^ EVAL_SALT` and `first_index = 0` at every evaluation (common
/// random numbers: differences between steps are not blurred by fresh sampling noise). burn's
/// global RNG is never used. A checkpoint holds the models, both optimisers' states, the step,
/// the KL coefficient and the logs; so a run resumed from any checkpoint computes the same
/// floats as one that never stopped, and finishes with identical logs and records (on the same
/// machine and thread count).
pub struct PpoTrainer {
    config: PpoConfig,
    specials: Specials,
    /// The plain device of the models; training runs on its autodiff twin.
    device: Device,
    /// The frozen initial policy `pi_init` (plain device).
    init_policy: Gpt,
    /// The policy being trained (autodiff device).
    policy: Gpt,
    /// The value model (autodiff device).
    value: ScalarModel,
    policy_optim: ModuleOptimizer,
    value_optim: ModuleOptimizer,
    state: TrainState,
    checkpoint_dir: Option<PathBuf>,
    /// `(step, evaluations)` of the checkpoint last written or read.
    saved: Option<(usize, usize)>,
}

/// Salts that separate the random streams of one seed.
pub(crate) const STEP_SALT: u64 = 0x5057_0000_0000_0001;
pub(crate) const ROLLOUT_SALT: u64 = 0x5057_0000_0000_0002;
pub(crate) const EVAL_SALT: u64 = 0x5057_0000_0000_0003;

impl PpoTrainer {
    // -----------------------------------------------------------------------------------------
    // 1. The trainer: the policy, its frozen initial copy, the value model, their optimisers
    // -----------------------------------------------------------------------------------------

    /// A fresh run from `init_policy` (on any device; a frozen copy is kept as `pi_init`).
    ///
    /// The value model is a [`ScalarModel`] read at every position: the policy's trunk (copied,
    /// with its own parameters) and a zero-initialised scalar head, so initial values are 0.
    /// A separate value model rather than a head on the policy's trunk: the value loss cannot
    /// disturb the policy's features, no value-loss weight needs tuning, and the policy's update
    /// is exactly the clipped surrogate (as in Stiennon et al. 2020 and Ouyang et al. 2022, who
    /// also use separate value models). It is initialised from the policy, not from the reward
    /// model, because the experiments vary the proxy RM's size and the critic should not vary
    /// with it. The cost is a second forward/backward per minibatch.
    ///
    /// # Errors
    /// [`PpoError::InvalidConfig`] if the config does not validate.
    pub fn new(config: PpoConfig, init_policy: &Gpt, specials: Specials) -> Result<Self, PpoError> {
        config.validate()?;
        let init_policy = init_policy.valid();
        let device = init_policy.lm_head.weight.device();
        let ad = device.clone().autodiff();
        let policy = init_policy.clone().fork(&ad).train();
        let value = init_value_model(&init_policy).fork(&ad).train();
        let state =
            TrainState::new(config.clone(), config.kl_penalty.initial_coef(), fingerprint(&init_policy));
        Ok(PpoTrainer {
            policy_optim: adamw(&config),
            value_optim: adamw(&config),
            config,
            specials,
            device,
            init_policy,
            policy,
            value,
            state,
            checkpoint_dir: None,
            saved: None,
        })
    }

    /// A run that checkpoints into `dir`: resumed from the latest complete checkpoint there if
    /// one exists, else fresh. Leftovers of interrupted checkpoint writes are removed.
    ///
    /// # Errors
    /// [`PpoError::CheckpointCorrupt`] (naming the file) if the checkpoint cannot be read,
    /// [`PpoError::CheckpointMismatch`] if it was written with another config or initial policy.
    pub fn with_checkpoints(
        config: PpoConfig,
        init_policy: &Gpt,
        specials: Specials,
        dir: impl AsRef<Path>,
    ) -> Result<Self, PpoError> {
        let dir = dir.as_ref();
        let mut trainer = Self::new(config, init_policy, specials)?;
        trainer.checkpoint_dir = Some(dir.to_path_buf());
        let Some(path) = checkpoint::latest(dir)? else {
            return Ok(trainer);
        };
        let loaded =
            checkpoint::load(&path, &trainer.device, adamw(&trainer.config), adamw(&trainer.config))?;
        let stored = &loaded.state;
        let mismatch = |detail: String| Err(PpoError::CheckpointMismatch { path: path.clone(), detail });
        if let Some(detail) = stored.config.resume_conflict(&trainer.config) {
            return mismatch(detail);
        }
        if stored.step > trainer.config.total_steps {
            return mismatch(format!(
                "it is at step {} but total_steps is {}",
                stored.step, trainer.config.total_steps
            ));
        }
        if stored.init_fingerprint != trainer.state.init_fingerprint {
            return mismatch("it was trained from another initial policy (weights differ)".into());
        }
        let ad = trainer.device.clone().autodiff();
        trainer.policy = loaded.policy.fork(&ad).train();
        trainer.value = loaded.value.fork(&ad).train();
        trainer.policy_optim = loaded.policy_optim;
        trainer.value_optim = loaded.value_optim;
        trainer.saved = Some((loaded.state.step, loaded.state.evals.len()));
        trainer.state = TrainState { config: trainer.config.clone(), ..loaded.state };
        Ok(trainer)
    }

    pub fn config(&self) -> &PpoConfig {
        &self.config
    }

    /// PPO steps done so far.
    pub fn step(&self) -> usize {
        self.state.step
    }

    /// The current KL-penalty coefficient.
    pub fn kl_coef(&self) -> f64 {
        self.state.kl_coef
    }

    pub fn logs(&self) -> &[PpoStepLog] {
        &self.state.logs
    }

    pub fn evals(&self) -> &[GoldEval] {
        &self.state.evals
    }

    /// An inference copy of the current policy.
    pub fn policy(&self) -> Gpt {
        self.policy.valid()
    }

    /// An inference copy of the current value model (read it per token with [`token_values`]).
    pub fn value_model(&self) -> ScalarModel {
        self.value.valid()
    }

    // -----------------------------------------------------------------------------------------
    // 2. One PPO iteration: rollout, rewards and advantages, update
    // -----------------------------------------------------------------------------------------

    /// One PPO iteration: rollout, rewards, advantages, update. Appends and returns its log.
    ///
    /// # Errors
    /// [`PpoError::NonFiniteLoss`], [`PpoError::BadReward`], or sampling errors.
    pub fn train_step(&mut self, inputs: &PpoInputs) -> Result<PpoStepLog, PpoError> {
        let step = self.state.step;
        let cfg = self.config.clone();
        let mut rng = sequence_rng(cfg.seed ^ STEP_SALT, step as u64);

        // Rollout: sample from the current policy; score; values; rewards; GAE.
        let rollout = self.rollout(step, inputs, &mut rng)?;

        // Update: epochs x minibatches of whole episodes.
        let (lr, vf_lr) = cfg.lr_at(step);
        let mut stats = UpdateStats::default();
        let mut order: Vec<usize> = (0..cfg.batch_size).collect();
        let mut policy = self.policy.clone();
        let mut value = self.value.clone();
        let ad = self.device.clone().autodiff();
        let critic = cfg.advantages == Advantages::Gae;
        let kl_coef = self.state.kl_coef;
        let kl_in_loss = cfg.kl_placement != KlPlacement::K1InReward && kl_coef != 0.0;
        for _epoch in 0..cfg.update_epochs {
            rng.shuffle(&mut order);
            let mut approx_kl = 0.0;
            for rows in order.chunks(cfg.minibatch_size()) {
                let mb = rollout.minibatch(rows, self.specials, cfg.norm_adv && critic, &ad);

                // Policy: clipped surrogate (minus the entropy bonus, plus a KL loss term).
                let logits = policy.forward(mb.inputs.clone()); // [M, T, V]
                let (newlogprob, entropy) = logprobs_and_entropy(logits, &mb.targets); // [M, T]
                let kl_term = if kl_in_loss {
                    kl_loss(
                        cfg.kl_placement,
                        newlogprob.clone(),
                        mb.logprobs.clone(),
                        mb.ref_logprobs.clone(),
                        mb.mask.clone(),
                    )
                } else {
                    None
                };
                let pl = clipped_policy_loss(
                    newlogprob,
                    mb.logprobs,
                    mb.advantages,
                    mb.mask.clone(),
                    cfg.clip_coef,
                );
                let entropy_loss = masked_mean(entropy, mb.mask.clone());
                let pg_loss = scalar(&pl.pg_loss);
                if !pg_loss.is_finite() {
                    return Err(PpoError::NonFiniteLoss { step, loss: "pg_loss", value: pg_loss, lr });
                }
                let mut loss = if cfg.ent_coef != 0.0 {
                    pl.pg_loss - entropy_loss.clone().mul_scalar(cfg.ent_coef)
                } else {
                    pl.pg_loss
                };
                if let Some(term) = kl_term {
                    let value = scalar(&term);
                    if !value.is_finite() {
                        return Err(PpoError::NonFiniteLoss { step, loss: "kl_loss", value, lr });
                    }
                    loss = loss + term.mul_scalar(kl_coef);
                }
                let mut grads = GradientsParams::from_grads(loss.backward(), &policy);
                let grad_norm = clip_global_norm(&policy, &mut grads, cfg.max_grad_norm);
                policy = self.policy_optim.step(lr, policy, grads);

                // Value model (PPO only): (clipped) squared error to the GAE returns.
                let (mut v_loss_value, mut vf_grad_norm) = (0.0, 0.0);
                if critic {
                    let newvalue = token_values(&value, mb.inputs); // [M, T]
                    let clip_v = cfg.clip_vloss.then_some(cfg.clip_coef);
                    let v_loss = clipped_value_loss(newvalue, mb.values, mb.returns, mb.mask, clip_v);
                    v_loss_value = scalar(&v_loss);
                    if !v_loss_value.is_finite() {
                        return Err(PpoError::NonFiniteLoss {
                            step,
                            loss: "v_loss",
                            value: v_loss_value,
                            lr: vf_lr,
                        });
                    }
                    let mut grads = GradientsParams::from_grads(v_loss.backward(), &value);
                    vf_grad_norm = clip_global_norm(&value, &mut grads, cfg.max_grad_norm);
                    value = self.value_optim.step(vf_lr, value, grads);
                }

                approx_kl = scalar(&pl.approx_kl);
                stats.add(
                    pg_loss,
                    v_loss_value,
                    scalar(&entropy_loss),
                    approx_kl,
                    scalar(&pl.clipfrac),
                    grad_norm,
                    vf_grad_norm,
                );
            }
            stats.epochs += 1;
            if cfg.target_kl.is_some_and(|t| approx_kl > t) {
                break;
            }
        }
        self.policy = policy;
        self.value = value;

        // Adaptive KL coefficient, from this rollout's KL.
        if let KlPenalty::Adaptive { target, horizon, .. } = cfg.kl_penalty {
            self.state.kl_coef =
                adaptive_kl_coef(kl_coef, rollout.kl.k1.mean, target, horizon, cfg.batch_size);
        }

        let n = stats.updates as f64;
        let log = PpoStepLog {
            step,
            lr,
            kl_coef,
            proxy: Estimate::from_values(&rollout.scores),
            kl_k1: rollout.kl.k1,
            kl_k3: rollout.kl.k3,
            response_len: rollout.logprobs.len() as f64 / cfg.batch_size as f64,
            pg_loss: stats.pg_loss / n,
            v_loss: stats.v_loss / n,
            entropy: stats.entropy / n,
            approx_kl: stats.approx_kl / n,
            clipfrac: stats.clipfrac / n,
            explained_variance: if critic {
                explained_variance(&rollout.values, &rollout.returns)
            } else {
                None
            },
            grad_norm: stats.grad_norm / n,
            vf_grad_norm: stats.vf_grad_norm / n,
            epochs: stats.epochs,
        };
        self.state.logs.push(log.clone());
        self.state.step += 1;
        Ok(log)
    }

    /// Samples `batch_size` episodes from the current policy and computes everything the update
    /// needs: old log-probabilities, log-probabilities under `pi_init`, values, proxy scores,
    /// per-token rewards, advantages and returns.
    fn rollout(&self, step: usize, inputs: &PpoInputs, rng: &mut SplitMix64) -> Result<Rollout, PpoError> {
        let cfg = &self.config;
        let sp = self.specials;
        let policy = self.policy.valid();
        // GRPO: `group` responses to each prompt, consecutive
        let group = match cfg.advantages {
            Advantages::GroupRelative { group } => group,
            Advantages::Gae => 1,
        };
        let prompts: Vec<Vec<TokenId>> = (0..cfg.batch_size / group)
            .flat_map(|_| {
                let prompt = &inputs.prompts[rng.next_below(inputs.prompts.len() as u64) as usize];
                std::iter::repeat_n(prompt.clone(), group)
            })
            .collect();
        let first_index = (step * cfg.batch_size) as u64;
        let samples = generate(
            &policy,
            &prompts,
            &cfg.sampling(),
            sp,
            cfg.seed ^ ROLLOUT_SALT,
            first_index,
            cfg.gen_batch_size,
        )?;
        let responses: Vec<Vec<TokenId>> = samples.into_iter().map(|s| s.response).collect();

        // log pi_old(a_t | s_t) by a full forward pass (at temperature 1 they equal the sampler's
        // log-probabilities up to float rounding; recomputing them makes step 0's KL exactly 0).
        let logprobs = response_logprobs(&policy, &prompts, &responses, sp, cfg.gen_batch_size)?;
        let ref_logprobs =
            response_logprobs(&self.init_policy, &prompts, &responses, sp, cfg.gen_batch_size)?;
        let kl = sequence_kl(&logprobs, &ref_logprobs)?;
        let scores = checked_reward(inputs.proxy, "proxy", step, &prompts, &responses)?;

        let mut offsets = Vec::with_capacity(responses.len() + 1);
        offsets.push(0);
        for r in &responses {
            offsets.push(offsets.last().unwrap() + r.len());
        }
        let mut ro = Rollout {
            logprobs: logprobs.concat(),
            ref_logprobs: ref_logprobs.concat(),
            values: vec![0.0; offsets[responses.len()]],
            prompts,
            responses,
            offsets,
            scores,
            kl,
            advantages: Vec::new(),
            returns: Vec::new(),
        };
        if cfg.advantages == Advantages::Gae {
            self.rollout_values(&mut ro);
        }

        // Rewards per episode (the KL penalty in them only where it is placed there), then GAE or
        // group-relative advantages.
        let reward_coef = if cfg.kl_placement == KlPlacement::K1InReward { self.state.kl_coef } else { 0.0 };
        let n = ro.logprobs.len();
        let (mut rewards, mut advantages) = (vec![0.0f32; n], vec![0.0f32; n]);
        for e in 0..ro.responses.len() {
            let span = ro.offsets[e]..ro.offsets[e + 1];
            token_rewards(
                &ro.logprobs[span.clone()],
                &ro.ref_logprobs[span.clone()],
                ro.scores[e],
                reward_coef,
                &mut rewards[span.clone()],
            );
            if cfg.advantages == Advantages::Gae {
                gae_into(
                    &rewards[span.clone()],
                    &ro.values[span.clone()],
                    cfg.gamma,
                    cfg.gae_lambda,
                    &mut advantages[span],
                );
            }
        }
        if let Advantages::GroupRelative { group } = cfg.advantages {
            let episode_rewards: Vec<f64> = (0..ro.responses.len())
                .map(|e| rewards[ro.offsets[e]..ro.offsets[e + 1]].iter().map(|&r| r as f64).sum())
                .collect();
            for (e, a) in group_advantages(&episode_rewards, group).into_iter().enumerate() {
                advantages[ro.offsets[e]..ro.offsets[e + 1]].fill(a as f32);
            }
        }
        ro.returns = advantages.iter().zip(&ro.values).map(|(a, v)| a + v).collect();
        ro.advantages = advantages;
        Ok(ro)
    }

    /// Fills `ro.values` with the value model's estimates `V(s_t)` at every response token.
    fn rollout_values(&self, ro: &mut Rollout) {
        let value = self.value.valid();
        let all: Vec<usize> = (0..ro.responses.len()).collect();
        for rows in all.chunks(self.config.gen_batch_size) {
            let mut layout = Layout::new(&ro.prompts, &ro.responses, rows, self.specials);
            let inputs = layout.inputs(&self.device);
            let v = token_values(&value, inputs);
            let host: Vec<f32> = v.into_data().convert::<f32>().try_into_vec::<f32>().expect("f32 values");
            for (r, &e) in rows.iter().enumerate() {
                let (start, span) = (layout.starts[r], ro.offsets[e]..ro.offsets[e + 1]);
                let len = span.len();
                ro.values[span].copy_from_slice(&host[start..start + len]);
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // 3. Gold tracking
    // -----------------------------------------------------------------------------------------

    /// Evaluates the current policy on `inputs.eval_prompts`: one response per prompt, scored by
    /// the gold and the proxy, and the sequence KL to `pi_init` (k3 and k1).
    ///
    /// # Errors
    /// [`PpoError::BadReward`], sampling or KL errors.
    pub fn evaluate(&self, inputs: &PpoInputs) -> Result<GoldEval, PpoError> {
        let cfg = &self.config;
        let judges = Judged {
            prompts: inputs.eval_prompts,
            scored: inputs.proxy,
            gold: inputs.gold,
            rubric: inputs.rubric,
        };
        evaluate_policy(
            &self.policy.valid(),
            &self.init_policy,
            self.state.step,
            &judges,
            &cfg.sampling(),
            self.specials,
            cfg.seed ^ EVAL_SALT,
            cfg.gen_batch_size,
        )
        .map_err(PpoError::from)
    }

    // -----------------------------------------------------------------------------------------
    // 4. The loop
    // -----------------------------------------------------------------------------------------

    /// Runs (or continues) to `total_steps`: at every step of [`eval_steps`] a gold evaluation,
    /// then a PPO iteration; a checkpoint every `checkpoint_every` steps and at the end (when the
    /// trainer has a checkpoint directory). `on_step` sees each iteration's log; returning
    /// `ControlFlow::Break(())` stops the run after that iteration (and its checkpoint, if due),
    /// with `complete = false`.
    ///
    /// # Errors
    /// Bad inputs, a non-finite loss or reward, sampling or I/O errors. A run that fails can be
    /// resumed from its last checkpoint.
    pub fn run(
        &mut self,
        inputs: &PpoInputs,
        mut on_step: impl FnMut(&PpoStepLog) -> ControlFlow<()>,
    ) -> Result<PpoOutput, PpoError> {
        self.check_inputs(inputs)?;
        let total = self.config.total_steps;
        let schedule = eval_steps(total, self.config.eval_per_octave);
        loop {
            let step = self.state.step;
            let evaluated = self.state.evals.last().is_some_and(|e| e.step == step);
            if schedule.contains(&step) && !evaluated {
                let eval = self.evaluate(inputs)?;
                self.state.evals.push(eval);
            }
            if step == total {
                break;
            }
            let log = self.train_step(inputs)?;
            if self.state.step.is_multiple_of(self.config.checkpoint_every) && self.state.step < total {
                self.save_checkpoint()?;
            }
            if on_step(&log).is_break() {
                return Ok(self.output(&inputs.template, false));
            }
        }
        self.save_checkpoint()?;
        Ok(self.output(&inputs.template, true))
    }

    fn output(&self, template: &Record, complete: bool) -> PpoOutput {
        PpoOutput {
            records: self.state.evals.iter().map(|e| e.to_record(template)).collect(),
            evals: self.state.evals.clone(),
            logs: self.state.logs.clone(),
            complete,
        }
    }

    fn check_inputs(&mut self, inputs: &PpoInputs) -> Result<(), PpoError> {
        if inputs.prompts.is_empty() {
            return Err(PpoError::BadInput { what: "no training prompts", fix: "pass at least one prompt" });
        }
        if inputs.eval_prompts.len() < 2 {
            return Err(PpoError::BadInput {
                what: "fewer than 2 evaluation prompts",
                fix: "pass at least 2 held-out prompts (standard errors need two responses)",
            });
        }
        let fp = fingerprint_prompts(inputs.prompts, inputs.eval_prompts);
        match self.state.inputs_fingerprint {
            Some(old) if old != fp => Err(PpoError::CheckpointMismatch {
                path: self.checkpoint_dir.clone().unwrap_or_default(),
                detail: "it was trained on other prompts or evaluation prompts".into(),
            }),
            _ => {
                self.state.inputs_fingerprint = Some(fp);
                Ok(())
            }
        }
    }

    /// Writes a checkpoint of the current state if the trainer has a directory and the state
    /// changed since the last one. Returns the checkpoint's path if one was written.
    ///
    /// # Errors
    /// [`PpoError::Io`] if the files cannot be written.
    pub fn save_checkpoint(&mut self) -> Result<Option<PathBuf>, PpoError> {
        let Some(dir) = &self.checkpoint_dir else {
            return Ok(None);
        };
        let now = (self.state.step, self.state.evals.len());
        if self.saved == Some(now) {
            return Ok(None);
        }
        let path = checkpoint::save(
            dir,
            &self.state,
            &self.policy,
            &self.value,
            &self.policy_optim,
            &self.value_optim,
        )?;
        self.saved = Some(now);
        Ok(Some(path))
    }
}

/// Runs PPO from `init_policy` to `config.total_steps`, resuming from the latest checkpoint in
/// `checkpoint_dir` if there is one, and returns the gold records, evaluations and logs.
///
/// # Errors
/// As [`PpoTrainer::with_checkpoints`] and [`PpoTrainer::run`].
pub fn run_ppo(
    config: &PpoConfig,
    init_policy: &Gpt,
    specials: Specials,
    inputs: &PpoInputs,
    checkpoint_dir: Option<&Path>,
) -> Result<PpoOutput, PpoError> {
    let mut trainer = match checkpoint_dir {
        Some(dir) => PpoTrainer::with_checkpoints(config.clone(), init_policy, specials, dir)?,
        None => PpoTrainer::new(config.clone(), init_policy, specials)?,
    };
    trainer.run(inputs, |_| ControlFlow::Continue(()))
}

/// AdamW as configured (`weight_decay = 0` is Adam).
pub(crate) fn adamw(cfg: &PpoConfig) -> ModuleOptimizer {
    AdamWConfig::new().with_weight_decay(cfg.weight_decay as f32).with_epsilon(cfg.adam_eps as f32).init()
}

/// The value model: the policy's trunk (same weights, new parameter ids) and a zero head.
pub(crate) fn init_value_model(policy: &Gpt) -> ScalarModel {
    struct FreshIds;
    impl ModuleMapper for FreshIds {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            Param::from_tensor(param.val())
        }
    }
    let device = policy.lm_head.weight.device();
    let mut value = policy.config().init_scalar(&device, 0);
    value.trunk = policy.trunk.clone().map(&mut FreshIds);
    value.head.weight = Param::from_tensor(Tensor::zeros([policy.config().d_model, 1], &device));
    value
}

/// FNV-1a over the bits of every float parameter: identifies the initial policy's weights.
pub(crate) fn fingerprint(model: &Gpt) -> u64 {
    struct Fnv(u64);
    impl ModuleVisitor for Fnv {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let values = param.val().into_data().convert::<f32>();
            for x in values.as_slice::<f32>().expect("f32 weights") {
                self.0 = fnv(self.0, x.to_bits() as u64);
            }
        }
    }
    let mut h = Fnv(FNV_OFFSET);
    model.visit(&mut h);
    h.0
}

pub(crate) fn fingerprint_prompts(prompts: &[Vec<TokenId>], eval_prompts: &[Vec<TokenId>]) -> u64 {
    let mut h = FNV_OFFSET;
    for p in prompts.iter().chain([&vec![u32::MAX]]).chain(eval_prompts) {
        h = fnv(h, p.len() as u64);
        for &t in p {
            h = fnv(h, t as u64);
        }
    }
    h
}

pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

pub(crate) fn fnv(mut h: u64, word: u64) -> u64 {
    for byte in word.to_le_bytes() {
        h = (h ^ byte as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Fisher-Yates shuffle.
pub(crate) fn scalar(t: &Tensor<1>) -> f64 {
    t.clone().into_scalar::<f32>() as f64
}

/// Sums of the per-minibatch statistics of one iteration.
#[derive(Default)]
pub(crate) struct UpdateStats {
    updates: usize,
    epochs: usize,
    pg_loss: f64,
    v_loss: f64,
    entropy: f64,
    approx_kl: f64,
    clipfrac: f64,
    grad_norm: f64,
    vf_grad_norm: f64,
}

impl UpdateStats {
    #[allow(clippy::too_many_arguments)]
    fn add(&mut self, pg: f64, v: f64, ent: f64, akl: f64, cf: f64, gn: f64, vgn: f64) {
        self.updates += 1;
        self.pg_loss += pg;
        self.v_loss += v;
        self.entropy += ent;
        self.approx_kl += akl;
        self.clipfrac += cf;
        self.grad_norm += gn;
        self.vf_grad_norm += vgn;
    }
}
