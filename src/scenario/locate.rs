//! Where a TOML error is, in the user's words: the line and column of a byte offset, and the
//! table or key that line is about.
//!
//! The TOML reader reports a byte span and a bare message (``unknown field `foo` ``,
//! "duplicate key"). [`toml_error`] turns these into a located [`ScenarioError`] that names the
//! thing — ``duplicate table `[content]` (first at line 2)``, ``unknown table `[foo]`,
//! expected one of …``, ``` `demand.foo`: unknown field `foo` ``` — where the line alone would
//! have named the table above it. It reads the source line by line, which is enough for
//! messages: a line is a `[table]` or `[[array]]` header, a `key = value` line, or something
//! else (a continuation of a multi-line value, named after the table it is in).

use std::ops::Range;

use crate::error::{cut_quoted, echo, ScenarioError};

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..src.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A TOML syntax or type error as a located [`ScenarioError`] of `file` (whose text is `src`),
/// naming the table or key the error is about. Long quoted values in the reader's message are
/// cut (see [`echo`]).
pub fn toml_error(file: &str, src: &str, e: &toml::de::Error) -> ScenarioError {
    let msg = cut_quoted(e.message().trim());
    match e.span() {
        Some(span) => {
            let (line, column) = line_col(src, span.start);
            ScenarioError::At {
                file: file.to_string(),
                line,
                column,
                message: describe(src, span, &msg),
            }
        }
        None => ScenarioError::Whole {
            file: file.to_string(),
            message: msg.into_owned(),
        },
    }
}

/// The message for a reader's `msg` at `span` of `src`, starting with what it is about.
fn describe(src: &str, span: Range<usize>, msg: &str) -> String {
    let at = src.floor_char_boundary(span.start.min(src.len()));
    if let Some(rest) = msg.strip_prefix("missing field `") {
        // A missing key has no line of its own: the span is its table's header, or empty for
        // the top level.
        let field = rest.trim_end_matches('`');
        let table = match line_kind(src, at) {
            (_, Line::Header(h)) if !span.is_empty() => Some(h.path(h.parts.len())),
            _ => None,
        };
        return match table {
            Some(t) => format!("`{}` is missing (required)", echo(&format!("{t}.{field}"))),
            None => format!("`{field}` is missing (required)"),
        };
    }
    if span.is_empty() {
        // Not in the text: a key put into the top level by a sweep.
        return match unknown_field(msg) {
            Some((field, _)) => format!("`{}`: {msg}", echo(field)),
            None => msg.to_string(),
        };
    }
    let (line, kind) = line_kind(src, at);
    match kind {
        Line::Header(h) => match h.part_at(at) {
            Some(i) => {
                let shown = echo(&h.shown(i + 1)).into_owned();
                if msg == "duplicate key" {
                    let path = h.names(i + 1);
                    let first = first_definition(src, 0..line.start, &path);
                    format!("duplicate table `{shown}`{}", first_at(first))
                } else if let Some((_, rest)) =
                    unknown_field(msg).filter(|(f, _)| *f == h.parts[i].0)
                {
                    format!("unknown table `{shown}`{rest}")
                } else {
                    format!("`{}`: {msg}", echo(&h.path(i + 1)))
                }
            }
            // The span is the table itself (a key a sweep put into it): name the key.
            None => match unknown_field(msg) {
                Some((field, _)) => {
                    let path = format!("{}.{field}", h.path(h.parts.len()));
                    format!("`{}`: {msg}", echo(&path))
                }
                None => format!("`{}`: {msg}", echo(&h.path(h.parts.len()))),
            },
        },
        Line::Key(parts) => {
            let (table_start, table) = table_before(src, line.start);
            // The part the reader points at (a dotted key may be duplicated in its middle).
            let hit = parts.iter().position(|(_, r)| r.contains(&at));
            let mut path = table;
            let upto = hit.map_or(parts.len(), |i| i + 1);
            path.extend(parts[..upto].iter().map(|(n, _)| n.clone()));
            let shown = echo(&path.join(".")).into_owned();
            if msg == "duplicate key" {
                // A table's keys follow its header: the first one is between them.
                let first = first_definition(src, table_start..line.start, &path);
                format!("duplicate key `{shown}`{}", first_at(first))
            } else {
                format!("`{shown}`: {msg}")
            }
        }
        Line::Other => match table_before(src, line.start) {
            (_, t) if !t.is_empty() => format!("`{}`: {msg}", echo(&t.join("."))),
            _ => msg.to_string(),
        },
    }
}

/// " (first at line N)", or nothing when the first definition was not found.
fn first_at(line: Option<usize>) -> String {
    line.map_or_else(String::new, |n| format!(" (first at line {n})"))
}

/// `("foo", ", expected one of …")` for the reader's "unknown field `foo`, expected one of …".
fn unknown_field(msg: &str) -> Option<(&str, &str)> {
    let rest = msg.strip_prefix("unknown field `")?;
    let end = rest.find('`')?;
    Some((&rest[..end], &rest[end + 1..]))
}

/// The first line (1-based) within `scan` of `src` that defines `path`: a header naming it, or
/// a key under which it sits (`content.size = 1` defines `content`). The scan starts at the top
/// level or at a header.
fn first_definition(src: &str, scan: Range<usize>, path: &[String]) -> Option<usize> {
    let mut table: Vec<String> = Vec::new();
    let mut start = scan.start;
    for line in src[scan].split_inclusive('\n') {
        let here = start;
        start += line.len();
        match classify(line, here) {
            Line::Header(h) => {
                let names = h.names(h.parts.len());
                if names == path {
                    return Some(line_col(src, here).0);
                }
                table = names;
            }
            Line::Key(parts) => {
                let mut full = table.clone();
                full.extend(parts.into_iter().map(|(n, _)| n));
                if full.starts_with(path) || path.starts_with(&full) {
                    return Some(line_col(src, here).0);
                }
            }
            Line::Other => {}
        }
    }
    None
}

/// The span of the header line `[name]` (or `[name.…]`) in `src`, if the file has one: where a
/// table that does not apply is reported.
pub fn header_span(src: &str, name: &str) -> Option<Range<usize>> {
    let mut start = 0;
    for line in src.split_inclusive('\n') {
        if let Line::Header(h) = classify(line, start) {
            if h.parts.first().is_some_and(|(n, _)| n == name) {
                return Some(start..start + line.trim_end().len());
            }
        }
        start += line.len();
    }
    None
}

/// What a line is.
#[derive(Debug, PartialEq)]
enum Line {
    /// `[a.b]` or `[[a.b]]`.
    Header(Header),
    /// `a.b = …`: the key's dotted parts and their byte ranges in the source.
    Key(Vec<(String, Range<usize>)>),
    /// Anything else.
    Other,
}

/// A table header.
#[derive(Debug, PartialEq)]
struct Header {
    /// `[[…]]`.
    array: bool,
    /// Each dotted part (quotes removed) and its byte range in the source.
    parts: Vec<(String, Range<usize>)>,
}

impl Header {
    /// The first `n` parts.
    fn names(&self, n: usize) -> Vec<String> {
        self.parts[..n].iter().map(|(p, _)| p.clone()).collect()
    }

    /// The first `n` parts, dotted.
    fn path(&self, n: usize) -> String {
        self.names(n).join(".")
    }

    /// The first `n` parts as a header: `[a.b]`, or `[[a.b]]` for the whole array header.
    fn shown(&self, n: usize) -> String {
        if self.array && n == self.parts.len() {
            format!("[[{}]]", self.path(n))
        } else {
            format!("[{}]", self.path(n))
        }
    }

    /// The part the byte `offset` is in.
    fn part_at(&self, offset: usize) -> Option<usize> {
        self.parts.iter().position(|(_, r)| r.contains(&offset))
    }
}

/// The byte range of the line holding `offset` (without its newline), and what it is.
fn line_kind(src: &str, offset: usize) -> (Range<usize>, Line) {
    let start = src[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = src[offset..].find('\n').map_or(src.len(), |i| offset + i);
    (start..end, classify(&src[start..end], start))
}

/// The nearest header above the line starting at `line_start`: where it starts and its name
/// (`(0, [])` for the top level).
fn table_before(src: &str, line_start: usize) -> (usize, Vec<String>) {
    let mut end = line_start;
    while end > 0 {
        // The line ending at `end` (its newline included; `\r\n` is trimmed by `classify`).
        let start = src[..end - 1].rfind('\n').map_or(0, |i| i + 1);
        if let Line::Header(h) = classify(&src[start..end], start) {
            return (start, h.names(h.parts.len()));
        }
        end = start;
    }
    (0, Vec::new())
}

/// Classify one line, which starts at byte `start` of the source.
fn classify(line: &str, start: usize) -> Line {
    let body = line.trim_end_matches(['\n', '\r']);
    let lead = body.len() - body.trim_start().len();
    let rest = &body[lead..];
    if rest.starts_with('[') {
        let open = if rest.starts_with("[[") { 2 } else { 1 };
        let inner = &rest[open..];
        let close = find_unquoted(inner, ']').unwrap_or(inner.len());
        let parts = split_dotted(&inner[..close], start + lead + open);
        return if parts.is_empty() {
            Line::Other
        } else {
            Line::Header(Header {
                array: open == 2,
                parts,
            })
        };
    }
    if rest.is_empty() || rest.starts_with('#') {
        return Line::Other;
    }
    match find_unquoted(rest, '=') {
        Some(eq) => {
            let parts = split_dotted(&rest[..eq], start + lead);
            if parts.is_empty() {
                Line::Other
            } else {
                Line::Key(parts)
            }
        }
        None => Line::Other,
    }
}

/// The first `c` outside quotes.
fn find_unquoted(s: &str, c: char) -> Option<usize> {
    let mut quote = None;
    let mut escaped = false;
    for (i, ch) in s.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if ch == '\\' => escaped = true,
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None if ch == '"' || ch == '\'' => quote = Some(ch),
            None if ch == c => return Some(i),
            None => {}
        }
    }
    None
}

/// The dotted parts of a key (`a."b.c" . d`), quotes removed, each with its byte range
/// (`base` is the byte offset of `s` in the source). Empty if any part is empty.
fn split_dotted(s: &str, base: usize) -> Vec<(String, Range<usize>)> {
    let mut parts = Vec::new();
    let mut from = 0;
    loop {
        let end = find_unquoted(&s[from..], '.').map_or(s.len(), |i| from + i);
        let raw = &s[from..end];
        let text = raw.trim();
        if text.is_empty() {
            return Vec::new();
        }
        let at = base + from + (raw.len() - raw.trim_start().len());
        let name = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .or_else(|| text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')))
            .unwrap_or(text);
        parts.push((name.to_string(), at..at + text.len()));
        if end == s.len() {
            return parts;
        }
        from = end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let s = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(s, 0), (1, 1));
        assert_eq!(line_col(s, 6), (2, 1));
        assert_eq!(line_col(s, 12), (2, 6));
    }

    /// The message for `msg` at the first `needle` of `src`.
    fn at(src: &str, needle: &str, msg: &str) -> String {
        let off = src.find(needle).expect("present");
        describe(src, off..off + needle.len(), msg)
    }

    #[test]
    fn a_value_is_named_by_its_table_and_key() {
        let s = "name = \"x\"\n[swarm]\nefficiency = \"high\"\n";
        assert_eq!(at(s, "\"high\"", "m"), "`swarm.efficiency`: m");
        assert_eq!(at(s, "\"x\"", "m"), "`name`: m");
    }

    #[test]
    fn a_header_is_named_by_itself_not_the_table_above() {
        let s = "[content]\nsize = 1\n[peers . \"cost\"]   # private cost\npower = 1\n";
        assert_eq!(at(s, "\"cost\"", "m"), "`peers.cost`: m");
        assert_eq!(at(s, "peers", "m"), "`peers`: m");
        assert_eq!(at(s, "[peers", "m"), "`peers.cost`: m");
        assert_eq!(at(s, "power", "m"), "`peers.cost.power`: m");
    }

    #[test]
    fn duplicates_name_the_table_or_key_and_where_it_was_first() {
        let s = "name = \"x\"\n[content]\nsize = 1\n[demand]\nrate = 1\nrate = 2\n[content]\n";
        let dup = s.rfind("content").expect("present");
        assert_eq!(
            describe(s, dup..dup + 7, "duplicate key"),
            "duplicate table `[content]` (first at line 2)"
        );
        let dup = s.rfind("rate").expect("present");
        assert_eq!(
            describe(s, dup..dup + 4, "duplicate key"),
            "duplicate key `demand.rate` (first at line 5)"
        );
        // Keys of another element of an array of tables are not the first definition.
        let s = "[[isp]]\nname = \"a\"\n[[isp]]\nname = \"b\"\nname = \"c\"\n";
        let dup = s.rfind("name").expect("present");
        assert_eq!(
            describe(s, dup..dup + 4, "duplicate key"),
            "duplicate key `isp.name` (first at line 4)"
        );
        // A table first made by a dotted key.
        let s = "content.size = 1\n[content]\n";
        let dup = s.rfind("content").expect("present");
        assert_eq!(
            describe(s, dup..dup + 7, "duplicate key"),
            "duplicate table `[content]` (first at line 1)"
        );
    }

    #[test]
    fn unknown_tables_are_named_as_tables() {
        let s = "name = \"x\"\n[server]\ncapacity = 1\n[foo.bar]\n[[baz]]\n";
        let msg = "unknown field `foo`, expected one of `name`, `server`";
        assert_eq!(
            at(s, "foo", msg),
            "unknown table `[foo]`, expected one of `name`, `server`"
        );
        let msg = "unknown field `baz`, expected `name`";
        assert_eq!(
            at(s, "baz", msg),
            "unknown table `[[baz]]`, expected `name`"
        );
        // A key put into `[server]` (by a sweep) has the table's span: it is named with it.
        let msg = "unknown field `cap`, expected `capacity`";
        assert_eq!(
            at(s, "[server]", msg),
            "`server.cap`: unknown field `cap`, expected `capacity`"
        );
        // The top level's span is empty.
        assert_eq!(
            describe(s, 0..0, "unknown field `qux`, expected `name`"),
            "`qux`: unknown field `qux`, expected `name`"
        );
        assert_eq!(
            describe(s, 0..0, "missing field `content`"),
            "`content` is missing (required)"
        );
    }

    #[test]
    fn headers_and_keys_are_read_with_quotes_and_comments() {
        assert_eq!(
            classify("[[ isp ]] # one ISP", 10),
            Line::Header(Header {
                array: true,
                parts: vec![("isp".into(), 13..16)],
            })
        );
        assert_eq!(
            classify("  a.\"b=c\" = 1", 0),
            Line::Key(vec![("a".into(), 2..3), ("b=c".into(), 4..9)])
        );
        assert_eq!(classify("# [not] = a header", 0), Line::Other);
        assert_eq!(classify("  \"x\",", 0), Line::Other);
    }

    #[test]
    fn windows_line_ends_find_the_same_lines() {
        let s = "name = \"x\"\r\n[content]\r\nsize = 1\r\n[demand]\r\nrate = 1\r\nrate = 2\r\n";
        let dup = s.rfind("rate").expect("present");
        assert_eq!(
            describe(s, dup..dup + 4, "duplicate key"),
            "duplicate key `demand.rate` (first at line 5)"
        );
        assert_eq!(at(s, "size", "m"), "`content.size`: m");
    }

    #[test]
    fn header_span_ignores_comments_after_the_header() {
        let s = "name = \"x\"\n[demand]  # who comes\nrate = 1\n";
        assert_eq!(header_span(s, "demand"), Some(11..32));
        assert_eq!(header_span(s, "rate"), None);
    }
}
