//! Human-readable text that several tools put in messages: sizes as
//! `free -h`/`df -h` write them, long strings cut without splitting a
//! character, and attacker-chosen text made safe to show on a terminal.

use std::borrow::Cow;

/// The English plural ending for `n` things: `""` for one, else `"s"`
/// ("1 alert", "0 alerts", "3 alerts").
pub fn plural(n: impl TryInto<u64>) -> &'static str {
    match n.try_into() {
        Ok(1) => "",
        _ => "s",
    }
}

/// `512 B`, `1.5 KiB`, `75.8 GiB`: binary units, one decimal.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Cuts `text` to at most `max` characters (`max` ≥ 1), the last of them
/// `…` when it was cut: for limits counted in characters, a terminal's
/// width or a chat message's.
pub fn clip_chars(text: &mut String, max: usize) {
    if let Some((cut, _)) = text.char_indices().nth(max.saturating_sub(1))
        && text[cut..].chars().nth(1).is_some()
    {
        text.truncate(cut);
        text.push('…');
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the
/// cut with `…`: for command lines and other attacker-sized strings that
/// must not bloat every record.
pub fn clip(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push('…');
}

/// Whether `c` must not reach a terminal raw: controls (C0, DEL, C1),
/// line and paragraph separators, Unicode format characters (bidi embeddings,
/// overrides and isolates, zero-width spaces and joiners, the byte order
/// mark, tag characters), other default-ignorable and blank-looking
/// characters (Hangul fillers, variation selectors, spaces other than
/// U+0020), private-use characters and noncharacters. Each of these can make
/// one name display as another (`\u{202e}` reverses what follows) or hide
/// part of it. Characters Rust's own tables call unprintable (unassigned
/// code points, say) are included, so a terminal's newer font cannot draw
/// them as something else.
pub fn is_unsafe_to_show(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_control();
    }
    let u = u32::from(c);
    unprintable(c)
        || matches!(
            u,
            0x00A0 // no-break space
            | 0x00AD // soft hyphen
            | 0x034F // combining grapheme joiner
            | 0x0600..=0x0605 // Arabic number signs (format)
            | 0x061C // Arabic letter mark
            | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
            | 0x115F..=0x1160 // Hangul fillers
            | 0x1680 // Ogham space mark
            | 0x17B4..=0x17B5 // Khmer inherent vowels (invisible)
            | 0x180B..=0x180F // Mongolian variation selectors, vowel separator
            | 0x2000..=0x200F // spaces, zero-width space/joiners, LRM, RLM
            | 0x2028..=0x202F // line/paragraph separators, bidi embeddings and overrides, narrow no-break space
            | 0x205F..=0x206F // medium space, word joiner, invisible operators, bidi isolates, deprecated format
            | 0x2800 // braille blank
            | 0x3000 // ideographic space
            | 0x3164 // Hangul filler
            | 0xE000..=0xF8FF // private use
            | 0xFDD0..=0xFDEF // noncharacters
            | 0xFE00..=0xFE0F // variation selectors
            | 0xFEFF // zero-width no-break space, byte order mark
            | 0xFFA0 // halfwidth Hangul filler
            | 0xFFF0..=0xFFFB // unassigned specials, interlinear annotation
            | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF // tags, variation selectors supplement
            | 0xF0000.. // supplementary private use
        )
        || u & 0xFFFE == 0xFFFE // U+xFFFE and U+xFFFF noncharacters
}

/// Rust's `escape_debug` escapes a character that is not printable, and a
/// grapheme extender (a combining mark) only at the start of a string: so
/// after a leading `a` it escapes exactly the unprintable ones.
fn unprintable(c: char) -> bool {
    let mut pair = String::with_capacity(5);
    pair.push('a');
    pair.push(c);
    pair.escape_debug().nth(1) == Some('\\')
}

/// `text` as a terminal may show it: unchanged when every character is safe
/// to show, else with each unsafe one (see [`is_unsafe_to_show`]) written as
/// a Rust-style escape (`\n`, `\t`, `\r`, `\u{202e}`), and backslashes
/// doubled so the escapes cannot be confused with the text, as `ls -b`
/// does. A combining mark at the start is escaped too, since it would
/// combine with whatever the terminal shows before it.
pub fn visible(text: &str) -> Cow<'_, str> {
    let starts_combining = text
        .chars()
        .next()
        .is_some_and(|c| !c.is_ascii() && c.escape_debug().next() == Some('\\'));
    if !starts_combining && !text.chars().any(is_unsafe_to_show) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for (i, c) in text.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe_to_show(c) || (i == 0 && starts_combining) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_is_empty_for_one_only() {
        assert_eq!(plural(1u32), "");
        assert_eq!(
            (plural(0usize), plural(2u64), plural(1_000_000u64)),
            ("s", "s", "s")
        );
    }

    #[test]
    fn clip_chars_counts_characters_and_the_mark() {
        let clipped = |text: &str, max| {
            let mut text = text.to_string();
            clip_chars(&mut text, max);
            text
        };
        assert_eq!(clipped("héllo", 5), "héllo");
        assert_eq!(clipped("héllo!", 5), "héll…");
        assert_eq!(clipped("ééééé", 1), "…");
        assert_eq!(clipped("", 3), "");
    }

    #[test]
    fn sizes_in_binary_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(81_341_390_848), "75.8 GiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn clips_on_a_character_boundary() {
        let mut short = "abc".to_string();
        clip(&mut short, 3);
        assert_eq!(short, "abc");
        let mut wide = "aé€".to_string(); // 1 + 2 + 3 bytes
        clip(&mut wide, 4);
        assert_eq!(wide, "aé…");
        let mut ascii = "x".repeat(10);
        clip(&mut ascii, 4);
        assert_eq!(ascii, "xxxx…");
    }

    #[test]
    fn spoofing_characters_are_shown_escaped() {
        // U+202E makes "exporter_node" display as "edon_retropxe": a name
        // that reads as another.
        assert_eq!(visible("ssh\u{202e}dtcartxe"), "ssh\\u{202e}dtcartxe");
        for c in [
            '\u{202a}',
            '\u{202b}',
            '\u{202c}',
            '\u{202d}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{2028}',
            '\u{2029}',
            '\u{200b}',
            '\u{200d}',
            '\u{feff}',
            '\u{85}',
            '\u{9b}',
            '\u{7f}',
            '\u{0}',
            '\u{1b}',
            '\u{e0041}',
            '\u{a0}',
            '\u{3164}',
        ] {
            let shown = visible(&format!("a{c}b")).into_owned();
            assert_eq!(shown, format!("a\\u{{{:x}}}b", u32::from(c)));
            assert!(shown.chars().all(|c| c.is_ascii_graphic()), "{shown:?}");
        }
        assert_eq!(visible("a\nb\tc\\d"), "a\\nb\\tc\\\\d");
        assert_eq!(visible("\u{301}x"), "\\u{301}x");
    }

    #[test]
    fn ordinary_text_is_left_alone() {
        for text in [
            "sshd",
            "tcp 0.0.0.0:22",
            "C:\\x2d",
            "Grüße, 東京 ✓",
            "é",
            "e\u{301}",
        ] {
            assert!(matches!(visible(text), Cow::Borrowed(_)), "{text}");
        }
    }
}
