//! Instructions that only change the image config, their words expanded: what a stage's steps
//! and `berth import --change` ([`crate::change`]) share, so a change means what the same line
//! means in a Dockerfile.

use super::{Step, values};
use crate::expand::{Lexer, Vars};
use crate::instructions::{Instruction, Pair};

/// The step `ins` makes when it only changes the image config, its words expanded against
/// `vars` (the variables as they are before it) with the escape character `escape`.
///
/// `None` for the instructions that need a stage around them: `FROM`, `ARG`, `RUN`, `COPY`
/// and `ADD`. The error is the message alone; callers say where the instruction came from.
pub fn step(ins: &Instruction, vars: &dyn Vars, escape: char) -> Result<Option<Step>, String> {
    let lexer = Lexer::new(escape);
    let word = |w: &str| lexer.word(w, vars).map_err(|e| e.message);
    let pairs = |pairs: &[Pair]| {
        pairs
            .iter()
            .map(|p| Ok((word(&p.key)?, word(&p.value)?)))
            .collect::<Result<Vec<_>, String>>()
    };
    Ok(Some(match ins {
        Instruction::Env(p) => Step::Env(pairs(p)?),
        Instruction::Label(p) => Step::Label(pairs(p)?),
        Instruction::Expose(specs) => {
            // In BuildKit's order, which its history line shows: the words as written,
            // sorted, then each expanded and spelled out (a range stays in port order).
            let mut specs: Vec<&String> = specs.iter().collect();
            specs.sort();
            let mut ports = Vec::new();
            for spec in specs {
                for w in lexer.words(spec, vars).map_err(|e| e.message)? {
                    ports.extend(values::ports(&w)?);
                }
            }
            Step::Expose(ports)
        }
        Instruction::User(u) => Step::User(word(u)?),
        Instruction::Workdir(w) => Step::Workdir(word(w)?),
        Instruction::Volume(v) => {
            Step::Volume(v.iter().map(|w| word(w)).collect::<Result<_, _>>()?)
        }
        Instruction::Stopsignal(s) => {
            let sig = word(s)?;
            values::check_signal(&sig)?;
            Step::Stopsignal(sig)
        }
        Instruction::Healthcheck(h) => Step::Healthcheck(h.clone()),
        Instruction::Cmd(c) => Step::Cmd(c.clone()),
        Instruction::Entrypoint(c) => Step::Entrypoint(c.clone()),
        Instruction::Shell(s) => Step::Shell(s.clone()),
        Instruction::Onbuild(o) => Step::Onbuild(o.expression.clone()),
        Instruction::Maintainer(m) => Step::Maintainer(m.clone()),
        Instruction::From(_)
        | Instruction::Arg(_)
        | Instruction::Run(_)
        | Instruction::Copy(_)
        | Instruction::Add(_) => return Ok(None),
    }))
}
