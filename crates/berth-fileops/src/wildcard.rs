//! Go's `filepath.Match` for one path component, which is how BuildKit expands `COPY` source
//! wildcards: `*` any run of characters, `?` one character, `[a-z]` / `[^a-z]` classes, `\`
//! escapes the next character. Patterns apply per component, so `*` never crosses a `/`.

/// Whether a source path component holds wildcard syntax (else it is taken literally).
pub fn has_meta(component: &str) -> bool {
    component.contains(['*', '?', '[', '\\'])
}

/// A pattern `filepath.Match` rejects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern {0:?}")]
pub struct BadPattern(pub String);

/// Matches one component `name` against `pattern`.
pub fn matches(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let bad = || BadPattern(pattern.to_owned());
    // Classic backtracking on the last `*`: linear enough for file names.
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pi < p.len() {
            match p[pi] {
                '*' => {
                    star = Some((pi, ni));
                    pi += 1;
                    continue;
                }
                '?' if ni < n.len() => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                '[' if ni < n.len() => {
                    let (hit, next) = class(&p, pi + 1, n[ni]).ok_or_else(bad)?;
                    if hit {
                        pi = next;
                        ni += 1;
                        continue;
                    }
                }
                '\\' => {
                    let c = *p.get(pi + 1).ok_or_else(bad)?;
                    if ni < n.len() && n[ni] == c {
                        pi += 2;
                        ni += 1;
                        continue;
                    }
                }
                c if ni < n.len() && c == n[ni] && c != '?' && c != '[' => {
                    pi += 1;
                    ni += 1;
                    continue;
                }
                _ => {}
            }
        } else if ni == n.len() {
            return validate(&p).map(|()| true).ok_or_else(bad);
        }
        match star {
            Some((sp, sn)) if sn < n.len() => {
                star = Some((sp, sn + 1));
                pi = sp + 1;
                ni = sn + 1;
            }
            _ => return validate(&p).map(|()| false).ok_or_else(bad),
        }
    }
}

/// Parses a class after its `[` and tests `c`: (matched, index after `]`); `None` if malformed.
fn class(p: &[char], mut at: usize, c: char) -> Option<(bool, usize)> {
    let negated = p.get(at) == Some(&'^');
    if negated {
        at += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        if p.get(at) == Some(&']') && !first {
            return Some((hit != negated, at + 1));
        }
        first = false;
        let (lo, next) = class_char(p, at)?;
        at = next;
        let mut hi = lo;
        if p.get(at) == Some(&'-') {
            let (h, next) = class_char(p, at + 1)?;
            hi = h;
            at = next;
        }
        if lo > hi {
            return None;
        }
        hit |= lo <= c && c <= hi;
    }
}

fn class_char(p: &[char], mut at: usize) -> Option<(char, usize)> {
    match p.get(at)? {
        '-' | ']' => return None,
        '\\' => at += 1,
        _ => {}
    }
    Some((*p.get(at)?, at + 1))
}

/// Go reports a bad pattern even when matching stopped before the bad part; so does berth.
fn validate(p: &[char]) -> Option<()> {
    let mut at = 0;
    while at < p.len() {
        match p[at] {
            '\\' => {
                p.get(at + 1)?;
                at += 2;
            }
            '[' => at = class(p, at + 1, '\0')?.1,
            _ => at += 1,
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_filepath_match_cases() {
        let ok = |p: &str, n: &str| matches(p, n).unwrap();
        assert!(ok("*.txt", "a.txt"));
        assert!(!ok("*.txt", "a.txt.bak"));
        assert!(ok("a*b*c", "axxbyyc"));
        assert!(ok("?", "x"));
        assert!(!ok("?", ""));
        assert!(ok("[a-c]x", "bx"));
        assert!(!ok("[^a-c]x", "bx"));
        assert!(ok("[^a-c]x", "dx"));
        assert!(ok("\\*", "*"));
        assert!(!ok("\\*", "a"));
        assert!(ok("*", ""));
        assert!(matches("[", "a").is_err());
        assert!(matches("a\\", "a").is_err());
        assert!(matches("[z-a]", "q").is_err());
        assert!(!has_meta("plain.txt"));
        assert!(has_meta("f*"));
    }
}
