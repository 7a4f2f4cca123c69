//! The diagram of the setup (fig2), the hyperparameters (table1) and one prompt's best-of-n
//! answers (table2).

use goodhart_bon::log_grid;
use goodhart_kl::kl_bon;

use super::*;
use crate::pipeline::{Base, Pipeline};
use crate::ReproError;

/// Runs the target `kind` of this family.
pub(super) fn run(kind: Table, p: &Pipeline) -> Result<TargetOutput, ReproError> {
    match kind {
        Table::Fig2 => Ok(fig2()),
        Table::Table1 => Ok(table1(p)),
        Table::Table2 => table2(p),
    }
}

fn fig2() -> TargetOutput {
    let diagram = "\
```text
 the 'human' rubric ──labels──▶ pairs of broad-writer responses ──trains──▶ GOLD RM (frozen)
                                                                              │
 initial policy ──samples──▶ pairs of responses ──────────────labelled by gold┘
                                    │
                                    └──trains──▶ PROXY RMs (one per size)
                                                     │
 initial policy ──best-of-n / PPO against a proxy──▶ optimised policy ──scored by──▶ gold (truth)
                                                                        and proxy (what was optimised)
```";
    let mut s = String::new();
    line(&mut s, "# fig2: the synthetic setup\n");
    line(&mut s, diagram);
    line(
        &mut s,
        "\nThe gold RM plays the human: its labels train the proxies, and its score is the ground truth of every \
         curve. Here the gold itself learns from a programmatic rubric (goodhart-world), so its agreement with \
         the rubric is reported beside every figure 1 run.",
    );
    TargetOutput::new("fig2", s, Vec::new(), None, serde_json::json!({ "diagram": diagram }))
}

fn table1(p: &Pipeline) -> TargetOutput {
    let c = &p.config;
    let mut s = String::new();
    line(&mut s, format!("# table1: hyperparameters of the `{}` preset\n", c.preset));
    line(&mut s, "| stage | setting | value |\n|---|---|---|");
    let flatten = |s: &mut String, stage: &str, v: serde_json::Value| {
        fn walk(s: &mut String, stage: &str, prefix: String, v: &serde_json::Value) {
            match v {
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                        walk(s, stage, key, v);
                    }
                }
                other => line(s, format!("| {stage} | {prefix} | {other} |")),
            }
        }
        walk(s, stage, String::new(), &v);
    };
    let value = |x: &dyn erased::Json| x.json();
    flatten(&mut s, "world", value(&c.world));
    flatten(&mut s, "policy", value(&c.policy));
    flatten(&mut s, "gold", value(&c.gold));
    flatten(&mut s, "proxies", value(&c.proxies));
    flatten(&mut s, "bon", value(&c.bon));
    flatten(&mut s, "rl", value(&c.rl));
    flatten(&mut s, "sweeps", value(&c.sweeps));
    line(&mut s, "\nThe paper's Table 1 values and how they map onto these settings are documented on `goodhart_ppo::PpoConfig`.");
    TargetOutput::new("table1", s, Vec::new(), None, c)
}

mod erased {
    /// Serialises any config section to JSON (a tiny object-safe wrapper over `Serialize`).
    pub trait Json {
        fn json(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Value {
            serde_json::to_value(self).expect("configs serialise")
        }
    }
}

fn table2(p: &Pipeline) -> Result<TargetOutput, ReproError> {
    let Base { w, data, pools, gold_scores, .. } = p.base()?;
    let size =
        p.config.proxies.sizes.first().ok_or_else(|| ReproError::Config("proxies.sizes is empty".into()))?;
    let proxy = p.proxy(&w, size, &data)?;
    let proxy_scores = p.bon_scores(&pools, &proxy)?;
    let prompt = 0;
    // the grid of figure 1, without running figure 1 (its PPO stages are not needed here)
    let grid = log_grid(p.config.bon.pool as u64, p.config.bon.grid_points);
    let mut s = String::new();
    line(&mut s, format!("# table2: one prompt's best-of-n answers, proxy {size}\n"));
    line(
        &mut s,
        format!(
            "Prompt: `{}`. For each n, the best of the first n pooled samples by proxy score.\n",
            w.decode(&pools.prompts[prompt])?
        ),
    );
    line(&mut s, "| n | KL_bon | response | proxy | gold | rubric |\n|---|---|---|---|---|---|");
    let mut rows = Vec::new();
    for n in grid {
        let n = n as usize;
        let best = (0..n)
            .max_by(|&a, &b| proxy_scores[prompt][a].total_cmp(&proxy_scores[prompt][b]))
            .expect("n >= 1");
        let response = &pools.responses[prompt][best];
        let text = w.decode(response)?;
        let rubric = w.rubric(&pools.prompts[prompt], response)?;
        let kl = kl_bon(n as u64).map_err(|e| ReproError::Artifact(e.to_string()))?;
        line(
            &mut s,
            format!(
                "| {n} | {kl:.2} | {text} | {:.3} | {:.3} | {rubric:.2} |",
                proxy_scores[prompt][best], gold_scores[prompt][best]
            ),
        );
        rows.push(
            serde_json::json!({"n": n, "kl": kl, "response": text, "proxy": proxy_scores[prompt][best],
            "gold": gold_scores[prompt][best], "rubric": rubric}),
        );
    }
    Ok(TargetOutput::new("table2", s, Vec::new(), None, rows))
}
