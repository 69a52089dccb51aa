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

/// The password to seal a new key with. An empty one is allowed, as cosign allows it.
fn new_password() -> anyhow::Result<Zeroizing<Vec<u8>>> {
    for name in PASSWORD_VARIABLES {
        if let Some(value) = std::env::var_os(name) {
            use std::os::unix::ffi::OsStringExt as _;
            return Ok(Zeroizing::new(value.into_vec()));
        }
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no password for the private key: set COSIGN_PASSWORD or BERTH_PASSWORD \
             (standard input is not a terminal to ask on)"
        );
    }
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
