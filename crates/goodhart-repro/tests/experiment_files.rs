//! Experiment files: the presets are the TOML files under `data/experiments/` and keep the stage
//! keys of the Rust presets they replaced (so existing stores stay valid); `--set` overrides
//! recompute only the stages that read them; malformed files and overrides get an error that
//! names the file, line and key.

use goodhart_repro::plan::{fig1_plan, legacy_rl_inputs};
use goodhart_repro::store::{key_of, Stage, Store};
use goodhart_repro::ExperimentConfig;

fn keys(c: &ExperimentConfig) -> Vec<String> {
    let store = Store::new(std::env::temp_dir().join("goodhart-experiment-files-no-store"));
    fig1_plan(c, &store).iter().map(|s| format!("{}/{}", s.stage, s.key)).collect()
}

#[test]
fn the_toml_presets_keep_the_stage_keys_of_the_rust_presets() {
    // figure 1's plan under the Rust presets the files replaced, stage/key in plan order
    let tiny = [
        "world/e14d3bc8a167c729",
        "policy/d3e37d10d1d9f0c6",
        "gold/e0218f0458e26125",
        "proxy-data/20bb181702f31ea7",
        "bon-pool/0140f948bbf8e2a6",
        "bon-scores/1aa626ce27e5b053",
        "lm/6dd8c1ea8b6f7206",
        "proxy/614ff1fd3d9a54b6",
        "bon-scores/1dd3f0c81efbbe8b",
        "rl/16e24100678726eb",
        // PPO trajectory 2 of 2 (trajectory 1 is the run the key above has always named)
        "rl/dae9894ca36a90b5",
    ];
    let laptop = [
        "world/751e0e350cca38a9",
        "policy/72242420192ac126",
        "gold/c98c6ddf87814f1f",
        "proxy-data/6cc22e6ad46b39d9",
        "bon-pool/1eaa0c1d31c01664",
        "bon-scores/341bb038f05286a1",
        "lm/a22ce32b6c69f1cc",
        "proxy/0099afbb0b810872",
        "bon-scores/f0ae66476f6251ea",
        "rl/2e0337217e502b45",
        "rl/6965e544426b81df",
        "rl/c8b4b1ed36fcc949",
        "lm/7d9b84e6378b060c",
        "proxy/52af6e5849e6b0b8",
        "bon-scores/443f8ab9badabe77",
        "lm/716bba7ad1c4ba70",
        "proxy/6574cb2c9fc039cc",
        "bon-scores/d3fb3621c864aff4",
        "rl/7c15c2c22b95162e",
        "rl/aba7f6b197cc14cf",
        "rl/6fdd1141f34da9b7",
        "lm/fa83d9acccc34147",
        "proxy/be16f3be7a2ef56b",
        "bon-scores/644d1dcdd245f961",
        "lm/c1ecb178cbb11d74",
        "proxy/46769dad7039c61e",
        "bon-scores/7a05f1e61565f2b3",
        "rl/3c1545a870cd4f0e",
        "rl/3753cd348a86dece",
        "rl/97d5ad5c2df84444",
    ];
    assert_eq!(keys(&ExperimentConfig::preset("tiny").unwrap()), tiny);
    // the laptop preset before its gold rounds and PPO warmup (round 3, chosen on seed 0) keeps
    // every key; with them, world, policy and the first gold keep theirs and two rounds follow
    let mut before = ExperimentConfig::preset("laptop").unwrap();
    (before.gold.rounds, before.rl.ppo.warmup_steps) = (None, 0);
    assert_eq!(keys(&before), laptop);
    let now = keys(&ExperimentConfig::preset("laptop").unwrap());
    assert_eq!(now[..3], laptop[..3]);
    assert!(now[3].starts_with("gold-round/") && now[4].starts_with("gold-round/"), "{now:?}");
    assert!(now[5..]
        .iter()
        .all(|k| !laptop.contains(&k.as_str()) || k.starts_with("lm/") || k.starts_with("bon-pool/")));
    // PPO runs are keyed by the settings they read, not by rl.sizes; the keys stores made before
    // that hold are still found (and adopted, `Store::adopt`): the old formula gives them
    let old_rl = [
        ("tiny", vec!["4d7bc2607013aaec"]),
        ("laptop", vec!["5fcdd3161a2c6ef4", "e93b838211d9e9b9", "0474c098dd7fc0bc"]),
    ];
    for (preset, old) in old_rl {
        let mut c = ExperimentConfig::preset(preset).unwrap();
        // the settings those stores were made with (before gold rounds and PPO warmup)
        (c.gold.rounds, c.rl.ppo.warmup_steps) = (None, 0);
        let store = Store::new(std::env::temp_dir().join("goodhart-experiment-files-no-store"));
        let plan = fig1_plan(&c, &store);
        let key = |stage: Stage, from: usize| {
            plan[..from].iter().rev().find(|s| s.stage == stage).unwrap().key.clone()
        };
        // the first trajectory of each cell is the run of before trajectories
        let legacy: Vec<String> = (0..plan.len())
            .filter(|&i| plan[i].stage == Stage::Rl && plan[i].what.contains("trajectory 1 of"))
            .map(|i| {
                let (policy, proxy, gold) =
                    (key(Stage::Policy, i), key(Stage::Proxy, i), key(Stage::Gold, i));
                key_of(Stage::Rl, &legacy_rl_inputs(&policy, &proxy, &gold, &c.rl.trajectory(0)))
            })
            .collect();
        assert_eq!(legacy, old, "{preset}");
    }
}

#[test]
fn an_override_recomputes_only_what_reads_it() {
    let tiny = ExperimentConfig::preset("tiny").unwrap();
    let set = |o: &[&str]| tiny.with_overrides(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let more = set(&[r#"proxies.sizes=["p1k", "p10k"]"#]).unwrap();
    assert_eq!(more.proxies.sizes, ["p1k", "p10k"]);
    let (before, after) = (keys(&tiny), keys(&more));
    // every stage of the old plan is still there, unchanged; only p1k's LM, proxy and scores are new
    assert!(before.iter().all(|k| after.contains(k)), "{before:?} -> {after:?}");
    assert_eq!(after.len(), before.len() + 3, "{after:?}");
    // another PPO run leaves the others' keys alone
    let rl_more = keys(&set(&[r#"proxies.sizes=["p1k", "p10k"]"#, r#"rl.sizes=["p1k", "p10k"]"#]).unwrap());
    assert!(before.iter().all(|k| rl_more.contains(k)), "{before:?} -> {rl_more:?}");
    assert_eq!(rl_more.len(), before.len() + 3 + tiny.rl.trajectories, "{rl_more:?}");
    // a PPO setting changes only the PPO runs
    let lr = keys(&set(&["rl.ppo.lr=1e-3"]).unwrap());
    let changed: Vec<&String> = lr.iter().filter(|k| !before.contains(k)).collect();
    assert!(!changed.is_empty() && changed.iter().all(|k| k.starts_with("rl/")), "{changed:?}");
    // an integer where a float is expected is taken as the float
    assert_eq!(set(&["rl.ppo.lr=1"]).unwrap().rl.ppo.lr, 1.0);
    // a setting the preset leaves unset can be set
    assert_eq!(tiny.policy.sampling.top_p, None);
    assert_eq!(set(&["policy.sampling.top_p=0.9"]).unwrap().policy.sampling.top_p, Some(0.9));
}

fn error(text: &str) -> String {
    ExperimentConfig::from_toml(text, "bad.toml").expect_err("must be refused").to_string()
}

fn edit(from: &str, to: &str) -> String {
    let text = include_str!("../../../data/experiments/tiny.toml");
    assert!(text.contains(from), "tiny.toml has no {from:?}");
    text.replacen(from, to, 1)
}

#[test]
fn malformed_files_and_overrides_name_the_place_and_the_fix() {
    let cases: Vec<(String, &[&str])> = vec![
        (edit("total_steps = 4", "total_stepz = 4"), &["bad.toml:", "unknown key `rl.ppo.total_stepz`"]),
        (edit("[bon]\nprompts = 8", "[bon]\nprompts = -8"), &["bad.toml:", "invalid value"]),
        (edit("pairs = 400", "pairs = \"many\""), &["bad.toml:", "invalid type", "string \"many\""]),
        (edit("label_noise = 0.0", "label_noise = [0.0]"), &["bad.toml:", "invalid type"]),
        (edit("[bon]\nprompts = 8", "[bon]"), &["bad.toml:", "missing field `prompts`"]),
        (edit("[sweeps]", "[sweeps]\n[sweeps]"), &["bad.toml:", "duplicate"]),
        (edit("preset = \"tiny\"", "preset = tiny"), &["bad.toml:4:"]),
        (edit("[world.world.split]", "[world.world.splitt]"), &["unknown key `world.world.splitt"]),
        ("".to_string(), &["bad.toml", "missing field"]),
        ("this is not toml".to_string(), &["bad.toml:1:"]),
        (
            edit("size = \"p10k\"", "size = \"p7k\""),
            &["bad.toml:", "policy.size = \"p7k\" is out of range: one of p100"],
        ),
        (
            edit("label_noise = 0.0", "label_noise = 0.7"),
            &["bad.toml:87: proxies.label_noise = 0.7 is out of range: 0 <= p < 0.5"],
        ),
        (
            edit("heldout_fraction = 0.25", "heldout_fraction = 1.0"),
            &["heldout_fraction = 1 is out of range"],
        ),
        (edit("[bon]\nprompts = 8", "[bon]\nprompts = 1"), &["bon.prompts = 1 is out of range: >= 2"]),
        (edit("iterated_d = 0.4", "iterated_d = -1.0"), &["sweeps.iterated_d = -1 is out of range"]),
        (edit("kl_penalties = [0.0, 0.5]", "kl_penalties = [0.0, -0.5]"), &["sweeps.kl_penalties = -0.5"]),
        (edit("iterated_rounds = [1, 2]", "iterated_rounds = [0, 2]"), &["sweeps.iterated_rounds = 0"]),
        (
            edit("placement_coef = 0.5", "placement_coef = 0.0"),
            &["sweeps.placement_coef = 0 is out of range"],
        ),
        (
            edit("grpo_group = 4", "grpo_group = 5"),
            &["sweeps.grpo_group = 5 is out of range: >= 2 and a divisor of rl.ppo.batch_size (16)"],
        ),
        (edit("members = 2", "members = 1"), &["ensembles.members = 1 is out of range: >= 2"]),
        (
            edit("rl_sizes = [\"p10k\"]", "rl_sizes = [\"p3k\"]"),
            &["ensembles.rl_sizes = \"p3k\" is out of range: one of ensembles.sizes (p10k)"],
        ),
        (
            edit("label_noise = [0.0, 0.25]", "label_noise = [0.0, 0.6]"),
            &["ensembles.label_noise = 0.6 is out of range"],
        ),
        (
            edit("rl_label_noise = [0.25]", "rl_label_noise = [0.1]"),
            &["ensembles.rl_label_noise = 0.1 is out of range: one of ensembles.label_noise"],
        ),
        (edit("uwo_lambda = 0.5", "uwo_lambda = -1.0"), &["ensembles.uwo_lambda = -1 is out of range"]),
        (
            edit("warm_label_noise = [0.25]", "warm_label_noise = [0.3]"),
            &["ensembles.warm_label_noise = 0.3 is out of range: one of ensembles.label_noise"],
        ),
        (
            edit("subset_label_noise = [0.25]", "subset_label_noise = [0.3]"),
            &["ensembles.subset_label_noise = 0.3 is out of range: one of ensembles.label_noise"],
        ),
        (
            edit("subset_fraction = 0.5", "subset_fraction = 0.0"),
            &["ensembles.subset_fraction = 0 is out of range: 0 < f <= 1"],
        ),
    ];
    for (text, needles) in &cases {
        let err = error(text);
        for needle in *needles {
            assert!(err.contains(needle), "expected {needle:?} in: {err}");
        }
    }
    let tiny = ExperimentConfig::preset("tiny").unwrap();
    let overrides: [(&str, &[&str]); 6] = [
        ("rl.ppo.lrr=1", &["unknown key `rl.ppo.lrr`"]),
        ("rl.ppo.lr", &["give key=value"]),
        ("rl.ppo.lr=fast", &["not a TOML value"]),
        ("rl.ppo.lr=\"fast\"", &["rl.ppo.lr is a float, not a string"]),
        ("proxies.sizes=\"p1k\"", &["proxies.sizes is an array, not a string"]),
        ("nowhere.key=1", &["unknown key `nowhere`"]),
    ];
    for (o, needles) in overrides {
        let err = tiny.with_overrides(&[o.to_string()]).expect_err("must be refused").to_string();
        for needle in needles {
            assert!(err.contains(needle), "--set {o}: expected {needle:?} in: {err}");
        }
    }
}
