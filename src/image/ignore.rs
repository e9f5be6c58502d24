//! `.dockerignore` as Docker reads it: patterns relative to the context root, `!` exceptions,
//! the last matching pattern wins, and a pattern that matches a directory covers all below it.

use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};

use super::ImageError;

#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    matcher: GlobMatcher,
    exception: bool,
}

impl DockerIgnore {
    /// Reads `<context>/.dockerignore`; no file means nothing is ignored.
    pub fn read(context: &Path) -> Result<DockerIgnore, ImageError> {
        let path = context.join(".dockerignore");
        match std::fs::read_to_string(&path) {
            Ok(text) => DockerIgnore::parse(&text, &path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Ok(DockerIgnore::default())
            }
            Err(source) => Err(ImageError::ContextIo { path, source }),
        }
    }

    /// `origin` only names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<DockerIgnore, ImageError> {
        let mut rules = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let pattern = clean(pattern);
            if pattern.is_empty() {
                continue;
            }
            let matcher = GlobBuilder::new(&escape_braces(&pattern))
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|source| ImageError::DockerIgnore {
                    path: origin.to_path_buf(),
                    line: index + 1,
                    pattern: line.to_string(),
                    source,
                })?
                .compile_matcher();
            rules.push(Rule { matcher, exception });
        }
        Ok(DockerIgnore { rules })
    }

    /// Whether `path` (relative to the context, `/`-separated) stays out of the build context.
    pub fn is_excluded(&self, path: &str) -> bool {
        let mut excluded = false;
        for rule in &self.rules {
            if ancestors_and_self(path).any(|candidate| rule.matcher.is_match(candidate)) {
                excluded = !rule.exception;
            }
        }
        excluded
    }

    /// With exceptions present an excluded directory may still hold files to send, so it must be
    /// walked; without them it can be skipped whole (think `target/`).
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|rule| rule.exception)
    }
}

/// "a/b/c" → "a", "a/b", "a/b/c".
fn ancestors_and_self(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(|(at, _)| &path[..at])
        .chain(std::iter::once(path))
}

/// What Go's `filepath.Clean` plus Docker's leading-slash strip do to a pattern.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// Docker patterns have no `{a,b}` alternation; globset has, so braces are made literal.
fn escape_braces(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut in_class = false;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(next) = chars.next() {
                    out.push(next);
                }
                continue;
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' | '}' if !in_class => out.push('\\'),
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> DockerIgnore {
        DockerIgnore::parse(text, Path::new(".dockerignore")).expect("valid patterns")
    }

    #[test]
    fn patterns_match_like_docker() {
        // (patterns, path, excluded)
        let table: &[(&str, &str, bool)] = &[
            ("", "anything", false),
            ("# just a comment\n\n", "anything", false),
            ("target", "target", true),
            ("target", "target/debug/thidctl", true),
            ("target", "src/target", false),
            ("/target", "target/x", true),
            ("./target/", "target/x", true),
            ("*.md", "README.md", true),
            ("*.md", "docs/guide.md", false),
            ("**/*.md", "docs/guide.md", true),
            ("**/*.md", "README.md", true),
            ("**/target", "a/b/target/c", true),
            ("docs/**", "docs/a/b.txt", true),
            ("docs/**", "docs", false),
            ("a/*/c", "a/b/c/d", true),
            ("a/*/c", "a/b/x/c", false),
            ("file?.txt", "file1.txt", true),
            ("file?.txt", "file10.txt", false),
            ("file[0-9].txt", "file7.txt", true),
            ("file[^0-9].txt", "file7.txt", false),
            ("file[!0-9].txt", "filex.txt", true),
            ("*", "anything/below", true),
            ("*\n!keep.txt", "keep.txt", false),
            ("*\n!keep.txt", "other.txt", true),
            ("logs\n!logs/keep.log", "logs/keep.log", false),
            ("logs\n!logs/keep.log", "logs/drop.log", true),
            ("!logs/keep.log\nlogs", "logs/keep.log", true),
            ("*.bin\n!big.bin\nbig.bin", "big.bin", true),
            ("**/*.pyc\n!vendor/**", "vendor/x/y.pyc", false),
            ("{a,b}", "a", false),
            ("{a,b}", "{a,b}", true),
            ("  spaced  ", "spaced", true),
            ("a/../b", "b", true),
        ];
        for (patterns, path, excluded) in table {
            assert_eq!(
                ignore(patterns).is_excluded(path),
                *excluded,
                "patterns {patterns:?} on {path:?}"
            );
        }
    }

    #[test]
    fn exceptions_are_noticed() {
        assert!(!ignore("target\n*.log").has_exceptions());
        assert!(ignore("target\n!target/keep").has_exceptions());
    }

    #[test]
    fn a_bad_pattern_names_file_and_line() {
        let error =
            DockerIgnore::parse("ok\n[unclosed", Path::new("ctx/.dockerignore")).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("ctx/.dockerignore line 2"), "{message}");
        assert!(message.contains("[unclosed"), "{message}");
    }
}
