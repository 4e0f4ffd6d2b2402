//! Durations on every lab's command line: `--ttl 15m`, `--refresh-ttl
//! 200ms`, `--jwks-refetch-interval 10s`.

use std::time::Duration;

/// Parses a duration such as `500ms`, `90s`, `15m`, `1h`, `7d` or `1h 30m`
/// (humantime's syntax), or a bare number of seconds. Zero is refused: a
/// token that lives 0 s, or a refetch every 0 s, is always a mistake.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let duration = if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse()
            .map(Duration::from_secs)
            .map_err(|_| format!("`{text}` is too many seconds"))?
    } else {
        humantime::parse_duration(text)
            .map_err(|e| format!("`{text}` is not a duration like 90s, 15m, 1h or 7d ({e})"))?
    };
    if duration.is_zero() {
        return Err("a duration must be longer than 0 s".to_owned());
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_bare_seconds_and_refuses_zero_and_junk() {
        assert_eq!(parse("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("7d"), Ok(Duration::from_secs(7 * 24 * 3600)));
        assert_eq!(parse(" 90 "), Ok(Duration::from_secs(90)));
        assert_eq!(
            parse(&u64::MAX.to_string()),
            Ok(Duration::from_secs(u64::MAX))
        );
        for bad in [
            "0",
            "0s",
            "",
            "ten",
            "5 parsecs",
            "-5s",
            "99999999999999999999",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
