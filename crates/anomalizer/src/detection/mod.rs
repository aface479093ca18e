//! What is unusual: per-source statistics of each template and the rules
//! that judge them, and the window detectors (PCA, isolation forest) that
//! judge how templates move together.

pub mod context;
pub mod iforest;
pub mod model;
pub mod pca;
pub mod rhythm;
pub mod rules;
pub mod windows;
