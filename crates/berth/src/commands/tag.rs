//! `berth tag SRC DST`

use anyhow::bail;
use berth_oci::Reference;

use crate::Context;
use crate::cli::TagArgs;

pub fn run(ctx: &Context, args: TagArgs) -> anyhow::Result<()> {
    let target = Reference::parse(&args.target)?;
    if target.digest().is_some() {
        bail!(
            "can't tag {} with a digest: a digest names content, not a tag; give NAME[:TAG]",
            args.target
        );
    }
    let store = ctx.store()?;
    let (digest, _) = store.lookup(&args.source)?;
    store.add_image(&digest, &[target])?;
    Ok(())
}
