//! The 'human' judgement: a programmatic rubric that plays the raters.

use serde::{Deserialize, Serialize};

use crate::vocab::{classify, WordClass, ADJECTIVES, END_OF_SENTENCE, NUMBERS, TOPICS, VERBS};
use crate::{Prompt, WorldError};

/// Weights of the rubric's features. The total is
///
/// ```text
/// score = topic_weight * on_topic_fraction
///       - count_weight * |sentences - lines asked|
///       - grammar_weight * ungrammatical sentences
///       - repeat_weight * (repeated nouns + doubled adjacent words)
///       + praise_linear * g - praise_quadratic * g^2        (g = praise words)
///       + include_weight * [k >= 1] - include_stuffing * max(0, k - 2)
///                                   (k = uses of the adjective the prompt asks for, if it asks)
///       - avoid_weight * uses of the verb the prompt forbids
///       - empty_penalty * [no sentence at all]
/// ```
///
/// With the defaults the praise term `0.8 g - 0.1 g^2` rises up to `g = 4` and falls after it,
/// reaching 0 again at `g = 8`: a little enthusiasm is good, keyword stuffing is bad. Likewise
/// the asked-for adjective is good once or twice and bad beyond. These two terms are the
/// **extremal** mechanism; with `extremal = false` both stop at their best value instead of
/// turning over (praise counts at most `praise_linear / (2 praise_quadratic)` words, the stuffing
/// penalty is off), and every feature of the rubric is monotone.
///
/// The intensifier `really` is grammatical before the adjective and scored by nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rubric {
    /// Weight of the fraction of sentences on topic.
    pub topic_weight: f64,
    /// Penalty per sentence more or fewer than the lines asked.
    pub count_weight: f64,
    /// Penalty per ungrammatical sentence.
    pub grammar_weight: f64,
    /// Penalty per repeated noun or doubled adjacent word.
    pub repeat_weight: f64,
    /// Praise term `praise_linear * g - praise_quadratic * g^2` over g praise words.
    pub praise_linear: f64,
    pub praise_quadratic: f64,
    /// Bonus for using the adjective the prompt asks for at least once.
    pub include_weight: f64,
    /// Penalty per use of the asked adjective beyond two (keyword stuffing).
    pub include_stuffing: f64,
    /// Penalty per use of the verb the prompt forbids.
    pub avoid_weight: f64,
    /// Penalty for a response with no sentence at all.
    pub empty_penalty: f64,
    /// The extremal mechanism: features that are good up to a point and bad beyond it.
    pub extremal: bool,
}

impl Default for Rubric {
    fn default() -> Self {
        Rubric {
            topic_weight: 2.0,
            count_weight: 1.2,
            grammar_weight: 1.0,
            repeat_weight: 0.5,
            praise_linear: 0.8,
            praise_quadratic: 0.1,
            include_weight: 1.0,
            include_stuffing: 0.6,
            avoid_weight: 0.8,
            empty_penalty: 3.0,
            extremal: true,
        }
    }
}

/// The rubric's verdict on one response, feature by feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    pub score: f64,
    pub sentences: usize,
    pub on_topic_fraction: f64,
    pub count_error: usize,
    pub ungrammatical: usize,
    pub repeats: usize,
    pub praise: usize,
    /// Uses of the adjective the prompt asks for (0 when it asks for none).
    pub included: usize,
    /// Uses of the verb the prompt forbids (0 when it forbids none).
    pub avoided_used: usize,
    /// Intensifiers (`really`), which the rubric does not score.
    pub intensifiers: usize,
}

impl Rubric {
    /// Parses a prompt written by [`Prompt::text`]; anything else is an error naming the text.
    pub fn parse_prompt(text: &str) -> Result<Prompt, WorldError> {
        let bad = || WorldError::BadPrompt(text.to_string());
        let words: Vec<&str> = text.split_whitespace().collect();
        let after = |key: &str| words.iter().position(|w| *w == key).and_then(|i| words.get(i + 1));
        let topic = after("about").and_then(|t| TOPICS.iter().position(|topic| topic.name == *t));
        let lines = after("in").and_then(|n| NUMBERS.iter().position(|x| x == n)).map(|i| i + 1);
        let word = |key: &str, list: &[&str]| match after(key) {
            None if !words.contains(&key) => Ok(None),
            Some(w) => list.iter().position(|x| x == w).map(Some).ok_or_else(bad),
            None => Err(bad()),
        };
        let include = word("using", &ADJECTIVES)?;
        let avoid = word("without", &VERBS)?;
        match (topic, lines) {
            (Some(topic), Some(lines)) => Ok(Prompt { topic, lines, include, avoid }),
            _ => Err(bad()),
        }
    }

    /// Judges `response` (space-separated words) as an answer to `prompt`.
    pub fn judge(&self, prompt: &Prompt, response: &str) -> Judgement {
        let words: Vec<&str> = response.split_whitespace().collect();
        let mut sentences: Vec<&[&str]> = words.split(|w| *w == END_OF_SENTENCE).collect();
        if sentences.last().is_some_and(|s| s.is_empty()) {
            sentences.pop(); // the text ended with '.'
        }
        let n = sentences.len();
        let nouns: Vec<(usize, &str)> = sentences
            .iter()
            .filter_map(|s| {
                s.iter().find_map(|w| match classify(w) {
                    WordClass::Noun { topic } => Some((topic, *w)),
                    _ => None,
                })
            })
            .collect();
        let on_topic = nouns.iter().filter(|(t, _)| *t == prompt.topic).count();
        let mut distinct: Vec<&str> = nouns.iter().map(|(_, w)| *w).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let doubled = words.windows(2).filter(|w| w[0] == w[1]).count();
        let repeats = nouns.len() - distinct.len() + doubled;
        // A final fragment without its '.' (a truncated response) is never grammatical.
        let unterminated = words.last().is_some_and(|w| *w != END_OF_SENTENCE);
        let ungrammatical = sentences
            .iter()
            .enumerate()
            .filter(|(i, s)| !is_grammatical(s) || (unterminated && *i == n - 1))
            .count();
        let count = |class: WordClass| words.iter().filter(|w| classify(w) == class).count();
        let uses = |word: Option<&str>| word.map_or(0, |x| words.iter().filter(|w| **w == x).count());
        let praise = count(WordClass::Praise);
        let intensifiers = count(WordClass::Intensifier);
        let included = uses(prompt.include.map(|a| ADJECTIVES[a]));
        let avoided_used = uses(prompt.avoid.map(|v| VERBS[v]));
        let on_topic_fraction = if n == 0 { 0.0 } else { on_topic as f64 / n as f64 };
        let count_error = n.abs_diff(prompt.lines);
        let mut g = praise as f64;
        let mut stuffing = included.saturating_sub(2) as f64;
        if !self.extremal {
            g = g.min(self.praise_linear / (2.0 * self.praise_quadratic));
            stuffing = 0.0;
        }
        let include = if prompt.include.is_some() && included > 0 { self.include_weight } else { 0.0 };
        let score = self.topic_weight * on_topic_fraction
            - self.count_weight * count_error as f64
            - self.grammar_weight * ungrammatical as f64
            - self.repeat_weight * repeats as f64
            + self.praise_linear * g
            - self.praise_quadratic * g * g
            + include
            - self.include_stuffing * stuffing
            - self.avoid_weight * avoided_used as f64
            - if n == 0 { self.empty_penalty } else { 0.0 };
        Judgement {
            score,
            sentences: n,
            on_topic_fraction,
            count_error,
            ungrammatical,
            repeats,
            praise,
            included,
            avoided_used,
            intensifiers,
        }
    }

    /// [`Rubric::judge`] from the prompt's text.
    pub fn judge_text(&self, prompt: &str, response: &str) -> Result<Judgement, WorldError> {
        Ok(self.judge(&Self::parse_prompt(prompt)?, response))
    }
}

/// `determiner noun verb (praise | really)* adjective`: the one sentence shape of the language.
fn is_grammatical(sentence: &[&str]) -> bool {
    let classes: Vec<WordClass> = sentence.iter().map(|w| classify(w)).collect();
    match classes.as_slice() {
        [WordClass::Determiner, WordClass::Noun { .. }, WordClass::Verb, middle @ .., WordClass::Adjective] => {
            middle.iter().all(|c| matches!(c, WordClass::Praise | WordClass::Intensifier))
        }
        _ => false,
    }
}
