//! Where does the gold disagree with the rubric? Buckets pairs of the broad writer's responses to
//! held-out prompts by the rubric's margin.
//!
//! `cargo run --release -p goodhart-repro --example gold_agreement -- runs laptop`
use burn::tensor::Device;
use goodhart_core::SplitMix64;
use goodhart_repro::{ExperimentConfig, Pipeline};
use goodhart_world::Split;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    goodhart_nn::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let runs = args.get(1).map(String::as_str).unwrap_or("runs");
    let preset = args.get(2).map(String::as_str).unwrap_or("laptop");
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3000);
    let config = ExperimentConfig::preset(preset)?;
    let pipe = Pipeline::new(config, format!("{runs}/{preset}"), Device::flex())
        .with_reporter(goodhart_repro::progress::lines());
    let w = pipe.world()?;
    // the preset's own gold (computed if the store does not have it yet)
    let policy = pipe.policy(&w)?;
    let gold = pipe.gold(&w, &policy)?;
    let writer = w.world.config.writer.broad();
    let mut rng = SplitMix64::new(0xD1A6);
    let (mut ps, mut ra, mut rb, mut ja, mut jb) = (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..n {
        let prompt = w.world.random_prompt(Split::HeldOut, &mut rng);
        let (a, b) = (writer.respond(&prompt, &mut rng), writer.respond(&prompt, &mut rng));
        let text = prompt.text();
        ja.push(w.world.judge(&text, &a)?);
        jb.push(w.world.judge(&text, &b)?);
        ps.push(w.encode(&text)?);
        ra.push(w.encode(&a)?);
        rb.push(w.encode(&b)?);
    }
    let ga = gold.scores(&w, &ps, &ra)?;
    let gb = gold.scores(&w, &ps, &rb)?;
    let bins = [0.0, 0.05, 0.15, 0.3, 0.6, 1.0, 2.0, 100.0];
    let mut hit = vec![0usize; bins.len()];
    let mut tot = vec![0usize; bins.len()];
    let mut wrong_by = std::collections::BTreeMap::<&str, usize>::new();
    for i in 0..n {
        let d = ja[i].score - jb[i].score;
        if d == 0.0 {
            continue;
        }
        let k = bins.iter().rposition(|b| d.abs() >= *b).unwrap();
        tot[k] += 1;
        let agree = (d > 0.0) == (ga[i] > gb[i]);
        if agree {
            hit[k] += 1;
        } else {
            let (x, y) = (&ja[i], &jb[i]);
            let tag = if x.praise != y.praise
                && x.count_error == y.count_error
                && x.repeats == y.repeats
                && x.ungrammatical == y.ungrammatical
                && x.on_topic_fraction == y.on_topic_fraction
            {
                "praise only"
            } else if x.count_error != y.count_error {
                "count differs"
            } else if x.on_topic_fraction != y.on_topic_fraction {
                "topic differs"
            } else if x.repeats != y.repeats {
                "repeats differ"
            } else {
                "other"
            };
            *wrong_by.entry(tag).or_default() += 1;
        }
    }
    let all: usize = tot.iter().sum();
    println!("pairs (untied) {all}, agreement {:.3}", hit.iter().sum::<usize>() as f64 / all as f64);
    for k in 0..bins.len() {
        if tot[k] > 0 {
            println!(
                "|d| >= {:<5} share {:.3}  agreement {:.3}",
                bins[k],
                tot[k] as f64 / all as f64,
                hit[k] as f64 / tot[k] as f64
            );
        }
    }
    println!("errors by feature: {wrong_by:?}");
    Ok(())
}
