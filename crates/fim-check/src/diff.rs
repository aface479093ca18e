//! Comparing a scan with the baseline: a merge of two path-sorted lists,
//! each path judged by the rule the policy gives it.

use crate::attrs::{Attr, AttrSet};
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

/// The differences, in path order. Paths the scan could not read are not
/// reported as removed (their `fim.error` says why), and a file whose
/// content could not be hashed is not reported as a content change.
pub fn compare<'a>(scope: &'a Scope, old: &'a [Entry], scan: &'a Scan) -> Vec<Event<'a>> {
    let new = &scan.entries;
    let mut events = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let order = match (old.get(i), new.get(j)) {
            (Some(o), Some(n)) => o.path.cmp(&n.path),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                let o = &old[i];
                if let Some(rule) = scope.rule_for(&o.path) {
                    if !unknown(&scan.problems, &o.path) {
                        events.push(Event::Removed(o, rule));
                    }
                }
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                let n = &new[j];
                if let Some(rule) = scope.rule_for(&n.path) {
                    events.push(Event::Added(n, rule));
                }
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let (o, n) = (&old[i], &new[j]);
                if let Some(rule) = scope.rule_for(&n.path) {
                    let mut set = rule.attributes;
                    if problem_at(&scan.problems, &n.path).is_some() {
                        set = without_content(set);
                    }
                    let attrs = n.changes(o, set);
                    if !attrs.is_empty() {
                        events.push(Event::Changed {
                            old: o,
                            new: n,
                            attrs,
                            rule,
                        });
                    }
                }
                i += 1;
                j += 1;
            }
        }
    }
    events
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
fn unknown(problems: &[Problem], path: &[u8]) -> bool {
    problem_at(problems, path).is_some()
        || problems.iter().any(|p| {
            p.kind == ProblemKind::UnreadableDir
                && path.starts_with(&p.path)
                && (p.path.ends_with(b"/") || path.get(p.path.len()) == Some(&b'/'))
        })
}
