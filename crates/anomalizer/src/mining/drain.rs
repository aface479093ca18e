//! Template mining with a fixed-depth parse tree, after Drain (He et al.,
//! ICWS 2017).
//!
//! A line's masked tokens walk the tree by token count, then by their first
//! `depth - 2` tokens; the leaf holds a few candidate templates and the most
//! similar one above the threshold absorbs the line (positions that differ
//! become `<*>`), otherwise the line starts a new template. The tree bounds
//! the search to a handful of templates per line, and memory grows with the
//! number of templates, never with the number of lines.

use crate::fasthash::FastMap;
use crate::mining::mask::WILDCARD;

/// Tree shape and matching threshold. One configuration for every log: a
/// user has no ground truth to tune it with.
#[derive(Debug, Clone, Copy)]
pub struct DrainConfig {
    /// Tree depth as Drain counts it: root, length layer, then `depth - 2`
    /// token layers.
    pub depth: usize,
    /// Share of a template's constant tokens a line must match to join it.
    pub similarity: f64,
    /// Children per tree node before new tokens share the `<*>` branch.
    pub max_children: usize,
}

impl Default for DrainConfig {
    fn default() -> Self {
        DrainConfig {
            depth: 4,
            similarity: 0.65,
            max_children: 100,
        }
    }
}

/// A mined template: its tokens (`<*>` where lines differ) and line count.
#[derive(Debug, Clone)]
pub struct Template {
    pub tokens: Vec<String>,
    pub count: u64,
}

impl Template {
    /// The template as one line, tokens joined by single spaces.
    pub fn text(&self) -> String {
        self.tokens.join(" ")
    }

    /// Whether `text`, a template's text from another run, is this
    /// template: as many tokens, each equal or `<*>` on either side (either
    /// run's miner may have generalised a position further).
    pub fn covers(&self, text: &str) -> bool {
        let mut theirs = text.split(' ');
        self.tokens.iter().all(|ours| {
            theirs
                .next()
                .is_some_and(|t| t == ours || t == WILDCARD || ours == WILDCARD)
        }) && theirs.next().is_none()
    }
}

#[derive(Debug, Default)]
struct Node {
    /// Child index by routing token; children live in `kids`, so a line
    /// finds its branch with one hash lookup.
    index: FastMap<String, usize>,
    kids: Vec<Node>,
    templates: Vec<usize>,
    /// This leaf's index in [`Drain::versions`], once it holds templates.
    leaf: Option<usize>,
}

impl Node {
    /// The child under `key`, made on first use (the key is copied only
    /// then).
    fn child(&mut self, key: &str) -> usize {
        if let Some(&i) = self.index.get(key) {
            return i;
        }
        let i = self.kids.len();
        self.kids.push(Node::default());
        self.index.insert(key.to_string(), i);
        i
    }
}

/// How many masked lines [`Drain::add`] remembers before it starts over.
const REPEATS: usize = 4096;

/// The parse tree and the templates it has mined so far.
#[derive(Debug)]
pub struct Drain {
    config: DrainConfig,
    by_length: FastMap<usize, Node>,
    templates: Vec<Template>,
    /// The leaf (index into `versions`) each template lives in.
    leaf_of: Vec<usize>,
    /// Per leaf, a count bumped whenever one of its templates is made or
    /// changed: a remembered match stands only while it is unchanged.
    versions: Vec<u64>,
    /// Masked lines (keys, as [`push_token`] writes them) that joined a
    /// template without changing it, with that template and its leaf's
    /// version. Most lines repeat one seen shortly before; this skips the
    /// tree walk and the candidate scoring for them.
    repeats: FastMap<String, (usize, u64)>,
    /// At most this many `repeats`; 0 turns them off.
    repeats_cap: usize,
}

/// Appends a masked token to a line's key: the tokens in order, each
/// followed by a space (tokens hold no white space, so the key is
/// unambiguous).
pub fn push_token(key: &mut String, token: &str) {
    key.push_str(token);
    key.push(' ');
}

impl Drain {
    pub fn new(config: DrainConfig) -> Drain {
        Drain::with_repeats(config, REPEATS)
    }

    fn with_repeats(config: DrainConfig, repeats_cap: usize) -> Drain {
        Drain {
            config,
            by_length: FastMap::default(),
            templates: Vec::new(),
            leaf_of: Vec::new(),
            versions: Vec::new(),
            repeats: FastMap::default(),
            repeats_cap,
        }
    }

    pub fn config(&self) -> DrainConfig {
        self.config
    }

    pub fn templates(&self) -> &[Template] {
        &self.templates
    }

    /// A number that changes whenever template `id` may have changed
    /// (its leaf's version), so callers can keep what they worked out
    /// from its tokens until then.
    pub fn version(&self, id: usize) -> u64 {
        self.versions[self.leaf_of[id]]
    }

    /// Files one line under a template and returns its id (an index into
    /// [`Drain::templates`], stable for the miner's life). `key` is the
    /// line's masked tokens as [`push_token`] writes them.
    pub fn add(&mut self, key: &str) -> usize {
        if let Some(&(id, version)) = self.repeats.get(key)
            && self.version(id) == version
        {
            self.templates[id].count += 1;
            return id;
        }
        let tokens: Vec<&str> = key.split_terminator(' ').collect();
        let (id, changed) = self.walk(&tokens);
        // The walk is the same for the same tokens (a token once routed
        // keeps its branch), and the scoring depends only on the leaf's
        // templates: a walk that left its leaf as it found it will end the
        // same way while the leaf stays so.
        if !changed && self.repeats_cap > 0 {
            if self.repeats.len() >= self.repeats_cap {
                self.repeats.clear();
            }
            self.repeats.insert(key.to_string(), (id, self.version(id)));
        }
        id
    }

    /// [`Drain::add`] the long way: down the tree, then the best of the
    /// leaf's templates. Also says whether the leaf changed.
    fn walk(&mut self, tokens: &[&str]) -> (usize, bool) {
        let config = self.config;
        let mut node = self.by_length.entry(tokens.len()).or_default();
        for token in tokens.iter().take(config.depth.saturating_sub(2)) {
            // Tokens with digits are likely values: routing them by text
            // would split one template across many branches.
            let valued = token.bytes().any(|b| b.is_ascii_digit()) || has_wildcard(token);
            let known = if valued {
                None
            } else {
                node.index.get(*token).copied()
            };
            let i = known.unwrap_or_else(|| {
                if !valued && node.index.len() + 1 < config.max_children {
                    node.child(token)
                } else {
                    node.child(WILDCARD)
                }
            });
            node = &mut node.kids[i];
        }
        let leaf = *node.leaf.get_or_insert_with(|| {
            self.versions.push(0);
            self.versions.len() - 1
        });
        match best_match(&self.templates, &node.templates, tokens, config.similarity) {
            Some((id, exact)) => {
                let template = &mut self.templates[id];
                if !exact {
                    for (have, token) in template.tokens.iter_mut().zip(tokens) {
                        if have != token && have != WILDCARD {
                            *have = WILDCARD.to_string();
                        }
                    }
                    self.versions[leaf] += 1;
                }
                template.count += 1;
                (id, !exact)
            }
            None => {
                let id = self.templates.len();
                self.templates.push(Template {
                    tokens: tokens.iter().map(|t| t.to_string()).collect(),
                    count: 1,
                });
                self.leaf_of.push(leaf);
                self.versions[leaf] += 1;
                node.templates.push(id);
                (id, true)
            }
        }
    }
}

/// The candidate most similar to `tokens`, if similar enough, and whether
/// it already matches every token (so merging changes nothing); ties go to
/// the template with more wildcards, as in Drain, since it is the more
/// general one.
fn best_match(
    templates: &[Template],
    candidates: &[usize],
    tokens: &[&str],
    threshold: f64,
) -> Option<(usize, bool)> {
    let mut best: Option<(f64, usize, usize, bool)> = None;
    let mut best_same = 0;
    let len = tokens.len().max(1);
    'candidates: for &id in candidates {
        let template = &templates[id];
        let mut same = 0;
        let mut wildcards = 0;
        let mut exact = true;
        for (i, (have, token)) in template.tokens.iter().zip(tokens).enumerate() {
            let wildcard = have == WILDCARD;
            // A position masked on both sides counts as matching (as
            // Drain3's `<NUM>` matches `<NUM>`); a wildcard the miner made
            // by merging does not.
            if same_text(have, token) {
                same += 1;
            } else if kinds_differ(have, token) {
                continue 'candidates;
            } else {
                exact &= wildcard;
                // Give up on a candidate that can no longer reach the
                // threshold or the best so far: the choice is the same,
                // found sooner.
                let reachable = same + (tokens.len() - i - 1);
                if (reachable as f64 / len as f64) < threshold
                    || (best.is_some() && reachable < best_same)
                {
                    continue 'candidates;
                }
            }
            wildcards += usize::from(wildcard);
        }
        let similarity = same as f64 / len as f64;
        if best.is_none_or(|(s, w, _, _)| similarity > s || (similarity == s && wildcards > w)) {
            best = Some((similarity, wildcards, id, exact));
            best_same = same;
        }
    }
    best.filter(|&(s, _, _, _)| s >= threshold)
        .map(|(_, _, id, exact)| (id, exact))
}

/// `a == b`, inline: template tokens are short, and for them a call to
/// the C library's `memcmp` costs more than the comparison.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Whether a token holds a [`WILDCARD`] (`<*>`, `blk_<*>`), without a
/// substring search: `<` is rare in log tokens.
pub fn has_wildcard(token: &str) -> bool {
    token
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'<' && w[1] == b'*' && w[2] == b'>')
}

/// `tty=NODEVssh` against `tty=<*>` (from `tty=:0`): the same key set to
/// a plain word in the template and to a masked value in the line is two
/// kinds of event, not one event with a parameter. Two words
/// (`user=root`, `user=git`) may still merge.
fn kinds_differ(have: &str, token: &str) -> bool {
    word_key(have).is_some_and(|k| masked_key(token) == Some(k))
        || word_key(token).is_some_and(|k| masked_key(have) == Some(k))
}

/// The key of `key=word` (letters only after `=`).
fn word_key(token: &str) -> Option<&str> {
    token
        .split_once('=')
        .filter(|(k, v)| {
            !k.is_empty() && !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphabetic())
        })
        .map(|(k, _)| k)
}

/// The key of `key=<*>...` (a value the classifier masked).
fn masked_key(token: &str) -> Option<&str> {
    token
        .split_once('=')
        .filter(|(_, v)| has_wildcard(v))
        .map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mining::mask::mask;

    /// The key of `tokens`, as the miner writes it.
    fn key<'a>(tokens: impl IntoIterator<Item = &'a str>) -> String {
        let mut key = String::new();
        for token in tokens {
            push_token(&mut key, token);
        }
        key
    }

    fn add(drain: &mut Drain, line: &str) -> usize {
        drain.add(&key(line
            .split_whitespace()
            .map(mask)
            .collect::<Vec<_>>()
            .iter()
            .map(|t| t.as_ref())))
    }

    #[test]
    fn lines_that_differ_in_values_share_a_template() {
        let mut drain = Drain::new(DrainConfig::default());
        let a = add(
            &mut drain,
            "Failed password for alice from 10.0.0.1 port 22",
        );
        let b = add(
            &mut drain,
            "Failed password for bob from 10.0.0.2 port 2222",
        );
        let c = add(
            &mut drain,
            "Accepted publickey for alice from 10.0.0.1 port 22",
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            drain.templates()[a].text(),
            "Failed password for <*> from <*> port <*>"
        );
        assert_eq!(drain.templates()[a].count, 2);
    }

    #[test]
    fn a_remembered_match_is_dropped_when_its_leaf_changes() {
        let mut drain = Drain::new(DrainConfig::default());
        let mut add = |line: &str| drain.add(&key(line.split(' ')));
        let first = add("a b c d e");
        let second = add("a b c g f");
        assert_ne!(first, second);
        assert_eq!(add("a b c h f"), second, "now a b c <*> f");
        // Both score 4 of 5; the second has more wildcards.
        assert_eq!(add("a b c d f"), second);
        assert_eq!(add("a b c d z"), first, "now a b c d <*>");
        // Still 4 of 5 each, and now a wildcard each: the first wins the
        // tie, whatever was remembered for this line before.
        assert_eq!(add("a b c d f"), first);
    }

    #[test]
    fn remembered_repeats_give_the_walk_s_answers() {
        // Lines from a small vocabulary, so that lines repeat, templates
        // merge and leaves fill: every answer must be the one a miner
        // that remembers nothing gives, with a cap small enough to be hit.
        const WORDS: [&str; 8] = ["open", "close", "user", "root", "42", "x=1", "a", "b"];
        let mut state = 7u64;
        let mut next = |n: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            (state >> 33) as usize % n
        };
        fn random_line(next: &mut impl FnMut(usize) -> usize) -> Vec<&'static str> {
            (0..2 + next(4)).map(|_| WORDS[next(WORDS.len())]).collect()
        }
        // Few children per node, so that full nodes route by `<*>` too.
        let config = DrainConfig {
            max_children: 4,
            ..DrainConfig::default()
        };
        let (mut fresh, mut remembering) = (
            Drain::with_repeats(config, 0),
            Drain::with_repeats(config, 16),
        );
        let common: Vec<_> = (0..40).map(|_| random_line(&mut next)).collect();
        let mut hits = 0;
        for _ in 0..20_000 {
            // Mostly lines seen before, as in a log.
            let line = match next(10) {
                0 => random_line(&mut next),
                _ => common[next(common.len())].clone(),
            };
            let key = key(line.iter().copied());
            hits += usize::from(
                remembering
                    .repeats
                    .get(&key)
                    .is_some_and(|&(id, version)| remembering.version(id) == version),
            );
            assert_eq!(fresh.add(&key), remembering.add(&key), "{line:?}");
        }
        let counts = |d: &Drain| {
            d.templates()
                .iter()
                .map(|t| (t.text(), t.count))
                .collect::<Vec<_>>()
        };
        assert_eq!(counts(&fresh), counts(&remembering));
        assert!(hits > 1000, "repeats were used {hits} times");
    }

    #[test]
    fn a_word_and_a_masked_value_under_one_key_stay_apart() {
        let mut drain = Drain::new(DrainConfig::default());
        let line = |tty: &str, user: &str| {
            format!(
                "authentication failure; logname= uid=0 euid=0 tty={tty} ruser= rhost=10.0.0.1 user={user}"
            )
        };
        let a = add(&mut drain, &line("NODEVssh", "root"));
        let b = add(&mut drain, &line("NODEVssh", "git"));
        let c = add(&mut drain, &line(":0", "root"));
        assert_eq!(a, b, "two words under one key are a parameter");
        assert_ne!(a, c, "tty=NODEVssh and tty=:0 are two kinds of login");
    }
}
