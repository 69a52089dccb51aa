//! Just enough of a POSIX shell reader to see which commands a `RUN` runs, with which
//! arguments, and whether it pipes.
//!
//! It reads the way hadolint's rules see a script through ShellCheck's parser: commands inside
//! `$(…)` and backticks count, a command whose name is not a plain word (`$CC -o x`) is not one,
//! words are flattened with quotes removed and substitutions written `${…}`, redirections are
//! not arguments, and assignments before a command are not its name. It never fails: a script it
//! cannot follow simply yields the commands it did see.

/// One simple command: its name and its arguments, redirections left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub name: String,
    pub args: Vec<String>,
}

/// What a script holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    pub commands: Vec<Command>,
    /// A `|` or `|&` anywhere, substitutions included.
    pub pipes: bool,
}

impl Command {
    /// Whether this is `name` with `arg` among its arguments (hadolint's `cmdHasArgs`).
    pub fn is(&self, name: &str, arg: &str) -> bool {
        self.name == name && self.args.iter().any(|a| a == arg)
    }

    /// Whether this is `name` with any of `args` among its arguments.
    pub fn is_any(&self, name: &str, args: &[&str]) -> bool {
        self.name == name && self.args.iter().any(|a| args.contains(&a.as_str()))
    }

    /// The flag names each argument spells (`-yq` is `y` and `q`, `--to=x` is `to`).
    fn flags_of(arg: &str) -> Vec<&str> {
        if arg == "-" || arg == "--" || !arg.starts_with('-') {
            return Vec::new();
        }
        if let Some(long) = arg.strip_prefix("--") {
            return vec![long.split('=').next().unwrap_or(long)];
        }
        arg[1..]
            .char_indices()
            .map(|(i, c)| &arg[1 + i..1 + i + c.len_utf8()])
            .collect()
    }

    /// How many times a flag is given.
    pub fn count_flag(&self, flag: &str) -> usize {
        self.args
            .iter()
            .map(|a| Command::flags_of(a).iter().filter(|f| **f == flag).count())
            .sum()
    }

    pub fn has_flag(&self, flag: &str) -> bool {
        self.count_flag(flag) > 0
    }

    pub fn has_any_flag(&self, flags: &[&str]) -> bool {
        flags.iter().any(|f| self.has_flag(f))
    }

    pub fn has_arg(&self, arg: &str) -> bool {
        self.args.iter().any(|a| a == arg)
    }

    /// The arguments that are not flags, after dropping the value that follows each of
    /// `valued` flags when it is written apart (`-t bookworm`, not `--target-release=x`).
    pub fn operands(&self, valued: &[&str]) -> Vec<&str> {
        let mut out = Vec::new();
        let mut skip_next = false;
        for arg in &self.args {
            if skip_next {
                skip_next = false;
                continue;
            }
            let flags = Command::flags_of(arg);
            if flags.is_empty() {
                out.push(arg.as_str());
            } else if !arg.contains('=') && flags.iter().any(|f| valued.contains(f)) {
                skip_next = true;
            }
        }
        out
    }
}

/// Reads a script.
pub fn parse(src: &str) -> Script {
    let mut script = Script::default();
    let tokens = Lexer::new(src, &mut script).tokens();
    let mut pipes = false;
    Grammar::default().commands(tokens, &mut script.commands, &mut pipes);
    script.pipes |= pipes;
    script
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    /// `&&`, `||`, `;`, `|`, `&`, newline, `(`, `)`: each starts a new command.
    Separator,
    /// `|` or `|&`: a pipe, except between the alternatives of a `case` pattern.
    Pipe,
    /// `;;`, `;&`, `;;&`: ends a `case` branch.
    CaseBreak,
    /// `)` right after a `case` pattern is read by the grammar from this.
    Close,
    /// `<`, `>`, `>>`, `2>&1`…: the redirection's target word follows unless it is glued on.
    Redirect {
        takes_word: bool,
    },
    /// The commands of `$(…)` or backquotes found in the next word.
    Substituted(Vec<Command>),
}

struct Lexer<'a, 's> {
    chars: Vec<char>,
    pos: usize,
    script: &'s mut Script,
    /// Commands of substitutions in the word being read.
    substituted: Vec<Command>,
    _src: &'a str,
}

impl<'a, 's> Lexer<'a, 's> {
    fn new(src: &'a str, script: &'s mut Script) -> Lexer<'a, 's> {
        Lexer {
            chars: src.chars().collect(),
            pos: 0,
            script,
            substituted: Vec::new(),
            _src: src,
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn tokens(mut self) -> Vec<Token> {
        let mut out = Vec::new();
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\r' => self.pos += 1,
                '\\' if self.peek(1) == Some('\n') => self.pos += 2,
                '\n' => {
                    self.pos += 1;
                    out.push(Token::Separator);
                }
                '#' => {
                    while self.peek(0).is_some_and(|c| c != '\n') {
                        self.pos += 1;
                    }
                }
                ';' => {
                    if self.peek(1) == Some(';') || self.peek(1) == Some('&') {
                        self.pos += 2;
                        if self.peek(0) == Some('&') {
                            self.pos += 1;
                        }
                        out.push(Token::CaseBreak);
                    } else {
                        self.pos += 1;
                        out.push(Token::Separator);
                    }
                }
                '&' => {
                    self.pos += if self.peek(1) == Some('&') { 2 } else { 1 };
                    if self.peek(0) == Some('>') {
                        // `&>file`: both streams redirected.
                        self.pos += 1;
                        if self.peek(0) == Some('>') {
                            self.pos += 1;
                        }
                        out.push(Token::Redirect { takes_word: true });
                    } else {
                        out.push(Token::Separator);
                    }
                }
                '|' => {
                    if self.peek(1) == Some('|') {
                        self.pos += 2;
                        out.push(Token::Separator);
                    } else {
                        self.pos += if self.peek(1) == Some('&') { 2 } else { 1 };
                        out.push(Token::Pipe);
                    }
                }
                '(' => {
                    self.pos += 1;
                    out.push(Token::Separator);
                }
                ')' => {
                    self.pos += 1;
                    out.push(Token::Close);
                }
                '<' | '>' => out.push(self.redirect()),
                _ => {
                    if c.is_ascii_digit() && self.is_fd_redirect() {
                        self.pos += 1;
                        out.push(self.redirect());
                    } else {
                        let word = self.word();
                        // Commands substituted inside the word run before the command the
                        // word belongs to, and after those already finished.
                        if !self.substituted.is_empty() {
                            out.push(Token::Substituted(std::mem::take(&mut self.substituted)));
                        }
                        out.push(Token::Word(word));
                    }
                }
            }
        }
        out
    }

    /// `2>` and the like: a digit glued to a redirection operator.
    fn is_fd_redirect(&self) -> bool {
        matches!(self.peek(1), Some('<' | '>'))
    }

    fn redirect(&mut self) -> Token {
        let first = self.peek(0);
        self.pos += 1;
        let mut heredoc = false;
        match (first, self.peek(0)) {
            (Some('<'), Some('<')) => {
                self.pos += 1;
                heredoc = true;
                if self.peek(0) == Some('<') || self.peek(0) == Some('-') {
                    self.pos += 1;
                }
            }
            (Some('>'), Some('>' | '|')) | (Some('<'), Some('>')) => self.pos += 1,
            _ => {}
        }
        // `>&2`, `2>&1`: a descriptor, glued on.
        if !heredoc && self.peek(0) == Some('&') {
            self.pos += 1;
            while self.peek(0).is_some_and(|c| c.is_ascii_digit() || c == '-') {
                self.pos += 1;
            }
            return Token::Redirect { takes_word: false };
        }
        Token::Redirect { takes_word: true }
    }

    /// One word, flattened: quotes removed, substitutions read for their commands and written
    /// `${…}`.
    fn word(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek(0) {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' => break,
                '\\' => {
                    match self.peek(1) {
                        Some('\n') => {}
                        Some(next) => out.push(next),
                        None => {}
                    }
                    self.pos += 2;
                }
                '\'' => {
                    self.pos += 1;
                    while let Some(c) = self.peek(0) {
                        self.pos += 1;
                        if c == '\'' {
                            break;
                        }
                        out.push(c);
                    }
                }
                '"' => {
                    self.pos += 1;
                    self.double_quoted(&mut out);
                }
                '$' => self.dollar(&mut out),
                '`' => self.backquoted(&mut out),
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
        out
    }

    /// `` `command` ``: its commands count as the script's; the word holds a placeholder.
    fn backquoted(&mut self, out: &mut String) {
        self.pos += 1;
        let start = self.pos;
        while self.peek(0).is_some_and(|c| c != '`') {
            if self.peek(0) == Some('\\') {
                self.pos += 1;
            }
            self.pos += 1;
        }
        let inner: String = self.chars[start..self.pos.min(self.chars.len())]
            .iter()
            .collect();
        self.pos += 1;
        self.nested(&inner);
        out.push_str("${VAR}");
    }

    fn double_quoted(&mut self, out: &mut String) {
        while let Some(c) = self.peek(0) {
            match c {
                '"' => {
                    self.pos += 1;
                    return;
                }
                '\\' => {
                    match self.peek(1) {
                        Some(n @ ('"' | '\\' | '$' | '`')) => out.push(n),
                        Some('\n') => {}
                        Some(n) => {
                            out.push('\\');
                            out.push(n);
                        }
                        None => {}
                    }
                    self.pos += 2;
                }
                '$' => self.dollar(out),
                '`' => self.backquoted(out),
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `$name`, `${…}`, `$(…)`, `$((…))`, `$'…'`.
    fn dollar(&mut self, out: &mut String) {
        match self.peek(1) {
            Some('(') if self.peek(2) == Some('(') => {
                self.pos += 1;
                self.balanced('(', ')');
                out.push_str("${VAR}");
            }
            Some('(') => {
                self.pos += 1;
                let inner = self.balanced('(', ')');
                self.nested(&inner);
                out.push_str("${");
                out.push_str(&inner);
                out.push('}');
            }
            Some('{') => {
                self.pos += 1;
                let inner = self.balanced('{', '}');
                out.push_str("${");
                out.push_str(&inner);
                out.push('}');
            }
            Some('\'') => {
                self.pos += 2;
                while let Some(c) = self.peek(0) {
                    self.pos += 1;
                    if c == '\'' {
                        break;
                    }
                    out.push(c);
                }
            }
            _ => {
                out.push('$');
                self.pos += 1;
            }
        }
    }

    /// From an opening bracket to its match, quotes respected; returns what is between.
    fn balanced(&mut self, open: char, close: char) -> String {
        self.pos += 1;
        let start = self.pos;
        let mut depth = 1;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek(0) {
            match (quote, c) {
                (_, '\\') => self.pos += 1,
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, c) if c == open => depth += 1,
                (None, c) if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        let end = self.pos.min(self.chars.len());
        self.pos += 1;
        self.chars[start..end].iter().collect()
    }

    /// A command substitution's own commands and pipes count as the script's.
    fn nested(&mut self, inner: &str) {
        let nested = parse(inner);
        self.script.pipes |= nested.pipes;
        self.substituted.extend(nested.commands);
    }
}

/// Groups tokens into commands, skipping the shell's own words (`if`, `for … in …`, `case`
/// patterns) the way a shell's grammar would.
#[derive(Default)]
struct Grammar {
    /// For each open `case`: whether a pattern is expected next.
    cases: Vec<bool>,
}

impl Grammar {
    fn commands(&mut self, tokens: Vec<Token>, out: &mut Vec<Command>, pipes: &mut bool) {
        let mut current: Option<Command> = None;
        let mut at_start = true;
        let mut skip_until_separator = false;
        let mut tokens = tokens.into_iter().peekable();
        while let Some(token) = tokens.next() {
            if self.cases.last() == Some(&true) {
                // Reading a case pattern: up to its `)`, or `esac`.
                match token {
                    Token::Word(w) if w == "esac" => {
                        self.cases.pop();
                    }
                    Token::Close => {
                        if let Some(expect) = self.cases.last_mut() {
                            *expect = false;
                        }
                        at_start = true;
                    }
                    _ => {}
                }
                continue;
            }
            if token == Token::Pipe {
                *pipes = true;
            }
            match token {
                Token::Separator | Token::Close | Token::Pipe => {
                    out.extend(current.take());
                    at_start = true;
                    skip_until_separator = false;
                }
                Token::CaseBreak => {
                    out.extend(current.take());
                    at_start = true;
                    skip_until_separator = false;
                    if let Some(expect) = self.cases.last_mut() {
                        *expect = true;
                    }
                }
                Token::Substituted(commands) => out.extend(commands),
                Token::Redirect { takes_word } => {
                    if takes_word {
                        tokens.next_if(|t| matches!(t, Token::Word(_)));
                    }
                }
                Token::Word(word) => {
                    if skip_until_separator {
                        continue;
                    }
                    if let Some(cmd) = current.as_mut() {
                        cmd.args.push(word);
                        continue;
                    }
                    if !at_start {
                        continue;
                    }
                    match word.as_str() {
                        "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "{" | "}"
                        | "!" | "fi" | "done" => {}
                        "for" | "select" => skip_until_separator = true,
                        "[[" => skip_until_separator = true,
                        "case" => {
                            // `case WORD in`: the pattern comes after `in`.
                            for t in tokens.by_ref() {
                                if t == Token::Word("in".into()) {
                                    break;
                                }
                            }
                            self.cases.push(true);
                        }
                        "esac" => {
                            self.cases.pop();
                        }
                        w if is_assignment(w) => {}
                        w if w.is_empty() || w.contains('$') => {
                            // Not a literal name: not a command hadolint would name.
                            at_start = false;
                        }
                        _ => {
                            current = Some(Command {
                                name: word,
                                args: Vec::new(),
                            });
                        }
                    }
                }
            }
        }
        out.extend(current);
    }
}

/// `NAME=value` before a command.
fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            let name = name.strip_suffix('+').unwrap_or(name);
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<String> {
        parse(src).commands.into_iter().map(|c| c.name).collect()
    }

    #[test]
    fn splits_on_operators_and_reads_substitutions() {
        assert_eq!(
            names(
                "set -eux; a=\"$(dpkg --print-architecture | awk -F- '{ print $NF }')\" && cd /x || exit 1"
            ),
            ["set", "dpkg", "awk", "cd", "exit"]
        );
        assert!(parse("a | b").pipes);
        assert!(!parse("a || b").pipes);
        assert!(parse("x=$(a | b)").pipes);
        assert!(!parse("case \"$a\" in x86_64|aarch64) echo y ;; *) echo n ;; esac").pipes);
        assert!(parse("case $a in x|y) b | c ;; esac").pipes);
    }

    #[test]
    fn skips_shell_keywords_and_case_patterns() {
        assert_eq!(
            names("if [ -f x ]; then rm x; fi; for f in a b; do echo $f; done"),
            ["[", "rm", "echo"]
        );
        assert_eq!(
            names(
                "case \"$a\" in amd64) x=1 ;; arm64|aarch64) apk add y ;; *) echo no; exit 1 ;; esac; wget z"
            ),
            ["apk", "echo", "exit", "wget"]
        );
    }

    #[test]
    fn words_lose_quotes_and_redirections() {
        let s = parse("apt-get install -y 'a=1' \"b\" > /dev/null 2>&1");
        assert_eq!(s.commands[0].args, ["install", "-y", "a=1", "b"]);
        let s = parse("FOO=1 pip install --no-cache-dir x==1");
        assert_eq!(s.commands[0].name, "pip");
    }

    #[test]
    fn flags_and_operands() {
        let c =
            &parse("apt-get -qq -t bookworm install --no-install-recommends -y curl").commands[0];
        assert_eq!(c.count_flag("q"), 2);
        assert!(c.has_flag("no-install-recommends"));
        assert_eq!(c.operands(&["t"]), ["install", "curl"]);
        assert_eq!(c.operands(&[]), ["bookworm", "install", "curl"]);
    }
}
