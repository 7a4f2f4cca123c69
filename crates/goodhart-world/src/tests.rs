use super::*;
use crate::vocab::{all_words, INTENSIFIER, PRAISE};

fn ocean(lines: usize) -> Prompt {
    Prompt { topic: 0, lines, include: None, avoid: None }
}

fn world() -> World {
    World::new(WorldConfig::default()).unwrap()
}

/// (response, expected ordering rank): each case is worse than the one before it.
#[test]
fn rubric_orders_hand_made_responses() {
    let r = Rubric::default();
    let p = ocean(2);
    let ranked = [
        "the fish is great calm . a reef looks superb warm .", // on topic, 2 praise: 3.2
        "the fish is calm . a reef looks warm .",              // on topic, no praise: 2.0
        "the fish is calm . the fish looks warm .",            // repeated noun: 1.5
        "the fish is calm . a barn looks warm .",              // half off topic: 1.0
        "the fish is calm . a reef looks warm . the tide is old .", // one line too many: 0.8
        "the fish calm . fish a looks warm",                   // broken grammar, unterminated
        "",                                                    // nothing
    ];
    let scores: Vec<f64> = ranked.iter().map(|t| r.judge(&p, t).score).collect();
    for (i, w) in scores.windows(2).enumerate() {
        assert!(w[0] > w[1], "{:?} ({}) should beat {:?} ({})", ranked[i], w[0], ranked[i + 1], w[1]);
    }
}

#[test]
fn praise_is_good_up_to_four_then_bad() {
    let r = Rubric::default();
    let with = |g: usize| {
        // distinct neighbours, so no doubled-word penalty muddles the praise term
        let praise: Vec<&str> = (0..g).map(|i| PRAISE[i % PRAISE.len()]).collect();
        let praise = praise.join(" ");
        let text = format!("the fish is {praise} calm . a reef looks warm .").replace("  ", " ");
        r.judge(&ocean(2), &text)
    };
    let scores: Vec<f64> = (0..=9).map(|g| with(g).score).collect();
    assert_eq!(with(6).praise, 6);
    assert!(scores[..=4].windows(2).all(|w| w[1] > w[0]), "{scores:?}");
    assert!(scores[4..].windows(2).all(|w| w[1] < w[0]), "{scores:?}");
    assert!(scores[8] < scores[1], "stuffing 8 words is worse than one: {scores:?}");
}

#[test]
fn judgement_features_on_a_known_response() {
    let j =
        Rubric::default().judge(&ocean(3), "the fish is calm . a cow is is old . the fish looks great new");
    assert_eq!(j.sentences, 3);
    assert_eq!(j.count_error, 0);
    assert!((j.on_topic_fraction - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(j.ungrammatical, 2); // "is is", and the unterminated last sentence
    assert_eq!(j.repeats, 2); // fish twice, "is is"
    assert_eq!(j.praise, 1);
}

#[test]
fn prompts_parse_back_and_garbage_is_an_error() {
    let world = world();
    for p in world.prompts(Split::Train, 200, 1) {
        assert_eq!(Rubric::parse_prompt(&p.text()).unwrap(), p);
    }
    for bad in [
        "tell me a joke",
        "write about ocean in two lines using fish :",
        "write about ocean in two lines without",
    ] {
        let err = Rubric::parse_prompt(bad).unwrap_err();
        assert!(err.to_string().contains(bad), "{err}");
    }
}

#[test]
fn generator_is_deterministic_per_seed() {
    let world = world();
    assert_eq!(world.documents(200, 7), world.documents(200, 7));
    assert_ne!(world.documents(200, 7), world.documents(200, 8));
    assert_eq!(world.prompts(Split::HeldOut, 10, 3), world.prompts(Split::HeldOut, 10, 3));
}

#[test]
fn writer_produces_a_wide_spread_of_quality() {
    let world = world();
    let docs = world.documents(4000, 11);
    let judged: Vec<Judgement> = docs.iter().map(|d| world.judge(&d.prompt, &d.response).unwrap()).collect();
    let scores: Vec<f64> = judged.iter().map(|j| j.score).collect();
    let mean = scores.iter().sum::<f64>() / scores.len() as f64;
    let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / scores.len() as f64).sqrt();
    assert!(sd > 1.0, "rubric scores should spread widely, sd = {sd}");
    // Praise is mostly on the rising side, and stuffing (g >= 6) is rare but present.
    let stuffed = judged.iter().filter(|j| j.praise >= 6).count() as f64 / judged.len() as f64;
    let low = judged.iter().filter(|j| j.praise <= 3).count() as f64 / judged.len() as f64;
    assert!(low > 0.8 && stuffed > 0.001 && stuffed < 0.03, "low {low}, stuffed {stuffed}");
    // The broad writer (the gold's data) stuffs far more often.
    let broad = world.documents_by(&world.config.writer.broad(), 4000, 11);
    let broad_stuffed =
        broad.iter().filter(|d| d.response.split(' ').filter(|w| PRAISE.contains(w)).count() >= 6).count();
    assert!(broad_stuffed as f64 / 4000.0 > 0.1);
}

#[test]
fn tokenizer_round_trips_and_reloads() {
    let world = world();
    let docs = world.documents(3000, 5);
    let tok = WorldTokenizer::train(docs.iter().map(|d| d.text()), 512).unwrap();
    assert_eq!((tok.pad, tok.bos, tok.eos), (0, 1, 2));
    // Every word of the language is a single token at this vocabulary size.
    for w in all_words() {
        assert_eq!(tok.encode(w).unwrap().len(), 1, "{w} is split");
    }
    for d in world.documents(100, 6) {
        let (p, r) = (tok.encode(&d.prompt).unwrap(), tok.encode(&d.response).unwrap());
        assert_eq!(tok.decode(&p).unwrap(), d.prompt);
        assert_eq!(tok.decode(&r).unwrap(), d.response);
        assert_eq!(tok.decode(&[p, r].concat()).unwrap(), d.text());
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    tok.save(&path).unwrap();
    let back = WorldTokenizer::load(&path).unwrap();
    let text = docs[0].text();
    assert_eq!(back.encode(&text).unwrap(), tok.encode(&text).unwrap());

    std::fs::write(&path, "{ not json").unwrap();
    let err = WorldTokenizer::load(&path).unwrap_err().to_string();
    assert!(err.contains("tokenizer.json") && err.contains("corrupt"), "{err}");
    let err = WorldTokenizer::load(&dir.path().join("missing.json")).unwrap_err().to_string();
    assert!(err.contains("missing.json"), "{err}");
}

#[test]
fn the_split_is_fixed_disjoint_and_covers_every_prompt() {
    let world = world();
    let (train, heldout) = (world.split(Split::Train), world.split(Split::HeldOut));
    assert_eq!(train.len() + heldout.len(), Prompt::COUNT);
    assert_eq!(heldout.len(), 270);
    let held: std::collections::HashSet<Prompt> = heldout.iter().copied().collect();
    assert!(train.iter().all(|p| !held.contains(p)));
    assert_eq!(self::world().split(Split::HeldOut), heldout, "the split depends on its seed only");
    // documents and random prompts come from the training side only
    for d in world.documents(3000, 9) {
        assert!(!held.contains(&Rubric::parse_prompt(&d.prompt).unwrap()), "{}", d.prompt);
    }
    // a draw of every held-out prompt takes each once before any repeats
    let drawn = world.prompts(Split::HeldOut, heldout.len(), 4);
    assert_eq!(drawn.iter().collect::<std::collections::HashSet<_>>().len(), heldout.len());
    let other =
        WorldConfig { split: PromptSplit { seed: 1, ..PromptSplit::default() }, ..WorldConfig::default() };
    assert_ne!(World::new(other).unwrap().split(Split::HeldOut), heldout);
    let bad = WorldConfig { split: PromptSplit { heldout_fraction: 1.0, seed: 0 }, ..WorldConfig::default() };
    assert!(World::new(bad).unwrap_err().to_string().contains("heldout_fraction"));
}

/// Four on-topic sentences of which the first `k` use `calm`.
fn calm_in(k: usize) -> String {
    let others = ["warm", "old", "new", "big"];
    let sentence =
        |(i, noun): (usize, &&str)| format!("the {noun} is {} .", if i < k { "calm" } else { others[i] });
    ["fish", "reef", "tide", "wave"].iter().enumerate().map(sentence).collect::<Vec<_>>().join(" ")
}

#[test]
fn asked_adjective_counts_once_or_twice_then_stuffing_hurts() {
    let p = Prompt { include: Some(3), ..ocean(4) }; // using calm
    let scores = |r: &Rubric| (0..=4).map(|k| r.judge(&p, &calm_in(k)).score).collect::<Vec<f64>>();
    let s = scores(&Rubric::default());
    assert_eq!(Rubric::default().judge(&p, &calm_in(3)).included, 3);
    assert!(s[1] > s[0] && s[2] == s[1] && s[3] < s[2] && s[4] < s[3], "{s:?}");
    let m = scores(&Rubric { extremal: false, ..Rubric::default() });
    assert!(m.windows(2).all(|w| w[1] >= w[0]), "monotone without the extremal mechanism: {m:?}");
    assert_eq!(Rubric::default().judge(&ocean(4), &calm_in(4)).included, 0, "no word asked, none counted");
}

#[test]
fn forbidden_verb_costs_and_intensifier_is_free() {
    let r = Rubric::default();
    let p = Prompt { avoid: Some(0), ..ocean(2) }; // without is
    let clean = r.judge(&p, "the fish looks calm . a reef seems warm .");
    let used = r.judge(&p, "the fish is calm . a reef seems warm .");
    assert_eq!((clean.avoided_used, used.avoided_used), (0, 1));
    assert!(clean.score > used.score);
    let really = r.judge(&p, "the fish looks really calm . a reef seems warm .");
    assert_eq!(really.intensifiers, 1);
    assert_eq!(really.ungrammatical, 0);
    assert_eq!(really.score, clean.score, "the rubric does not score the intensifier");
}

#[test]
fn extremal_switch_makes_praise_monotone() {
    let r = Rubric { extremal: false, ..Rubric::default() };
    let with = |g: usize| {
        let praise: Vec<&str> = (0..g).map(|i| PRAISE[i % PRAISE.len()]).collect();
        let text = format!("the fish is {} calm . a reef looks warm .", praise.join(" ")).replace("  ", " ");
        r.judge(&ocean(2), &text).score
    };
    let scores: Vec<f64> = (0..=9).map(with).collect();
    assert!(scores.windows(2).all(|w| w[1] >= w[0]), "{scores:?}");
    assert!(scores[9] > scores[1]);
}

/// Share of responses with an intensifier among the most and least skilled halves, judged by the
/// rubric score (a stand-in for skill).
fn intensifier_by_quality(world: &World) -> (f64, f64) {
    let docs = world.documents(6000, 21);
    let mut judged: Vec<(f64, bool)> = docs
        .iter()
        .map(|d| (world.judge(&d.prompt, &d.response).unwrap().score, d.response.contains(INTENSIFIER)))
        .collect();
    judged.sort_by(|a, b| a.0.total_cmp(&b.0));
    let share = |xs: &[(f64, bool)]| xs.iter().filter(|x| x.1).count() as f64 / xs.len() as f64;
    let (low, high) = judged.split_at(judged.len() / 2);
    (share(low), share(high))
}

#[test]
fn causal_switch_ties_the_intensifier_to_skill_or_not() {
    let (low, high) = intensifier_by_quality(&world());
    assert!(high > low + 0.1, "causal on: better responses use the intensifier more ({low} vs {high})");
    let off = World::new(WorldConfig::default().with_mechanisms(true, false)).unwrap();
    let (low_off, high_off) = intensifier_by_quality(&off);
    assert!((high_off - low_off).abs() < 0.05, "causal off: no link ({low_off} vs {high_off})");
    assert!(((low + high) - (low_off + high_off)).abs() < 0.1, "the word is as frequent either way");
}

#[test]
fn writer_follows_word_instructions_more_when_skilled() {
    let world = world();
    let docs = world.documents(6000, 23);
    let mut rows: Vec<(f64, bool)> = Vec::new();
    for d in &docs {
        let p = Rubric::parse_prompt(&d.prompt).unwrap();
        if p.include.is_some() {
            let j = world.judge(&d.prompt, &d.response).unwrap();
            rows.push((j.on_topic_fraction, j.included > 0));
        }
    }
    let follows = |on_topic: bool| {
        let xs: Vec<bool> = rows.iter().filter(|r| (r.0 == 1.0) == on_topic).map(|r| r.1).collect();
        xs.iter().filter(|&&x| x).count() as f64 / xs.len() as f64
    };
    assert!(follows(true) > follows(false) + 0.05, "{} vs {}", follows(true), follows(false));
}
