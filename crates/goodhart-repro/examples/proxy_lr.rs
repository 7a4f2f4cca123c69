//! Does the proxies' learning rate, or their training seed, decide which size learns the gold
//! best? Trains proxies of the given sizes (from their pretrained LMs when the preset says so) at
//! several learning rates and training seeds (head initialisation and batch order) on the preset's
//! own proxy data (from the store, computed if missing) and prints validation loss and accuracy
//! against the gold.
//!
//! `cargo run --release -p goodhart-repro --example proxy_lr -- RUNS [laptop] [p30k,p100k] [1e-3,5e-4] [SEEDS]`
use burn::tensor::Device;
use goodhart_repro::{ExperimentConfig, Pipeline};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    goodhart_nn::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let runs = args.get(1).map(String::as_str).unwrap_or("runs/laptop");
    let preset = args.get(2).map(String::as_str).unwrap_or("laptop");
    let sizes: Vec<&str> = args.get(3).map_or("p30k,p100k", String::as_str).split(',').collect();
    let lrs: Vec<f64> = args
        .get(4)
        .map_or("1e-3,5e-4", String::as_str)
        .split(',')
        .map(|s| s.parse())
        .collect::<Result<_, _>>()?;
    let seeds: u64 = args.get(5).map_or(Ok(1), |s| s.parse())?;
    let config = ExperimentConfig::preset(preset)?;
    let base = config.proxies.train.clone();
    let pipe = Pipeline::new(config, runs, Device::flex()).with_reporter(goodhart_repro::progress::lines());
    let w = pipe.world()?;
    let policy = pipe.policy(&w)?;
    let gold = pipe.gold(&w, &policy)?;
    let data = pipe.proxy_data(&w, &policy, &gold)?;
    println!("| size | lr | seed | val loss | val acc |\n|---|---|---|---|---|");
    for size in &sizes {
        for &lr in &lrs {
            for seed in base.seed..base.seed + seeds {
                let cfg = goodhart_rm::RmTrainConfig { lr, seed, ..base.clone() };
                let rm = pipe.proxy_with(&w, size, &data, data.train.len(), &cfg)?;
                println!(
                    "| {size} | {lr:e} | {seed} | {:.4} | {:.3} |",
                    rm.eval.val.loss, rm.eval.val.accuracy
                );
            }
        }
    }
    Ok(())
}
