//! `berth key`: signing keys in cosign's formats (see docs/sign.md).

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use berth_sign::{KeyPairPaths, Overwrite, PrivateKey, write_key_pair};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Make a P-256 key pair: PREFIX.key (encrypted with a password, as cosign writes it) and
    /// PREFIX.pub. The password comes from COSIGN_PASSWORD or BERTH_PASSWORD, or is asked for
    /// on the terminal.
    Generate(GenerateArgs),
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// Path prefix of the files written: PREFIX.key and PREFIX.pub
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    pub output_key_prefix: PathBuf,
    /// Replace key files already there
    #[arg(long)]
    pub force: bool,
}

/// The environment variables a password is taken from, in order: cosign's, then berth's.
const PASSWORD_VARIABLES: [&str; 2] = ["COSIGN_PASSWORD", "BERTH_PASSWORD"];

pub fn run(command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Generate(args) => generate(args),
    }
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let paths = KeyPairPaths::from_prefix(&args.output_key_prefix);
    let overwrite = if args.force {
        Overwrite::Replace
    } else {
        Overwrite::Never
    };
    let password = new_password()?;
    write_key_pair(&paths, &PrivateKey::generate(), &password, overwrite)?;
    eprintln!("Private key written to {}", paths.private.display());
    eprintln!("Public key written to {}", paths.public.display());
    Ok(())
}

/// The password from COSIGN_PASSWORD or BERTH_PASSWORD, when one is set (even empty).
fn password_from_environment() -> Option<Zeroizing<Vec<u8>>> {
    PASSWORD_VARIABLES.iter().find_map(|name| {
        use std::os::unix::ffi::OsStringExt as _;
        std::env::var_os(name).map(|value| Zeroizing::new(value.into_vec()))
    })
}

fn require_terminal() -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "no password for the private key: set COSIGN_PASSWORD or BERTH_PASSWORD \
             (standard input is not a terminal to ask on)"
        );
    }
    Ok(())
}

/// The password to open a sealed key with: from the environment, else asked once.
pub fn password() -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if let Some(password) = password_from_environment() {
        return Ok(password);
    }
    require_terminal()?;
    let text = Zeroizing::new(
        rpassword::prompt_password("Enter password for private key: ")
            .context("reading the password")?,
    );
    Ok(Zeroizing::new(text.as_bytes().to_vec()))
}

/// The password to seal a new key with. An empty one is allowed, as cosign allows it.
fn new_password() -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if let Some(password) = password_from_environment() {
        return Ok(password);
    }
    require_terminal()?;
    let first = Zeroizing::new(
        rpassword::prompt_password("Enter password for private key: ")
            .context("reading the password")?,
    );
    let again = Zeroizing::new(
        rpassword::prompt_password("Enter password for private key again: ")
            .context("reading the password")?,
    );
    if *first != *again {
        bail!("the two passwords differ; nothing was written");
    }
    Ok(Zeroizing::new(first.as_bytes().to_vec()))
}
