use super::*;
use crate::vocab::{all_words, PRAISE};

fn ocean(lines: usize) -> Prompt {
    Prompt { topic: 0, lines }
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
    let world = World::new(WorldConfig::default());
    for p in world.prompts(50, 1) {
        assert_eq!(Rubric::parse_prompt(&p.text()).unwrap(), p);
    }
    let err = Rubric::parse_prompt("tell me a joke").unwrap_err();
    assert!(err.to_string().contains("tell me a joke"));
}

#[test]
fn generator_is_deterministic_per_seed() {
    let world = World::new(WorldConfig::default());
    assert_eq!(world.documents(200, 7), world.documents(200, 7));
    assert_ne!(world.documents(200, 7), world.documents(200, 8));
    assert_eq!(world.prompts(10, 3), world.prompts(10, 3));
}

#[test]
fn writer_produces_a_wide_spread_of_quality() {
    let world = World::new(WorldConfig::default());
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
    let broad = world.documents_by(&WriterConfig::broad(), 4000, 11);
    let broad_stuffed =
        broad.iter().filter(|d| d.response.split(' ').filter(|w| PRAISE.contains(w)).count() >= 6).count();
    assert!(broad_stuffed as f64 / 4000.0 > 0.1);
}

#[test]
fn tokenizer_round_trips_and_reloads() {
    let world = World::new(WorldConfig::default());
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
fn atomic_write_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/x.json");
    write_atomic(&path, b"1").unwrap();
    write_atomic(&path, b"2").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"2");
    assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
}
