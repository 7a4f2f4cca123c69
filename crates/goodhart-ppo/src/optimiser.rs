//! PPO as a [`goodhart_core::Optimiser`]: it owns the initial policy, its training and evaluation
//! prompts, the row template of its records and the directory it checkpoints into.

use std::ops::ControlFlow;
use std::path::PathBuf;

use goodhart_core::{BoxError, Judges, Optimiser, Record, RewardModel, TokenId};
use goodhart_nn::Gpt;
use goodhart_policy::Specials;

use crate::{PpoConfig, PpoError, PpoInputs, PpoOutput, PpoStepLog, PpoTrainer};

/// What a run tells its observer.
#[derive(Debug)]
pub enum PpoProgress<'a> {
    /// The run starts at `step`: 0 when fresh, later when resumed from a checkpoint.
    Started { step: usize },
    /// An iteration finished.
    Step(&'a PpoStepLog),
}

/// PPO against a proxy, from an initial policy it owns.
pub struct PpoOptimiser {
    pub config: PpoConfig,
    /// The initial policy (kept unchanged; the trainer trains a copy).
    pub init_policy: Gpt,
    pub specials: Specials,
    /// Training prompts; each rollout draws `batch_size` of them with replacement.
    pub prompts: Vec<Vec<TokenId>>,
    /// Held-out prompts of the evaluations.
    pub eval_prompts: Vec<Vec<TokenId>>,
    /// The row every record starts from (see [`PpoInputs::template`]).
    pub template: Record,
    /// Where checkpoints go; a run finding one there resumes from it.
    pub checkpoint_dir: Option<PathBuf>,
    observer: Box<dyn FnMut(PpoProgress<'_>) -> ControlFlow<()>>,
}

impl PpoOptimiser {
    /// PPO from `init_policy` on `prompts`, evaluated on `eval_prompts`, without checkpoints and
    /// without an observer.
    pub fn new(
        config: PpoConfig,
        init_policy: Gpt,
        specials: Specials,
        prompts: Vec<Vec<TokenId>>,
        eval_prompts: Vec<Vec<TokenId>>,
        template: Record,
    ) -> Self {
        PpoOptimiser {
            config,
            init_policy,
            specials,
            prompts,
            eval_prompts,
            template,
            checkpoint_dir: None,
            observer: Box::new(|_| ControlFlow::Continue(())),
        }
    }

    /// Checkpoints into `dir` and resumes from the latest checkpoint found there.
    pub fn with_checkpoints(mut self, dir: impl Into<PathBuf>) -> Self {
        self.checkpoint_dir = Some(dir.into());
        self
    }

    /// Calls `observer` when the run starts and after every iteration; returning
    /// `ControlFlow::Break` stops the run after that iteration (its output is then incomplete).
    pub fn with_observer(
        mut self,
        observer: impl FnMut(PpoProgress<'_>) -> ControlFlow<()> + 'static,
    ) -> Self {
        self.observer = Box::new(observer);
        self
    }
}

impl Optimiser for PpoOptimiser {
    type Run = PpoOutput;

    fn optimise(
        &mut self,
        proxy: Option<&dyn RewardModel>,
        judges: Judges<'_>,
    ) -> Result<PpoOutput, BoxError> {
        let proxy = proxy.ok_or(PpoError::BadInput {
            what: "PPO was given no proxy reward model",
            fix: "pass the reward model to optimise against",
        })?;
        let mut trainer = match &self.checkpoint_dir {
            Some(dir) => {
                PpoTrainer::with_checkpoints(self.config.clone(), &self.init_policy, self.specials, dir)?
            }
            None => PpoTrainer::new(self.config.clone(), &self.init_policy, self.specials)?,
        };
        if trainer.step() > self.config.total_steps {
            return Err(PpoError::CheckpointMismatch {
                path: self.checkpoint_dir.clone().unwrap_or_default(),
                detail: format!(
                    "its step {} is past total_steps {}",
                    trainer.step(),
                    self.config.total_steps
                ),
            }
            .into());
        }
        let inputs = PpoInputs {
            prompts: &self.prompts,
            eval_prompts: &self.eval_prompts,
            proxy,
            gold: judges.gold,
            rubric: judges.rubric,
            template: self.template.clone(),
        };
        let observer = &mut self.observer;
        if observer(PpoProgress::Started { step: trainer.step() }).is_break() {
            return Err("the observer stopped PPO before its first step".into());
        }
        Ok(trainer.run(&inputs, |log| observer(PpoProgress::Step(log)))?)
    }
}
