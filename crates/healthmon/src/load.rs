//! Load averages from `/proc/loadavg`: the 1, 5 and 15 minute averages of
//! threads runnable or in uninterruptible sleep, as `uptime` prints them.

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Load {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

impl Load {
    pub fn parse(text: &str) -> Result<Load, String> {
        let mut fields = text.split_ascii_whitespace().map(str::parse::<f64>);
        match (fields.next(), fields.next(), fields.next()) {
            (Some(Ok(one)), Some(Ok(five)), Some(Ok(fifteen))) => Ok(Load { one, five, fifteen }),
            _ => Err(format!("unreadable load averages {:?}", text.trim())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_averages() {
        assert_eq!(
            Load::parse("1.02 1.27 0.16 1/79 16758\n"),
            Ok(Load {
                one: 1.02,
                five: 1.27,
                fifteen: 0.16
            })
        );
        assert!(Load::parse("1.0 x\n").is_err());
    }
}
