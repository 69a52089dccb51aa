//! Focused tests of the Dockerfile parser: heredocs, directives, continuations, comments,
//! errors, line endings; and properties (no panics, determinism) over generated input.

use berth_dockerfile::ast::{Args, Comment, Directive, Heredoc, KeyValue, Keyword, Lines};
use berth_dockerfile::syntax::{SyntaxError, dump, parse};
use proptest::prelude::*;

fn ok(text: &str) -> berth_dockerfile::ast::Dockerfile {
    parse(text).unwrap_or_else(|e| panic!("should parse, got {e}\n---\n{text}"))
}

fn err(text: &str) -> SyntaxError {
    match parse(text) {
        Ok(df) => panic!("should be refused, parsed as:\n{}", dump(&df)),
        Err(e) => e,
    }
}

fn lines(start: usize, end: usize) -> Lines {
    Lines { start, end }
}

fn heredoc(name: &str, content: &str, expand: bool, chomp: bool, body: Lines) -> Heredoc {
    Heredoc {
        name: name.into(),
        content: content.into(),
        expand,
        chomp,
        lines: body,
    }
}

// --- heredocs ---

#[test]
fn heredoc_body_and_line_ranges() {
    let df = ok("FROM alpine\nRUN <<EOF\necho $HOME\n  # not a comment\nEOF\nUSER me\n");
    let run = &df.instructions[1];
    assert_eq!(run.original, "RUN <<EOF");
    assert_eq!(run.args, Args::Shell("<<EOF".into()));
    assert_eq!(run.lines, lines(2, 5));
    assert_eq!(
        run.heredocs,
        [heredoc(
            "EOF",
            "echo $HOME\n  # not a comment\n",
            true,
            false,
            lines(3, 5)
        )]
    );
    assert_eq!(df.instructions[2].lines, lines(6, 6));
    assert_eq!(df.comments, []);
    assert_eq!(
        dump(&df),
        "(from \"alpine\")\n(run \"<<EOF\")\n(user \"me\")\n"
    );
}

#[test]
fn heredoc_chomp_strips_leading_tabs_from_body_and_delimiter() {
    let df = ok("FROM a\nRUN <<-EOT\n\techo a\n\t\techo b\n  echo c\n\tEOT\n");
    assert_eq!(
        df.instructions[1].heredocs,
        [heredoc(
            "EOT",
            "echo a\necho b\n  echo c\n",
            true,
            true,
            lines(3, 6)
        )]
    );
    // Without `-`, a tab-indented delimiter is body.
    let e = err("FROM a\nRUN <<EOT\n\tEOT\n");
    assert_eq!(e.line, 2);
}

#[test]
fn quoted_delimiters_turn_expansion_off() {
    let df = ok("FROM a\nRUN <<\"EOF\"\n$X\nEOF\nRUN <<'EOF'\n$X\nEOF\nRUN <<E\"O\"F\n$X\nEOF\n");
    let expand: Vec<(String, bool)> = df.instructions[1..]
        .iter()
        .map(|i| (i.heredocs[0].name.clone(), i.heredocs[0].expand))
        .collect();
    assert_eq!(
        expand,
        [
            ("EOF".into(), false),
            ("EOF".into(), false),
            ("EOF".into(), false)
        ]
    );
}

#[test]
fn several_heredocs_on_one_line_are_read_in_order() {
    let df = ok("FROM a\nCOPY <<one <<two /dest/\nfirst\none\nsecond\nline\ntwo\nRUN true\n");
    let copy = &df.instructions[1];
    assert_eq!(
        copy.args,
        Args::Words(vec!["<<one".into(), "<<two".into(), "/dest/".into()])
    );
    assert_eq!(
        copy.heredocs,
        [
            heredoc("one", "first\n", true, false, lines(3, 4)),
            heredoc("two", "second\nline\n", true, false, lines(5, 7)),
        ]
    );
    assert_eq!(copy.lines, lines(2, 7));
    assert_eq!(df.instructions[2].lines, lines(8, 8));
}

#[test]
fn heredoc_with_flags_continuation_and_fd() {
    let df = ok("FROM a\nRUN --mount=type=cache,target=/c \\\n  3<<EOF python3\nprint(1)\nEOF\n");
    let run = &df.instructions[1];
    assert_eq!(run.flags, ["--mount=type=cache,target=/c"]);
    assert_eq!(
        run.heredocs,
        [heredoc("EOF", "print(1)\n", true, false, lines(4, 5))]
    );
    assert_eq!(run.lines, lines(2, 5));
}

#[test]
fn heredocs_only_for_run_copy_add_in_shell_form() {
    // USER takes no heredoc: the next line is an instruction of its own.
    let df = ok("FROM a\nUSER <<EOF\nEOF\nRUN [\"<<EOF\"]\nCMD <<EOF\n");
    assert_eq!(df.instructions.len(), 5);
    assert_eq!(df.instructions[2].keyword, Keyword::Unknown("eof".into()));
    assert!(df.instructions.iter().all(|i| i.heredocs.is_empty()));
    // Quoted or glued markers are not heredocs either.
    let df = ok("FROM a\nRUN echo '<<EOF' \"<<EOF\" cat<<EOF\n");
    assert!(df.instructions[1].heredocs.is_empty());
}

#[test]
fn onbuild_trigger_takes_heredocs() {
    let df = ok("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\n");
    let onbuild = &df.instructions[1];
    assert_eq!(onbuild.lines, lines(2, 4));
    assert_eq!(
        onbuild.heredocs,
        [heredoc("EOF", "echo hi\n", true, false, lines(3, 4))]
    );
    let Args::Onbuild(trigger) = &onbuild.args else {
        panic!("{:?}", onbuild.args);
    };
    assert_eq!(trigger.keyword, Keyword::Run);
    assert_eq!(trigger.heredocs, onbuild.heredocs);
    assert_eq!(dump(&df), "(from \"a\")\n(onbuild (run \"<<EOF\"))\n");
}

#[test]
fn unterminated_heredoc_names_its_line_and_delimiter() {
    let e = err("FROM a\n\nRUN <<EOF\necho hi\nEOF \n");
    assert_eq!(
        e.to_string(),
        "line 3: unterminated heredoc <<EOF: expected a line `EOF` to end it before the end of \
         the file"
    );
}

// --- directives ---

#[test]
fn escape_directive_switches_continuation_and_escapes() {
    let df = ok("# escape=`\n\nFROM windows\nRUN dir `\n  C:\\path\nENV A=b` c\n");
    assert_eq!(df.directives.escape, '`');
    assert_eq!(df.directives.escape_line, Some(1));
    assert_eq!(
        df.instructions[1].args,
        Args::Shell("dir   C:\\path".into())
    );
    assert_eq!(df.instructions[1].lines, lines(4, 5));
    assert_eq!(
        df.instructions[2].args,
        Args::Pairs(vec![KeyValue {
            key: "A".into(),
            value: Some("b` c".into()),
            separator: "="
        }])
    );
    assert_eq!(df.comments, []);
}

#[test]
fn syntax_and_check_directives_with_any_case_keys() {
    let df = ok("# Syntax = docker/dockerfile:1.7 \n#CHECK=skip=all\n# escape=\\\nFROM a\n");
    assert_eq!(
        df.directives.syntax,
        Some(Directive {
            value: "docker/dockerfile:1.7".into(),
            line: 1
        })
    );
    assert_eq!(
        df.directives.check,
        Some(Directive {
            value: "skip=all".into(),
            line: 2
        })
    );
    assert_eq!(df.directives.escape, '\\');
    assert_eq!(df.directives.escape_line, Some(3));
    assert_eq!(df.comments, []);
}

#[test]
fn directives_end_at_the_first_other_line() {
    // After an instruction, a blank line, an ordinary comment or an unknown directive, a
    // directive is just a comment.
    for (text, comment_line) in [
        ("FROM a\n# escape=`\n", 2),
        ("\n# escape=`\nFROM a\n", 2),
        ("# hello\n# escape=`\nFROM a\n", 2),
        ("# unknown=1\n# escape=`\nFROM a\n", 2),
    ] {
        let df = ok(text);
        assert_eq!(df.directives.escape, '\\', "{text:?}");
        assert_eq!(df.directives.escape_line, None, "{text:?}");
        assert!(
            df.comments.contains(&Comment {
                line: comment_line,
                text: "escape=`".into()
            }),
            "{text:?}: {:?}",
            df.comments
        );
    }
    let df = ok("# unknown=1\nFROM a\n");
    assert_eq!(
        df.comments,
        [Comment {
            line: 1,
            text: "unknown=1".into()
        }]
    );
}

#[test]
fn duplicate_or_invalid_directives_are_errors() {
    assert_eq!(
        err("# escape=`\n# ESCAPE=`\nFROM a\n").to_string(),
        "line 2: only one `escape` parser directive can be used; remove this one"
    );
    assert_eq!(err("# syntax=a\n# syntax=b\nFROM a\n").line, 2);
    assert_eq!(
        err("# escape=x\nFROM a\n").to_string(),
        "line 1: invalid escape character \"x\": `# escape=` takes `\\` or `` ` ``"
    );
}

// --- continuations and comments ---

#[test]
fn continuation_line_ranges_comments_and_blank_lines() {
    let text = "FROM a\n\nRUN apt-get update && \\\n    # a comment inside\n\n    apt-get install -y x \\  \n    y\n# after\nCMD z\n";
    let df = ok(text);
    let run = &df.instructions[1];
    assert_eq!(
        run.original,
        "RUN apt-get update &&     apt-get install -y x     y"
    );
    assert_eq!(run.lines, lines(3, 7));
    assert_eq!(df.instructions[2].lines, lines(9, 9));
    assert_eq!(
        df.comments,
        [
            Comment {
                line: 4,
                text: "a comment inside".into()
            },
            Comment {
                line: 8,
                text: "after".into()
            }
        ]
    );
    assert_eq!(df.warnings.len(), 1);
    assert_eq!(df.warnings[0].line, 7);
    assert!(
        df.warnings[0]
            .message
            .starts_with("empty continuation line"),
        "{}",
        df.warnings[0].message
    );
}

#[test]
fn line_ranges_span_blank_and_comment_lines_inside_continuations() {
    let text = concat!(
        "# Escape=\\\n",          // 1
        "\n\n",                   // 2, 3
        "FROM debian\n",          // 4
        "\n",                     // 5
        "# a note\n",             // 6
        "ENV HOME \\\n",          // 7
        "/root\n",                // 8
        "\n\n",                   // 9, 10
        "RUN make \\\n",          // 11
        "\t&& make install \\\n", // 12
        "\n",                     // 13
        "    # halfway\n",        // 14
        "    && make clean\n",    // 15
        "\n\n",                   // 16, 17
        "RUN a \\\n\n  b\n",      // 18-20
    );
    let df = ok(text);
    let spans: Vec<(usize, usize)> = df
        .instructions
        .iter()
        .map(|i| (i.lines.start, i.lines.end))
        .collect();
    assert_eq!(spans, [(4, 4), (7, 8), (11, 15), (18, 20)]);
    assert_eq!(df.directives.escape_line, Some(1));
    assert_eq!(
        df.instructions[2].original,
        "RUN make \t&& make install     && make clean"
    );
    // One warning per instruction with empty continuation lines, at its last line.
    let warned: Vec<usize> = df.warnings.iter().map(|w| w.line).collect();
    assert_eq!(warned, [15, 20]);
    assert_eq!(
        df.comments,
        [
            Comment {
                line: 6,
                text: "a note".into()
            },
            Comment {
                line: 14,
                text: "halfway".into()
            }
        ]
    );
}

#[test]
fn continuation_at_end_of_file() {
    let df = ok("FROM a\nRUN echo \\");
    assert_eq!(df.instructions[1].args, Args::Shell("echo".into()));
    assert_eq!(df.instructions[1].lines, lines(2, 2));
    let df = ok("FROM a\nRUN echo \\\n\n\n");
    assert_eq!(df.instructions[1].lines, lines(2, 4));
    assert_eq!(df.warnings.len(), 1);
}

#[test]
fn escaped_escape_does_not_continue() {
    let df = ok("FROM a\nENV C=x\\\\\nENV D=y\n");
    assert_eq!(df.instructions.len(), 3);
}

#[test]
fn comments_are_collected_with_lines() {
    let df = ok("# syntax=x\n# first\n  #indented  \n#\nFROM a # not a comment\n");
    assert_eq!(
        df.comments,
        [
            Comment {
                line: 2,
                text: "first".into()
            },
            Comment {
                line: 3,
                text: "indented".into()
            },
            Comment {
                line: 4,
                text: "".into()
            },
        ]
    );
    assert_eq!(
        df.instructions[0].args,
        Args::Words(vec![
            "a".into(),
            "#".into(),
            "not".into(),
            "a".into(),
            "comment".into()
        ])
    );
}

// --- shapes and errors ---

#[test]
fn argument_shapes() {
    let df = ok(concat!(
        "FROM --platform=$BUILDPLATFORM golang AS build\n",
        "ARG A B=1 C=\"x y\"\n",
        "USER app root\n",
        "HEALTHCHECK NONE\n",
        "HEALTHCHECK --interval=5s CMD [\"curl\", \"-f\"]\n",
        "FROBNICATE now\n",
        "cmd []\n",
    ));
    let i = &df.instructions;
    assert_eq!(i[0].flags, ["--platform=$BUILDPLATFORM"]);
    assert_eq!(
        i[0].args,
        Args::Words(vec!["golang".into(), "AS".into(), "build".into()])
    );
    assert_eq!(
        i[1].args,
        Args::Pairs(vec![
            KeyValue {
                key: "A".into(),
                value: None,
                separator: ""
            },
            KeyValue {
                key: "B".into(),
                value: Some("1".into()),
                separator: "="
            },
            KeyValue {
                key: "C".into(),
                value: Some("\"x y\"".into()),
                separator: "="
            },
        ])
    );
    assert_eq!(i[2].args, Args::Shell("app root".into()));
    assert_eq!(
        i[3].args,
        Args::Healthcheck {
            kind: "NONE".into(),
            command: Box::new(Args::Empty)
        }
    );
    assert_eq!(
        i[4].args,
        Args::Healthcheck {
            kind: "CMD".into(),
            command: Box::new(Args::Json(vec!["curl".into(), "-f".into()]))
        }
    );
    assert_eq!(i[5].keyword, Keyword::Unknown("frobnicate".into()));
    assert_eq!(i[5].keyword_as_written, "FROBNICATE");
    assert_eq!(i[6].keyword_as_written, "cmd");
    assert_eq!(i[6].args, Args::Json(vec![]));
    assert_eq!(
        dump(&df),
        concat!(
            "(from [\"--platform=$BUILDPLATFORM\"] \"golang\" \"AS\" \"build\")\n",
            "(arg \"A\" \"B=1\" \"C=\\\"x y\\\"\")\n",
            "(user \"app root\")\n",
            "(healthcheck \"NONE\")\n",
            "(healthcheck [\"--interval=5s\"] \"CMD\" \"curl\" \"-f\")\n",
            "(frobnicate \"\")\n",
            "(cmd)\n",
        )
    );
}

#[test]
fn errors_name_the_line_and_what_was_expected() {
    assert_eq!(
        err("FROM a\nRUN x\nLABEL a=b c\n").to_string(),
        "line 3: LABEL: can't find `=` in \"c\"; when one pair uses `=`, every word must be of the \
         form name=value"
    );
    assert_eq!(
        err("FROM a\n\nENV \\\n  ONLYKEY\n").to_string(),
        "line 3: ENV ONLYKEY has no value: write `ENV ONLYKEY=value` (or the legacy `ENV ONLYKEY value`)"
    );
    assert_eq!(
        err("FROM a\nONBUILD ONBUILD RUN x\n").to_string(),
        "line 2: chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed; remove it or give the \
         trigger another instruction"
    );
    assert_eq!(
        err("FROM a\nONBUILD from b\n").to_string(),
        "line 2: FROM isn't allowed as an ONBUILD trigger; remove it or give the trigger another \
         instruction"
    );
    assert_eq!(err("FROM a\nONBUILD MAINTAINER me\n").line, 2);
    assert_eq!(
        err("FROM a\nCOPY [\"a\", 1, \"b\"]\n").to_string(),
        "line 2: COPY: in the JSON array (exec) form every element must be a string, but element \
         2 is a number; quote it, or write the command in shell form"
    );
    assert_eq!(err("").line, 1);
    assert_eq!(err("\n\n# only\n\n").line, 4);
}

#[test]
fn invalid_json_falls_back_to_shell_form() {
    let df = ok("CMD ['a']\nRUN [\"a\" \nENTRYPOINT [\"a\"] b\n");
    assert_eq!(df.instructions[0].args, Args::Shell("['a']".into()));
    assert_eq!(df.instructions[1].args, Args::Shell("[\"a\"".into()));
    assert_eq!(df.instructions[2].args, Args::Shell("[\"a\"] b".into()));
}

// --- line endings and encodings ---

#[test]
fn crlf_reads_like_lf() {
    let lf = "# escape=\\\nFROM a\n# c\nRUN x \\\n  y\nCOPY <<EOF /f\nbody\nEOF\nCMD [\"z\"]\n";
    let crlf = lf.replace('\n', "\r\n");
    let (a, b) = (ok(lf), ok(&crlf));
    assert_eq!(dump(&a), dump(&b));
    assert_eq!(a.comments, b.comments);
    assert_eq!(a.directives, b.directives);
    let spans = |df: &berth_dockerfile::ast::Dockerfile| {
        df.instructions.iter().map(|i| i.lines).collect::<Vec<_>>()
    };
    assert_eq!(spans(&a), spans(&b));
    assert_eq!(b.instructions[1].original, "RUN x   y");
    // Heredoc bodies keep their line endings, as BuildKit copies them.
    assert_eq!(b.instructions[2].heredocs[0].content, "body\r\n");
}

#[test]
fn byte_order_mark_is_ignored() {
    let df = ok("\u{feff}# syntax=docker/dockerfile:1\nFROM a\n");
    assert_eq!(df.directives.syntax.map(|d| d.line), Some(1));
    assert_eq!(df.instructions[0].lines, lines(2, 2));
    let df = ok("\u{feff}FROM a\n");
    assert_eq!(df.instructions[0].keyword, Keyword::From);
}

// --- properties ---

/// Lines made of Dockerfile-ish tokens, so generated input reaches deep into the parser.
fn dockerfile_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "FROM",
        "RUN",
        "CMD",
        "COPY",
        "ADD",
        "ENV",
        "LABEL",
        "ARG",
        "HEALTHCHECK",
        "ONBUILD",
        "SHELL",
        "USER",
        "EXPOSE",
        "VOLUME",
        "NONE",
        "# escape=`",
        "# syntax=x",
        "# check=y",
        "#",
        "\\",
        "`",
        "<<EOF",
        "<<-EOF",
        "<<'EOF'",
        "<<\"E\"",
        "EOF",
        "\tEOF",
        "E",
        "--",
        "--a=b",
        "--x=\"y z\"",
        "[",
        "]",
        "[\"a\"",
        "\"",
        "'",
        ",",
        "a=b",
        "k=\"v w\"",
        "=",
        "$X",
        "${X:-y}",
        "${",
        "}",
        " ",
        "\t",
        "\r",
        "\u{feff}",
        "é",
        "1",
        "[]",
        "[\"a\", [1]]",
        "{}",
        "null",
    ]);
    let line = prop::collection::vec(token, 0..8).prop_map(|t| t.concat());
    prop::collection::vec(line, 0..12).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text).map(|df| dump(&df));
    }

    #[test]
    fn token_soup_never_panics_and_is_deterministic(text in dockerfile_soup()) {
        let first = parse(&text);
        prop_assert_eq!(&first, &parse(&text));
        match first {
            Ok(df) => {
                prop_assert!(!df.instructions.is_empty());
                let total = text.split('\n').count();
                for i in &df.instructions {
                    prop_assert!(1 <= i.lines.start && i.lines.start <= i.lines.end && i.lines.end <= total);
                }
                prop_assert_eq!(dump(&df), dump(&df));
            }
            Err(e) => {
                prop_assert!(e.line >= 1);
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}
