//! Quoting the command for the remote shell. ssh joins its arguments with
//! spaces and hands the string to the remote user's shell, so every argument
//! is single-quoted: `;`, `$()`, quotes and newlines arrive as data and never
//! as shell syntax.

/// One argument as a POSIX shell word.
pub fn word(arg: &str) -> String {
    let safe = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if safe {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// An argument vector as one remote shell command line.
pub fn command_line(args: &[String]) -> String {
    args.iter().map(|a| word(a)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_syntax_is_quoted_and_plain_words_are_not() {
        assert_eq!(word("uptime"), "uptime");
        assert_eq!(word("/var/log/syslog"), "/var/log/syslog");
        assert_eq!(word(""), "''");
        assert_eq!(word("a;b"), "'a;b'");
        assert_eq!(word("$(id)"), "'$(id)'");
        assert_eq!(word("it's"), r"'it'\''s'");
        assert_eq!(word("a\nb"), "'a\nb'");
    }
}
