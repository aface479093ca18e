//! Cutting a message into tokens at white space, and noting which tokens
//! may hold a value, in one pass over its bytes.

/// The message's tokens, split at white space as `split_whitespace` does,
/// and for each whether it may hold a value (it has a digit, `/` or `@`;
/// only those go through the classifier). One pass over the bytes with a
/// table when the text is ASCII (nearly every log line); characters only
/// otherwise.
pub fn split_tokens<'m>(message: &'m str, out: &mut Vec<&'m str>, valued: &mut Vec<bool>) {
    let bytes = message.as_bytes();
    let mut seen = 0u8;
    let mut i = 0;
    loop {
        while i < bytes.len() && BYTE_CLASS[usize::from(bytes[i])] & SPACE != 0 {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let start = i;
        let mut flags = 0u8;
        while i < bytes.len() {
            let class = BYTE_CLASS[usize::from(bytes[i])];
            if class & SPACE != 0 {
                break;
            }
            flags |= class;
            i += 1;
        }
        out.push(&message[start..i]);
        valued.push(flags & VALUE != 0);
        seen |= flags;
    }
    if seen & NON_ASCII != 0 {
        // Unicode white space may split tokens too: do it the slow way.
        out.clear();
        valued.clear();
        out.extend(message.split_whitespace());
        valued.resize(out.len(), true);
    }
}

/// Bits of [`BYTE_CLASS`].
const SPACE: u8 = 1;
const VALUE: u8 = 2;
const NON_ASCII: u8 = 4;

/// Each byte's class: white space as `char::is_whitespace` has it in ASCII
/// (space, \t, \n, \x0b, \x0c, \r), a byte that may start a value (digit,
/// `/`, `@`), or not ASCII.
static BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = match b {
            b' ' | b'\t'..=b'\r' => SPACE,
            b'0'..=b'9' | b'/' | b'@' => VALUE,
            0x80.. => NON_ASCII,
            _ => 0,
        };
        i += 1;
    }
    table
};

/// An empty vector of borrowed texts that keeps `v`'s allocation, whatever
/// the lifetime of what it held: collecting an emptied `into_iter` back
/// into a vector of a type of the same size reuses the buffer in place,
/// so a per-line token list is allocated once, not once per line.
pub fn recycle<'b>(mut v: Vec<&str>) -> Vec<&'b str> {
    v.clear();
    v.into_iter()
        .map(|_| -> &'b str { unreachable!() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_like_split_whitespace() {
        for text in [
            "a b\tc\x0bd\x0ce\rf  g ",
            "  leading and trailing  ",
            "",
            "   ",
            "caf\u{e9} \u{a0}nbsp\u{a0}split x",
            "one",
        ] {
            let (mut out, mut valued) = (Vec::new(), Vec::new());
            split_tokens(text, &mut out, &mut valued);
            let want: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(out, want, "{text:?}");
            assert_eq!(valued.len(), out.len());
        }
    }

    #[test]
    fn only_tokens_with_a_digit_slash_or_at_may_hold_values() {
        let (mut out, mut valued) = (Vec::new(), Vec::new());
        split_tokens("user alice from 10.0.0.1 via /x a@b", &mut out, &mut valued);
        assert_eq!(valued, [false, false, false, true, false, true, true]);
    }

    #[test]
    fn recycled_vectors_keep_their_buffer() {
        let text = String::from("a b c");
        let mut v: Vec<&str> = Vec::with_capacity(64);
        v.extend(text.split(' '));
        let again: Vec<&'static str> = recycle(v);
        assert!(again.is_empty());
        assert!(again.capacity() >= 64);
    }
}
