//! The noisy writer: prompts, and responses of widely varying quality.

use goodhart_core::SplitMix64;
use serde::{Deserialize, Serialize};

use crate::vocab::{
    ADJECTIVES, DETERMINERS, INTENSIFIER, MAX_LINES, MIN_LINES, NUMBERS, PRAISE, TOPICS, VERBS,
};

/// What a prompt asks for: a topic, a number of lines (sentences), and optionally an adjective
/// to use and a verb to avoid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Prompt {
    pub topic: usize,
    pub lines: usize,
    /// Index into [`ADJECTIVES`] of the word the response should use.
    pub include: Option<usize>,
    /// Index into [`VERBS`] of the word the response should not use.
    pub avoid: Option<usize>,
}

const LINE_CHOICES: usize = MAX_LINES - MIN_LINES + 1;
const INCLUDE_CHOICES: usize = ADJECTIVES.len() + 1;
const AVOID_CHOICES: usize = VERBS.len() + 1;

impl Prompt {
    /// How many distinct prompts the world has: topics x line counts x (no word or one of the
    /// adjectives to use) x (no word or one of the verbs to avoid).
    pub const COUNT: usize = TOPICS.len() * LINE_CHOICES * INCLUDE_CHOICES * AVOID_CHOICES;

    /// The prompt numbered `id` (`0..Prompt::COUNT`), the inverse of [`Prompt::id`].
    ///
    /// # Panics
    /// If `id >= Prompt::COUNT`.
    pub fn from_id(id: usize) -> Self {
        assert!(id < Self::COUNT, "prompt id {id} is out of range 0..{}", Self::COUNT);
        let option = |k: usize| k.checked_sub(1);
        Prompt {
            topic: id % TOPICS.len(),
            lines: MIN_LINES + (id / TOPICS.len()) % LINE_CHOICES,
            include: option((id / (TOPICS.len() * LINE_CHOICES)) % INCLUDE_CHOICES),
            avoid: option(id / (TOPICS.len() * LINE_CHOICES * INCLUDE_CHOICES)),
        }
    }

    /// This prompt's number in `0..Prompt::COUNT`.
    pub fn id(&self) -> usize {
        let option = |k: Option<usize>| k.map_or(0, |k| k + 1);
        self.topic
            + TOPICS.len()
                * ((self.lines - MIN_LINES)
                    + LINE_CHOICES * (option(self.include) + INCLUDE_CHOICES * option(self.avoid)))
    }

    /// `write about <topic> in <number> lines [using <adjective>] [without <verb>] :`
    pub fn text(&self) -> String {
        let mut text =
            format!("write about {} in {} lines", TOPICS[self.topic].name, NUMBERS[self.lines - 1]);
        if let Some(a) = self.include {
            text.push_str(" using ");
            text.push_str(ADJECTIVES[a]);
        }
        if let Some(v) = self.avoid {
            text.push_str(" without ");
            text.push_str(VERBS[v]);
        }
        text.push_str(" :");
        text
    }
}

/// How the writer's responses vary. Each response draws a skill `s ~ U(0, 1)`; better writers stay
/// on topic, count right, follow the prompt's word instructions and make fewer mistakes.
/// Enthusiasm (praise words) is drawn independently of skill, so the rubric's inverted-U praise
/// term is a separate axis a proxy can over-fit.
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
    /// P(the adjective the prompt asks for is used, in one sentence) = `include_base +
    /// include_gain * s`; other sentences pick their adjective at random.
    pub include_base: f64,
    pub include_gain: f64,
    /// P(the asked adjective is used in every sentence): keyword stuffing, which the rubric
    /// penalises past two uses when the extremal mechanism is on.
    pub include_stuffing: f64,
    /// P(a sentence steers clear of the verb the prompt forbids) = `avoid_base + avoid_gain * s`;
    /// otherwise its verb is drawn from all of them.
    pub avoid_base: f64,
    pub avoid_gain: f64,
    /// P(one sentence carries the intensifier `really`): `intensifier_rate * s` when `causal`,
    /// `intensifier_rate / 2` (the same on average, independent of skill) when not.
    pub intensifier_rate: f64,
    /// The causal mechanism: skilled writers use the intensifier more, though the rubric ignores
    /// it, so a proxy can learn it as a shortcut to skill.
    pub causal: bool,
    /// Extra intensifiers per response ~ Poisson(U(0, intensifier_extra)), independent of skill
    /// (the broad writer's, so the gold sees that piling them up earns nothing).
    pub intensifier_extra: f64,
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
            include_base: 0.2,
            include_gain: 0.7,
            include_stuffing: 0.0,
            avoid_base: 0.2,
            avoid_gain: 0.75,
            intensifier_rate: 0.8,
            causal: true,
            intensifier_extra: 0.0,
        }
    }
}

impl WriterConfig {
    /// This writer with a far wider range of enthusiasm, keyword stuffing and intensifiers: used
    /// for the comparisons the gold RM learns from, so that the 'human' judgement of the extremes
    /// is known to the gold even though such responses are rare under the initial policy.
    pub fn broad(&self) -> Self {
        WriterConfig {
            praise_min: 0.0,
            praise_max: 7.0,
            include_stuffing: 0.25,
            intensifier_extra: 3.0,
            ..self.clone()
        }
    }

    /// Writes one response (space-separated words, sentences ending in ` .`).
    pub fn respond(&self, prompt: &Prompt, rng: &mut SplitMix64) -> String {
        let skill = rng.next_f64();
        let lines = self.sentence_count(prompt.lines, skill, rng);
        let lambda = self.praise_min + (self.praise_max - self.praise_min) * rng.next_f64();
        let praise = poisson(lambda, rng);
        let intensify_p =
            if self.causal { self.intensifier_rate * skill } else { self.intensifier_rate / 2.0 };
        let mut intensifiers = usize::from(rng.next_f64() < intensify_p);
        if self.intensifier_extra > 0.0 {
            intensifiers += poisson(self.intensifier_extra * rng.next_f64(), rng);
        }

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
            let verb = match prompt.avoid {
                Some(v) if rng.next_f64() < self.avoid_base + self.avoid_gain * skill => {
                    VERBS[(v + 1 + rng.next_below(VERBS.len() as u64 - 1) as usize) % VERBS.len()]
                }
                _ => pick(&VERBS, rng),
            };
            sentences.push(vec![pick(&DETERMINERS, rng), noun, verb, pick(&ADJECTIVES, rng)]);
        }
        if let (Some(a), false) = (prompt.include, sentences.is_empty()) {
            if rng.next_f64() < self.include_stuffing {
                sentences.iter_mut().for_each(|s| s[3] = ADJECTIVES[a]);
            } else if rng.next_f64() < self.include_base + self.include_gain * skill {
                let s = rng.next_below(sentences.len() as u64) as usize;
                sentences[s][3] = ADJECTIVES[a];
            }
        }
        // Praise and intensifiers go before the adjective of a random sentence (grammatical,
        // however many).
        let modifiers =
            std::iter::repeat_n(None, praise).chain(std::iter::repeat_n(Some(INTENSIFIER), intensifiers));
        for word in modifiers {
            if sentences.is_empty() {
                break;
            }
            let s = rng.next_below(sentences.len() as u64) as usize;
            let adj_at = sentences[s].len() - 1;
            let word = word.unwrap_or_else(|| pick(&PRAISE, rng));
            sentences[s].insert(adj_at, word);
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
        let plain = Prompt { topic: 0, lines: 3, include: None, avoid: None };
        assert_eq!(plain.text(), "write about ocean in three lines :");
        let both = Prompt { include: Some(3), avoid: Some(1), ..plain };
        assert_eq!(both.text(), "write about ocean in three lines using calm without seems :");
    }

    #[test]
    fn prompt_ids_enumerate_every_prompt_once() {
        assert!(Prompt::COUNT >= 1000, "{}", Prompt::COUNT);
        let mut seen = std::collections::HashSet::new();
        for id in 0..Prompt::COUNT {
            let p = Prompt::from_id(id);
            assert_eq!(p.id(), id);
            assert!(seen.insert(p.text()), "{} twice", p.text());
        }
    }
}
