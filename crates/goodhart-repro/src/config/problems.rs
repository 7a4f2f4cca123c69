//! What an experiment may not ask for: every setting outside its allowed range, named.

use super::*;

/// A setting outside its allowed range.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub key: String,
    pub value: String,
    pub allowed: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} = {} is out of range: {}", self.key, self.value, self.allowed)
    }
}

impl ExperimentConfig {
    /// Settings outside their allowed range, each naming its key, value and range.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut check = |ok: bool, key: &str, value: String, allowed: &str| {
            if !ok {
                out.push(Problem { key: key.to_string(), value, allowed: allowed.to_string() });
            }
        };
        let models = goodhart_nn::PRESETS;
        let known = |s: &str| models.contains(&s);
        let allowed_models = format!("one of {}", models.join(", "));
        for (key, size) in [
            ("policy.size", &self.policy.size),
            ("gold.size", &self.gold.size),
            ("sweeps.kl_rm_size", &self.sweeps.kl_rm_size),
            ("sweeps.policy_size", &self.sweeps.policy_size),
            ("sweeps.policy_rm_size", &self.sweeps.policy_rm_size),
            ("sweeps.iterated_rm_size", &self.sweeps.iterated_rm_size),
        ] {
            check(known(size), key, format!("{size:?}"), &allowed_models);
        }
        for (key, sizes) in [
            ("proxies.sizes", &self.proxies.sizes),
            ("rl.sizes", &self.rl.sizes),
            ("sweeps.data_rm_sizes", &self.sweeps.data_rm_sizes),
            ("sweeps.chance_rm_sizes", &self.sweeps.chance_rm_sizes),
        ] {
            for size in sizes.iter().filter(|s| !known(s)) {
                check(false, key, format!("{size:?}"), &allowed_models);
            }
        }
        match (self.gold.kind, self.gold.label_accuracy) {
            (GoldKind::Rubric, Some(a)) => check(
                a > 0.5 && a <= 1.0,
                "gold.label_accuracy",
                a.to_string(),
                "0.5 < a <= 1 (how often a label agrees with the rubric)",
            ),
            (GoldKind::Rubric, None) => check(
                false,
                "gold.label_accuracy",
                "missing".into(),
                "a value in (0.5, 1] with gold.kind = \"rubric\" (e.g. the learned gold's agreement with the rubric)",
            ),
            (GoldKind::Learned, Some(a)) => check(
                false,
                "gold.label_accuracy",
                a.to_string(),
                "no value unless gold.kind = \"rubric\" (a learned gold labels by its own scores)",
            ),
            (GoldKind::Learned, None) => {}
        }
        if let Some(r) = &self.gold.rounds {
            check(
                self.gold.kind.is_learned(),
                "gold.rounds",
                format!("{{ count = {} }}", r.count),
                "no rounds with gold.kind = \"rubric\" (the rubric needs no teaching): remove [gold.rounds]",
            );
            check(r.count >= 1, "gold.rounds.count", r.count.to_string(), "at least 1 (or no [gold.rounds])");
            check(
                r.snapshots >= 1 && r.pairs >= 4 * r.snapshots,
                "gold.rounds.pairs",
                format!("{} pairs over {} snapshots", r.pairs, r.snapshots),
                "at least one snapshot and 4 pairs per snapshot",
            );
        }
        check(!self.proxies.sizes.is_empty(), "proxies.sizes", "[]".into(), "at least one size");
        let noise = self.proxies.label_noise;
        check(
            (0.0..0.5).contains(&noise),
            "proxies.label_noise",
            noise.to_string(),
            "0 <= p < 0.5 (a flip probability)",
        );
        let f = self.world.world.split.heldout_fraction;
        check(f > 0.0 && f < 1.0, "world.world.split.heldout_fraction", f.to_string(), "0 < f < 1");
        check(
            self.proxies.pairs >= 10,
            "proxies.pairs",
            self.proxies.pairs.to_string(),
            ">= 10 (10% are held out)",
        );
        check(
            self.bon.prompts >= 2,
            "bon.prompts",
            self.bon.prompts.to_string(),
            ">= 2 (a fall is tested on half the prompts)",
        );
        check(self.bon.pool >= 2, "bon.pool", self.bon.pool.to_string(), ">= 2");
        check(self.bon.grid_points >= 2, "bon.grid_points", self.bon.grid_points.to_string(), ">= 2");
        check(self.rl.eval_prompts >= 2, "rl.eval_prompts", self.rl.eval_prompts.to_string(), ">= 2");
        check(self.rl.train_prompts >= 1, "rl.train_prompts", self.rl.train_prompts.to_string(), ">= 1");
        for size in self.rl.sizes.iter().filter(|s| known(s) && !self.proxies.sizes.contains(s)) {
            let allowed = format!(
                "one of proxies.sizes ({}): PPO runs against a proxy figure 1 trains",
                self.proxies.sizes.join(", ")
            );
            check(false, "rl.sizes", format!("{size:?}"), &allowed);
        }
        let steps = self.rl.ppo.total_steps;
        check(steps >= 1, "rl.ppo.total_steps", steps.to_string(), ">= 1");
        let t = self.policy.sampling.temperature;
        check(
            t.is_finite() && t > 0.0,
            "policy.sampling.temperature",
            t.to_string(),
            "> 0 (1: the model's own distribution)",
        );
        let top_p = self.policy.sampling.top_p;
        if let Some(p) = top_p {
            check(p > 0.0 && p <= 1.0, "policy.sampling.top_p", p.to_string(), "0 < p <= 1");
        }
        let cap = self.policy.sampling.max_new_tokens;
        check(cap >= 1, "policy.sampling.max_new_tokens", cap.to_string(), ">= 1");
        let d = self.sweeps.iterated_d;
        check(d.is_finite() && d > 0.0, "sweeps.iterated_d", d.to_string(), "a distance > 0");
        for &coef in &self.sweeps.kl_penalties {
            check(
                coef.is_finite() && coef >= 0.0,
                "sweeps.kl_penalties",
                coef.to_string(),
                "finite and >= 0",
            );
        }
        let coef = self.sweeps.placement_coef;
        check(coef.is_finite() && coef > 0.0, "sweeps.placement_coef", coef.to_string(), "finite and > 0");
        let (group, batch) = (self.sweeps.grpo_group, self.rl.ppo.batch_size);
        check(
            group >= 2 && batch.is_multiple_of(group),
            "sweeps.grpo_group",
            group.to_string(),
            &format!(">= 2 and a divisor of rl.ppo.batch_size ({batch})"),
        );
        for &k in &self.sweeps.iterated_rounds {
            check(k >= 1, "sweeps.iterated_rounds", k.to_string(), ">= 1");
        }
        let e = &self.ensembles;
        for (key, sizes) in [("ensembles.sizes", &e.sizes), ("ensembles.rl_sizes", &e.rl_sizes)] {
            for size in sizes.iter().filter(|s| !known(s)) {
                check(false, key, format!("{size:?}"), &allowed_models);
            }
        }
        for size in e.rl_sizes.iter().filter(|s| known(s) && !e.sizes.contains(s)) {
            let allowed = format!("one of ensembles.sizes ({})", e.sizes.join(", "));
            check(false, "ensembles.rl_sizes", format!("{size:?}"), &allowed);
        }
        check(
            e.members >= 2,
            "ensembles.members",
            e.members.to_string(),
            ">= 2 (an ensemble of one is its member)",
        );
        for &p in &e.label_noise {
            check(
                (0.0..0.5).contains(&p),
                "ensembles.label_noise",
                p.to_string(),
                "each 0 <= p < 0.5 (a flip probability)",
            );
        }
        for (key, levels) in [
            ("ensembles.rl_label_noise", &e.rl_label_noise),
            ("ensembles.subset_label_noise", &e.subset_label_noise),
            ("ensembles.warm_label_noise", &e.warm_label_noise),
        ] {
            for &p in levels.iter().filter(|p| !e.label_noise.contains(p)) {
                let allowed = format!("one of ensembles.label_noise ({:?})", e.label_noise);
                check(false, key, p.to_string(), &allowed);
            }
        }
        check(
            e.warm_label_noise.is_empty() || self.proxies.init_lm.is_some(),
            "ensembles.warm_label_noise",
            format!("{:?}", e.warm_label_noise),
            "empty unless proxies.init_lm is set (WARM averages members fine-tuned from one pretrained model)",
        );
        check(
            e.subset_fraction > 0.0 && e.subset_fraction <= 1.0,
            "ensembles.subset_fraction",
            e.subset_fraction.to_string(),
            "0 < f <= 1 (a fraction of the comparisons)",
        );
        let d = &self.dpo;
        for &beta in &d.betas {
            check(beta.is_finite() && beta > 0.0, "dpo.betas", beta.to_string(), "each finite and > 0");
        }
        for (key, v) in [
            ("dpo.steps", d.steps),
            ("dpo.batch_size", d.batch_size),
            ("dpo.eval_per_octave", d.eval_per_octave),
        ] {
            check(v >= 1, key, v.to_string(), ">= 1");
        }
        for (key, v) in [("dpo.lr", d.lr), ("dpo.max_grad_norm", d.max_grad_norm)] {
            check(v.is_finite() && v > 0.0, key, v.to_string(), "finite and > 0");
        }
        check(
            d.weight_decay.is_finite() && d.weight_decay >= 0.0,
            "dpo.weight_decay",
            d.weight_decay.to_string(),
            "finite and >= 0",
        );
        check(
            e.uwo_lambda.is_finite() && e.uwo_lambda >= 0.0,
            "ensembles.uwo_lambda",
            e.uwo_lambda.to_string(),
            "finite and >= 0",
        );
        out
    }
}
