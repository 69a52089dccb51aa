//! Shell-style word expansion, exactly as BuildKit's `shell.Lex` does it. (Being written.)
//!
//! The interface the rest of the crate codes against:

/// Where variables come from: one snapshot of the environment per instruction.
pub trait Vars {
    fn get(&self, name: &str) -> Option<&str>;
}

/// Why a word could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExpandError {
    pub message: String,
}

/// Expands one word (quotes removed, escapes applied), as BuildKit's `ProcessWord`.
pub fn expand_word(word: &str, vars: &dyn Vars, escape: char) -> Result<String, ExpandError> {
    let _ = (word, vars, escape);
    Err(ExpandError {
        message: "expansion is not written yet".into(),
    })
}

/// Expands and splits into words on unquoted whitespace, as BuildKit's `ProcessWords`.
pub fn expand_words(word: &str, vars: &dyn Vars, escape: char) -> Result<Vec<String>, ExpandError> {
    let _ = (word, vars, escape);
    Err(ExpandError {
        message: "expansion is not written yet".into(),
    })
}
