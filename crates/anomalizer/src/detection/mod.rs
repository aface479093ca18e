//! What is unusual. Each source's statistics, line by line ([`sources`]:
//! counts, values, rate and gaps per template, with [`context`] lines and
//! the [`rhythm`] maths), judged by the rules ([`rules`]) and graded by
//! what their templates say ([`concern`]); the templates of
//! a known-good period ([`model`]) for new ones; each template's lines per
//! hour ([`timeline`]); the logs whose findings are [`expected`]
//! activity (package managers); and the window detectors ([`windows`], over
//! [`pca`] and [`iforest`]) that judge how templates move together.

pub mod concern;
pub mod context;
pub mod expected;
pub mod iforest;
pub mod model;
pub mod pca;
pub mod rhythm;
pub mod rules;
pub mod sources;
pub mod timeline;
pub mod windows;
