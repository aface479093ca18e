//! The model `anomalizer learn` writes from a known-good period: the
//! templates seen then. Plain, versioned JSON with unknown keys refused, so
//! loading one is safe and a hand edit that breaks it is reported.

use std::collections::HashMap;
use std::path::Path;

use secops_common::{Error, config};
use serde::{Deserialize, Serialize};

use crate::classify::WILDCARD;
use crate::drain::Template;

/// What `version` a model file must carry to be read by this build.
const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub version: u32,
    /// Template texts, tokens separated by single spaces.
    pub templates: Vec<String>,
    #[serde(skip)]
    by_length: HashMap<usize, Vec<Vec<String>>>,
}

impl Model {
    pub fn learn(templates: &[Template]) -> Model {
        Model {
            version: VERSION,
            templates: templates.iter().map(Template::text).collect(),
            by_length: HashMap::new(),
        }
    }

    pub fn load(path: &Path) -> Result<Model, Error> {
        let mut model: Model = config::load(path)?;
        if model.version != VERSION {
            return Err(Error::bad_input(format!(
                "{}: model version {} is not {VERSION}; run anomalizer learn again",
                path.display(),
                model.version
            )));
        }
        for text in &model.templates {
            let tokens: Vec<String> = text.split(' ').map(str::to_string).collect();
            model
                .by_length
                .entry(tokens.len())
                .or_default()
                .push(tokens);
        }
        Ok(model)
    }

    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let mut json = serde_json::to_vec_pretty(self).expect("a model always serializes");
        json.push(b'\n');
        secops_common::atomic::write_atomic(path, &json, 0o644)
            .map_err(|err| Error::failed(format!("cannot write {}: {err}", path.display())))
    }

    /// Whether a learnt template covers `template`: same length, and each
    /// position equal or a wildcard on either side (the live miner may have
    /// generalised a position further, or less far, than learning did).
    pub fn knows(&self, template: &Template) -> bool {
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
