//! Human-readable text that several tools put in messages: sizes as
//! `free -h`/`df -h` write them, and long strings cut without splitting a
//! character.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
