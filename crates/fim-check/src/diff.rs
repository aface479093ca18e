//! Comparing a scan with the baseline: a merge of two path-sorted lists,
//! each path judged by the rule the policy gives it.

use std::cmp::Ordering;

use crate::attrs::{Attr, AttrSet};
use crate::baseline::Baseline;
use crate::entry::Entry;
use crate::policy::{Rule, Scope};
use crate::scan::{Problem, ProblemKind, Scan};

/// One difference between the baseline and the live tree.
pub enum Event<'a> {
    Added(&'a Entry, &'a Rule),
    Removed(&'a Entry, &'a Rule),
    Changed {
        old: &'a Entry,
        new: &'a Entry,
        attrs: Vec<Attr>,
        rule: &'a Rule,
    },
}

impl Event<'_> {
    /// The path the difference is about.
    pub fn path(&self) -> &[u8] {
        match self {
            Event::Added(entry, _) | Event::Removed(entry, _) => &entry.path,
            Event::Changed { new, .. } => &new.path,
        }
    }
}

/// AIDE's exit bits: 1 added, 2 removed, 4 changed.
pub fn aide_bits(events: &[Event<'_>]) -> u8 {
    events.iter().fold(0, |bits, e| {
        bits | match e {
            Event::Added(..) => 1,
            Event::Removed(..) => 2,
            Event::Changed { .. } => 4,
        }
    })
}

/// The differences, in path order, between `old` (baseline entries sorted
/// by path: all of them for verify, the part a rescan covers for watch)
/// and the scan. Paths the scan could not read are not reported as
/// removed (their `fim.error` says why), and a file whose content could
/// not be hashed is not reported as a content change.
pub fn compare<'a>(
    scope: &'a Scope,
    old: impl IntoIterator<Item = &'a Entry>,
    scan: &'a Scan,
) -> Vec<Event<'a>> {
    let mut old = old.into_iter().peekable();
    let mut new = scan.entries.iter().peekable();
    let mut events = Vec::new();
    loop {
        let order = match (old.peek(), new.peek()) {
            (Some(o), Some(n)) => o.path.cmp(&n.path),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => return events,
        };
        match order {
            Ordering::Less => {
                let o = old.next().expect("peeked");
                if let Some(rule) = scope.rule_for(&o.path) {
                    if !unknown(&scan.problems, &o.path) {
                        events.push(Event::Removed(o, rule));
                    }
                }
            }
            Ordering::Greater => {
                let n = new.next().expect("peeked");
                if let Some(rule) = scope.rule_for(&n.path) {
                    events.push(Event::Added(n, rule));
                }
            }
            Ordering::Equal => {
                let (o, n) = (old.next().expect("peeked"), new.next().expect("peeked"));
                if let Some(rule) = scope.rule_for(&n.path) {
                    let content_known = problem_at(&scan.problems, &n.path).is_none();
                    let attrs = changes(rule, o, n, content_known);
                    if !attrs.is_empty() {
                        events.push(Event::Changed {
                            old: o,
                            new: n,
                            attrs,
                            rule,
                        });
                    }
                }
            }
        }
    }
}

/// Drops scanned entries that are what the baseline has as soon as they
/// are complete, so a scan holds only the differences (a million unchanged
/// files cost a bit each, not an entry each). Compare then sees neither
/// side of a dropped path, which it would have said nothing about.
pub struct Unchanged<'b> {
    scope: &'b Scope,
    baseline: &'b Baseline,
    seen: Vec<bool>,
    /// Takes each entry's encoding, for its digest.
    scratch: Vec<u8>,
}

impl<'b> Unchanged<'b> {
    pub fn new(scope: &'b Scope, baseline: &'b Baseline) -> Unchanged<'b> {
        Unchanged {
            scope,
            baseline,
            seen: vec![false; baseline.count()],
            scratch: Vec::new(),
        }
    }

    /// Whether the scan keeps `new` (recorded without a problem when
    /// `clean`): false when it is the same as in the baseline under its
    /// rule.
    pub fn keep(&mut self, new: &Entry, clean: bool) -> bool {
        let (Some(i), true) = (self.baseline.find(&new.path), clean) else {
            return true;
        };
        let Some(rule) = self.scope.rule_for(&new.path) else {
            return true;
        };
        // Most entries are as recorded to the byte, which their digest
        // says without reading the baseline again.
        let same = self.baseline.holds(i, new, &mut self.scratch)
            || self
                .baseline
                .entry(i)
                .is_some_and(|old| changes(rule, &old, new, true).is_empty());
        self.seen[i] |= same;
        !same
    }

    /// How many entries were dropped.
    pub fn dropped(&self) -> usize {
        self.seen.iter().filter(|s| **s).count()
    }

    /// The baseline entries whose path was not dropped, in path order:
    /// what compare must see, read again from the baseline (check
    /// [`Baseline::intact`] before trusting a comparison with them).
    pub fn rest(&self) -> Vec<Entry> {
        self.seen
            .iter()
            .enumerate()
            .filter(|(_, seen)| !**seen)
            .filter_map(|(i, _)| self.baseline.entry(i))
            .collect()
    }
}

/// The attributes of the rule that differ; content ones only when the
/// content could be read.
fn changes(rule: &Rule, old: &Entry, new: &Entry, content_known: bool) -> Vec<Attr> {
    let set = match content_known {
        true => rule.attributes,
        false => without_content(rule.attributes),
    };
    new.changes(old, set)
}

fn without_content(set: AttrSet) -> AttrSet {
    let kept: Vec<Attr> = Attr::ALL
        .into_iter()
        .filter(|a| set.has(*a) && !matches!(a, Attr::Sha256 | Attr::Xattrs | Attr::Acl))
        .collect();
    AttrSet::of(&kept)
}

fn problem_at<'p>(problems: &'p [Problem], path: &[u8]) -> Option<&'p Problem> {
    problems
        .binary_search_by(|p| p.path.as_slice().cmp(path))
        .ok()
        .map(|i| &problems[i])
}

/// Whether the scan could not see `path`: it failed on the path itself or
/// on a directory above it.
pub fn unknown(problems: &[Problem], path: &[u8]) -> bool {
    problem_at(problems, path).is_some()
        || problems.iter().any(|p| {
            p.kind == ProblemKind::UnreadableDir
                && path.starts_with(&p.path)
                && (p.path.ends_with(b"/") || path.get(p.path.len()) == Some(&b'/'))
        })
}
