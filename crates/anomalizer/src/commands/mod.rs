//! The subcommands as the binary runs them.

pub mod detect;
