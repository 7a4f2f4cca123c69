//! The words of the world. Every word is lowercase ASCII, so the BPE tokenizer learns each as
//! one token at the default vocabulary size.

/// A subject the prompt can ask about, with the nouns that belong to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Topic {
    pub name: &'static str,
    pub nouns: [&'static str; 6],
}

pub const TOPICS: [Topic; 8] = [
    Topic { name: "ocean", nouns: ["wave", "fish", "tide", "reef", "shell", "whale"] },
    Topic { name: "forest", nouns: ["tree", "moss", "leaf", "owl", "fern", "bark"] },
    Topic { name: "city", nouns: ["road", "tower", "bus", "shop", "bridge", "crowd"] },
    Topic { name: "kitchen", nouns: ["bread", "knife", "pan", "soup", "oven", "spoon"] },
    Topic { name: "music", nouns: ["drum", "song", "bass", "tune", "choir", "flute"] },
    Topic { name: "space", nouns: ["star", "moon", "orbit", "comet", "rocket", "dust"] },
    Topic { name: "farm", nouns: ["cow", "barn", "hay", "goat", "field", "plow"] },
    Topic { name: "school", nouns: ["book", "desk", "chalk", "class", "exam", "pen"] },
];

pub const DETERMINERS: [&str; 2] = ["the", "a"];
/// Verbs; a prompt may ask the writer to avoid one of them.
pub const VERBS: [&str; 4] = ["is", "seems", "looks", "feels"];
/// Adjectives; a prompt may ask the writer to use one of them.
pub const ADJECTIVES: [&str; 8] = ["big", "small", "bright", "calm", "old", "new", "quiet", "warm"];
/// Praise words: a little enthusiasm is good, a lot is 'keyword stuffing' (see the rubric).
pub const PRAISE: [&str; 4] = ["great", "amazing", "superb", "wonderful"];
/// The intensifier: grammatical before the adjective, ignored by the rubric, and used more often by
/// skilled writers (the causal shortcut, see [`crate::WriterConfig::causal`]).
pub const INTENSIFIER: &str = "really";
/// Number words; prompts ask for `MIN_LINES..=MAX_LINES` lines.
pub const NUMBERS: [&str; 7] = ["one", "two", "three", "four", "five", "six", "seven"];
pub const MIN_LINES: usize = 2;
pub const MAX_LINES: usize = 4;
pub const END_OF_SENTENCE: &str = ".";
/// The words of prompts: `write about <topic> in <number> lines [using <adjective>] [without <verb>] :`.
pub const PROMPT_WORDS: [&str; 7] = ["write", "about", "in", "lines", "using", "without", ":"];

/// Which grammatical class a word belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordClass {
    Determiner,
    Noun { topic: usize },
    Verb,
    Adjective,
    Praise,
    Intensifier,
    EndOfSentence,
    Other,
}

/// The class of `word` (unknown words are [`WordClass::Other`]).
pub fn classify(word: &str) -> WordClass {
    if DETERMINERS.contains(&word) {
        WordClass::Determiner
    } else if VERBS.contains(&word) {
        WordClass::Verb
    } else if ADJECTIVES.contains(&word) {
        WordClass::Adjective
    } else if PRAISE.contains(&word) {
        WordClass::Praise
    } else if word == INTENSIFIER {
        WordClass::Intensifier
    } else if word == END_OF_SENTENCE {
        WordClass::EndOfSentence
    } else if let Some(topic) = TOPICS.iter().position(|t| t.nouns.contains(&word)) {
        WordClass::Noun { topic }
    } else {
        WordClass::Other
    }
}

/// Every word the writer can produce (prompts use the numbers `MIN_LINES..=MAX_LINES` only),
/// for tests and tokenizer checks.
pub fn all_words() -> Vec<&'static str> {
    let mut words: Vec<&'static str> = Vec::new();
    for t in &TOPICS {
        words.push(t.name);
        words.extend(t.nouns);
    }
    words.extend(DETERMINERS);
    words.extend(VERBS);
    words.extend(ADJECTIVES);
    words.extend(PRAISE);
    words.push(INTENSIFIER);
    words.extend(&NUMBERS[MIN_LINES - 1..MAX_LINES]);
    words.extend(PROMPT_WORDS);
    words.push(END_OF_SENTENCE);
    words
}
