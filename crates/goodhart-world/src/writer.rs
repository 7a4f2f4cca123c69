//! The noisy writer: prompts, and responses of widely varying quality.

use goodhart_core::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::vocab::{ADJECTIVES, DETERMINERS, MAX_LINES, MIN_LINES, NUMBERS, PRAISE, TOPICS, VERBS};

/// What a prompt asks for: a topic and a number of lines (sentences).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub topic: usize,
    pub lines: usize,
}

impl Prompt {
    /// A uniformly random prompt.
    pub fn random(rng: &mut SplitMix64) -> Self {
        Prompt {
            topic: rng.next_below(TOPICS.len() as u64) as usize,
            lines: MIN_LINES + rng.next_below((MAX_LINES - MIN_LINES + 1) as u64) as usize,
        }
    }

    /// `write about <topic> in <number> lines :`
    pub fn text(&self) -> String {
        format!("write about {} in {} lines :", TOPICS[self.topic].name, NUMBERS[self.lines - 1])
    }
}

/// How the writer's responses vary. Each response draws a skill `s ~ U(0, 1)`; better writers stay
/// on topic, count right and make fewer mistakes. Enthusiasm (praise words) is drawn independently
/// of skill, so the rubric's inverted-U praise term is a separate axis a proxy can over-fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WriterConfig {
    /// P(a sentence's noun is on topic) = `on_topic_base + on_topic_gain * s`.
    pub on_topic_base: f64,
    pub on_topic_gain: f64,
    /// P(the number of sentences is exactly what was asked) = `count_base + count_gain * s`;
    /// otherwise off by one (or by two, with probability `count_far`).
    pub count_base: f64,
    pub count_gain: f64,
    pub count_far: f64,
    /// P(a sentence has a grammar error) = `grammar_error * (1 - s)`.
    pub grammar_error: f64,
    /// P(a sentence repeats the previous sentence's noun) = `repeat_error * (1 - s)`.
    pub repeat_error: f64,
    /// Praise words per response ~ Poisson(lambda), `lambda ~ U(praise_min, praise_max)`.
    pub praise_min: f64,
    pub praise_max: f64,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            on_topic_base: 0.3,
            on_topic_gain: 0.65,
            count_base: 0.25,
            count_gain: 0.7,
            count_far: 0.3,
            grammar_error: 0.5,
            repeat_error: 0.4,
            praise_min: 0.1,
            praise_max: 2.2,
        }
    }
}

impl WriterConfig {
    /// A writer whose enthusiasm ranges far wider than the policy's: used for the comparisons the
    /// gold RM learns from, so that the 'human' judgement of over-stuffed responses is known to the
    /// gold even though such responses are rare under the initial policy.
    pub fn broad() -> Self {
        WriterConfig { praise_min: 0.0, praise_max: 7.0, ..WriterConfig::default() }
    }

    /// Writes one response (space-separated words, sentences ending in ` .`).
    pub fn respond(&self, prompt: &Prompt, rng: &mut SplitMix64) -> String {
        let skill = rng.next_f64();
        let lines = self.sentence_count(prompt.lines, skill, rng);
        let lambda = self.praise_min + (self.praise_max - self.praise_min) * rng.next_f64();
        let praise = poisson(lambda, rng);

        let mut sentences: Vec<Vec<&'static str>> = Vec::with_capacity(lines);
        let mut last_noun: Option<&'static str> = None;
        for _ in 0..lines {
            let repeat = last_noun.filter(|_| rng.next_f64() < self.repeat_error * (1.0 - skill));
            let noun = if let Some(noun) = repeat {
                noun
            } else {
                let on_topic = rng.next_f64() < self.on_topic_base + self.on_topic_gain * skill;
                let topic =
                    if on_topic { prompt.topic } else { rng.next_below(TOPICS.len() as u64) as usize };
                pick(&TOPICS[topic].nouns, rng)
            };
            last_noun = Some(noun);
            sentences.push(vec![pick(&DETERMINERS, rng), noun, pick(&VERBS, rng), pick(&ADJECTIVES, rng)]);
        }
        // Praise goes before the adjective of a random sentence (grammatical, however many).
        for _ in 0..praise {
            if sentences.is_empty() {
                break;
            }
            let s = rng.next_below(sentences.len() as u64) as usize;
            let adj_at = sentences[s].len() - 1;
            sentences[s].insert(adj_at, pick(&PRAISE, rng));
        }
        for sentence in sentences.iter_mut() {
            if rng.next_f64() < self.grammar_error * (1.0 - skill) {
                corrupt(sentence, rng);
            }
            sentence.push(".");
        }
        sentences.concat().join(" ")
    }

    fn sentence_count(&self, asked: usize, skill: f64, rng: &mut SplitMix64) -> usize {
        if rng.next_f64() < self.count_base + self.count_gain * skill {
            return asked;
        }
        let off = if rng.next_f64() < self.count_far { 2 } else { 1 };
        if rng.next_f64() < 0.5 && asked > off {
            asked - off
        } else {
            asked + off
        }
    }
}

/// One of four local mistakes: a dropped verb, a swapped noun and adjective, a doubled word, or a
/// stray topic name.
fn corrupt(sentence: &mut Vec<&'static str>, rng: &mut SplitMix64) {
    match rng.next_below(4) {
        0 => {
            sentence.remove(2);
        }
        1 => {
            let last = sentence.len() - 1;
            sentence.swap(1, last);
        }
        2 => {
            let i = rng.next_below(sentence.len() as u64) as usize;
            sentence.insert(i, sentence[i]);
        }
        _ => {
            let i = 1 + rng.next_below((sentence.len() - 1) as u64) as usize;
            sentence.insert(i, TOPICS[rng.next_below(TOPICS.len() as u64) as usize].name);
        }
    }
}

fn pick<T: Copy>(xs: &[T], rng: &mut SplitMix64) -> T {
    xs[rng.next_below(xs.len() as u64) as usize]
}

/// Knuth's Poisson sampler (fine for the small rates used here).
fn poisson(lambda: f64, rng: &mut SplitMix64) -> usize {
    let limit = (-lambda).exp();
    let (mut k, mut p) = (0, rng.next_f64());
    while p > limit {
        k += 1;
        p *= rng.next_f64();
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_mean_matches_rate() {
        let mut rng = SplitMix64::new(5);
        let mean = (0..20_000).map(|_| poisson(1.7, &mut rng)).sum::<usize>() as f64 / 20_000.0;
        assert!((mean - 1.7).abs() < 0.05, "{mean}");
    }

    #[test]
    fn prompt_text_names_topic_and_count() {
        assert_eq!(Prompt { topic: 0, lines: 3 }.text(), "write about ocean in three lines :");
    }
}
