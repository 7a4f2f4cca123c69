//! A direct alignment algorithm as a [`goodhart_core::Optimiser`]: it owns the initial policy
//! (also its reference), the preference pairs and the held-out prompts, and takes no proxy.

use std::ops::ControlFlow;

use goodhart_core::{BoxError, Judges, Optimiser, Record, RewardModel, TokenId};
use goodhart_nn::Gpt;
use goodhart_policy::Specials;

use crate::{DaaConfig, DaaError, DaaOutput, DaaStepLog, DaaTrainer, PreferencePair};

/// What the run calls after every step; `ControlFlow::Break` stops it.
type Observer = Box<dyn FnMut(&DaaStepLog) -> ControlFlow<()>>;

/// DPO or IPO from an initial policy on preference pairs.
pub struct DaaOptimiser {
    pub config: DaaConfig,
    pub init_policy: Gpt,
    pub specials: Specials,
    pub pairs: Vec<PreferencePair>,
    /// Held-out prompts of the evaluations.
    pub eval_prompts: Vec<Vec<TokenId>>,
    /// The row every record starts from.
    pub template: Record,
    observer: Observer,
}

impl DaaOptimiser {
    pub fn new(
        config: DaaConfig,
        init_policy: Gpt,
        specials: Specials,
        pairs: Vec<PreferencePair>,
        eval_prompts: Vec<Vec<TokenId>>,
        template: Record,
    ) -> Self {
        DaaOptimiser {
            config,
            init_policy,
            specials,
            pairs,
            eval_prompts,
            template,
            observer: Box::new(|_| ControlFlow::Continue(())),
        }
    }

    /// Calls `observer` after every step; `ControlFlow::Break` stops the run.
    pub fn with_observer(mut self, observer: impl FnMut(&DaaStepLog) -> ControlFlow<()> + 'static) -> Self {
        self.observer = Box::new(observer);
        self
    }
}

impl Optimiser for DaaOptimiser {
    type Run = DaaOutput;

    fn optimise(
        &mut self,
        proxy: Option<&dyn RewardModel>,
        judges: Judges<'_>,
    ) -> Result<DaaOutput, BoxError> {
        if proxy.is_some() {
            return Err(DaaError::BadInput {
                what: "a direct alignment algorithm was given a proxy reward model",
                fix: "it learns from the preference pairs it owns: pass no proxy (None)",
            }
            .into());
        }
        let mut trainer = DaaTrainer::new(self.config.clone(), &self.init_policy, self.specials)?;
        let observer = &mut self.observer;
        Ok(trainer.run(&self.pairs, &self.eval_prompts, judges.gold, judges.rubric, &self.template, |l| {
            observer(l)
        })?)
    }
}
