//! berth's Dockerfile frontend, read the way BuildKit's frontend reads it.
//!
//! Text goes through three layers, each a plain value the next one consumes:
//! - [`syntax`]: the file as written — parser directives, logical lines, flags, JSON or shell
//!   form, heredocs — with every instruction's source lines ([`ast`] holds the tree);
//! - [`instructions`]: each instruction typed, its flags checked (`COPY --from`, `RUN --mount`…);
//! - [`describe`]: the resolved build description — stages, bases, ARG scoping, every word
//!   expanded — which the builder runs without ever seeing Dockerfile syntax.
//!
//! [`frontend`] is what a builder calls: text in, description out, base images' configs asked
//! of the builder through a callback.
//!
//! Beside them: [`expand`] (shell-style word expansion), [`ignore`] (`.dockerignore`),
//! [`config`] (how each instruction changes an image config, for the builder and for
//! `berth import`), [`history`] (each step's history line, worded as BuildKit words it) and
//! [`change`] (`--change` lines, read as Dockerfile instructions), and [`origin`] (the build
//! record: which instruction each history entry of a built image came from).

pub mod ast;
pub mod change;
pub mod config;
pub mod describe;
pub mod expand;
pub mod frontend;
pub mod go_fmt;
pub mod history;
pub mod ignore;
pub mod instructions;
pub mod origin;
pub mod syntax;
