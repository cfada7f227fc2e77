//! `paperhub config show`: the effective configuration.

use std::path::Path;

use anyhow::Result;

use super::Outcome;
use crate::config::Config;

/// Subcommands of `paperhub config`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (file plus PAPERHUB__ variables) with secrets redacted.
    Show,
}

/// Runs `paperhub config …`.
///
/// # Errors
/// Serialisation fails.
pub fn run(config: &Config, path: Option<&Path>, command: &ConfigCommand) -> Result<Outcome> {
    match command {
        ConfigCommand::Show => {
            match path {
                Some(p) => println!("# from {} and PAPERHUB__ variables", p.display()),
                None => println!("# defaults and PAPERHUB__ variables (no paperhub.toml found)"),
            }
            print!("{}", config.to_redacted_toml()?);
        }
    }
    Ok(Outcome::Success)
}
