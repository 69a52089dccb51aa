//! `berth login` and `berth logout`, keeping credentials where Docker does.

use std::io::{self, BufRead, IsTerminal, Read, Write};

use anyhow::{Context as _, bail};
use berth_remote::{Credential, DockerConfig};

use crate::Context;
use crate::cli::{LoginArgs, LogoutArgs};

/// `https://registry.example/v2/` → `registry.example`; Docker Hub's names → `docker.io`.
fn host(registry: &str) -> String {
    let h = registry
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or(registry);
    match h {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    }
}

fn config_path(ctx: &Context) -> anyhow::Result<std::path::PathBuf> {
    ctx.remote
        .docker_config
        .clone()
        .or_else(DockerConfig::default_path)
        .context("can't find Docker's config: set $DOCKER_CONFIG or $HOME")
}

pub fn login(ctx: &Context, args: LoginArgs) -> anyhow::Result<()> {
    let host = host(&args.registry);
    let username = match args.username {
        Some(u) => u,
        None if io::stdin().is_terminal() && !args.password_stdin => {
            eprint!("Username: ");
            io::stderr().flush()?;
            let mut line = String::new();
            io::stdin().lock().read_line(&mut line)?;
            line.trim().to_string()
        }
        None => bail!("give the user name with -u USER"),
    };
    let password = if args.password_stdin {
        let mut s = String::new();
        io::stdin()
            .read_to_string(&mut s)
            .context("reading the password from standard input")?;
        s.trim_end_matches(['\n', '\r']).to_string()
    } else if io::stdin().is_terminal() {
        rpassword::prompt_password("Password: ").context("reading the password")?
    } else {
        bail!("standard input is not a terminal: pipe the password in with --password-stdin");
    };
    if username.is_empty() || password.is_empty() {
        bail!("the user name and the password can't be empty");
    }
    let credential = Credential::Basic { username, password };
    ctx.runtime()?.block_on(async {
        let registry = ctx.client()?.registry_with(&host, credential.clone());
        anyhow::Ok(registry.check_login().await?)
    })?;
    let path = config_path(ctx)?;
    let mut config = DockerConfig::load(&path)?;
    config.store(&host, &credential)?;
    println!("Login Succeeded");
    Ok(())
}

pub fn logout(ctx: &Context, args: LogoutArgs) -> anyhow::Result<()> {
    let host = host(&args.registry);
    let path = config_path(ctx)?;
    let mut config = DockerConfig::load(&path)?;
    if config.erase(&host)? {
        println!("Removed the login credentials for {host}");
    } else {
        println!("Not logged in to {host}");
    }
    Ok(())
}
