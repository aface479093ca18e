//! The model `anomalizer learn` writes from a known-good period: the
//! templates seen then, in all and per source. Plain, versioned JSON with
//! unknown keys refused, so loading one is safe and a hand edit that breaks
//! it is reported.
//!
//! Sources are judged against their own past: a template learnt only from
//! `auth.log` is new when it turns up in `app.log`. A source the model has
//! never seen (a log added since, or named otherwise) is judged against
//! every template learnt. Version 1 models (one list, no sources) are
//! still read, as that list for every source.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use secops_common::{Context, Error, config};
use serde::{Deserialize, Serialize};

use crate::mining::drain::Template;
use crate::mining::mask::WILDCARD;

/// What `version` this build writes; it reads this one and 1.
const VERSION: u32 = 2;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub version: u32,
    /// Every template learnt, tokens separated by single spaces.
    pub templates: Vec<String>,
    /// Each source's templates, by source name as records show it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, Vec<String>>,
    #[serde(skip)]
    all: Known,
    #[serde(skip)]
    by_source: HashMap<String, Known>,
}

/// Templates by token count, for matching.
#[derive(Debug, Default)]
struct Known {
    by_length: HashMap<usize, Vec<Vec<String>>>,
}

impl Known {
    fn new(texts: &[String]) -> Known {
        let mut known = Known::default();
        for text in texts {
            let tokens: Vec<String> = text.split(' ').map(str::to_string).collect();
            known
                .by_length
                .entry(tokens.len())
                .or_default()
                .push(tokens);
        }
        known
    }

    /// Same length, and each position equal or a wildcard on either side
    /// (the live miner may have generalised a position further, or less
    /// far, than learning did).
    fn covers(&self, template: &Template) -> bool {
        self.by_length
            .get(&template.tokens.len())
            .is_some_and(|known| {
                known.iter().any(|k| {
                    k.iter()
                        .zip(&template.tokens)
                        .all(|(a, b)| a == b || a == WILDCARD || b == WILDCARD)
                })
            })
    }
}

impl Model {
    /// A model of `templates`, with the ids each source showed.
    pub fn learn(templates: &[Template], sources: &BTreeMap<String, BTreeSet<usize>>) -> Model {
        let texts = |ids: &BTreeSet<usize>| ids.iter().map(|&id| templates[id].text()).collect();
        Model {
            version: VERSION,
            templates: templates.iter().map(Template::text).collect(),
            sources: sources
                .iter()
                .map(|(name, ids)| (name.clone(), texts(ids)))
                .collect(),
            all: Known::default(),
            by_source: HashMap::new(),
        }
    }

    pub fn load(path: &Path) -> Result<Model, Error> {
        let mut model: Model = config::load(path)?;
        if !(1..=VERSION).contains(&model.version) {
            return Err(Error::bad_input(format!(
                "{}: model version {} is not one this build reads (1 to {VERSION}); run anomalizer learn again",
                path.display(),
                model.version
            )));
        }
        model.all = Known::new(&model.templates);
        model.by_source = model
            .sources
            .iter()
            .map(|(name, texts)| (name.clone(), Known::new(texts)))
            .collect();
        Ok(model)
    }

    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let mut json = serde_json::to_vec_pretty(self).expect("a model always serializes");
        json.push(b'\n');
        secops_common::atomic::write_atomic(path, &json, secops_common::perms::REPORT)
            .context(|| format!("cannot write {}", path.display()))
    }

    /// Whether `source` showed `template` while learning (any source did,
    /// for a source the model does not know).
    pub fn knows(&self, source: &str, template: &Template) -> bool {
        self.by_source
            .get(source)
            .unwrap_or(&self.all)
            .covers(template)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(text: &str) -> Template {
        Template {
            tokens: text.split(' ').map(str::to_string).collect(),
            count: 1,
        }
    }

    #[test]
    fn each_source_is_judged_against_its_own_templates() {
        let templates = [
            template("session opened for <*>"),
            template("disk <*> full"),
        ];
        let sources = BTreeMap::from([
            ("auth.log".to_string(), BTreeSet::from([0])),
            ("app.log".to_string(), BTreeSet::from([1])),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        Model::learn(&templates, &sources).save(&path).unwrap();
        let model = Model::load(&path).unwrap();
        assert!(model.knows("auth.log", &template("session opened for root")));
        assert!(!model.knows("app.log", &template("session opened for root")));
        assert!(model.knows("app.log", &template("disk /var full")));
        // A source never learnt is judged against every template.
        assert!(model.knows("new.log", &template("session opened for <*>")));
        assert!(!model.knows("new.log", &template("kernel panic")));
    }

    #[test]
    fn version_1_models_still_load_as_one_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        std::fs::write(&path, r#"{"version":1,"templates":["a <*> b"]}"#).unwrap();
        let model = Model::load(&path).unwrap();
        assert!(model.knows("any.log", &template("a x b")));
        std::fs::write(&path, r#"{"version":3,"templates":[]}"#).unwrap();
        assert!(Model::load(&path).is_err());
    }
}
