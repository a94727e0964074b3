//! Movie URLs. A movie URL is shown to every member and opened by their players, so only
//! what a player should fetch is accepted: absolute `http`/`https` URLs with a host and
//! without credentials (`https://user:pass@host/` would show a password to the whole room,
//! and `https://trusted.example@evil.example/` is the classic way to disguise a host).
//! `javascript:`, `data:`, `file:`, `blob:` and every other scheme are refused.
//!
//! The stored value is the WHATWG serialization the `url` crate produces, not the text the
//! client sent: scheme and host lowercased, default port dropped, `..` resolved, spaces,
//! controls and non-ASCII in the path percent-encoded, international hosts in punycode.
//! So what every member sees is what the browser would fetch, with nothing invisible or
//! direction-changing left in it, and one movie has one spelling.

use crate::{Error, Result};

/// Validate and normalize a movie URL; at most `max` bytes, before and after normalization.
pub fn movie_url(s: &str, max: usize) -> Result<String> {
    let s = s.trim();
    if s.is_empty() {
        return Err(Error::invalid("url", "must not be empty"));
    }
    if s.len() > max {
        return Err(Error::invalid(
            "url",
            format!("must be at most {max} bytes"),
        ));
    }
    // The URL parser silently drops tabs and newlines anywhere (`java\tscript:`); refuse
    // them instead, like every other control.
    if s.chars().any(char::is_control) {
        return Err(Error::invalid("url", "must not contain control characters"));
    }
    let parsed = url::Url::parse(s).map_err(|e| Error::invalid("url", e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::invalid("url", "must be an http or https URL"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid("url", "must name a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Error::invalid(
            "url",
            "must not contain a user name or password",
        ));
    }
    let normalized = String::from(parsed);
    if normalized.len() > max {
        return Err(Error::invalid(
            "url",
            format!("must be at most {max} bytes once normalized"),
        ));
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> String {
        movie_url(s, 2048).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn http_and_https_are_normalized() {
        assert_eq!(ok("https://example.com/a.mp4"), "https://example.com/a.mp4");
        assert_eq!(
            ok("  HTTPS://Example.COM:443/a/../b c.mp4 "),
            "https://example.com/b%20c.mp4"
        );
        assert_eq!(ok("http://example.com"), "http://example.com/");
        assert_eq!(
            ok("http://example.com:8080/x?q=1#t=10"),
            "http://example.com:8080/x?q=1#t=10"
        );
        assert_eq!(
            ok("https://bücher.example/film\u{202E}4pm.mp4"),
            "https://xn--bcher-kva.example/film%E2%80%AE4pm.mp4"
        );
    }

    #[test]
    fn other_schemes_are_refused() {
        for s in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "blob:https://example.com/1",
            "ftp://example.com/a.mp4",
            "ws://example.com/a",
            "not a url",
            "/relative/path.mp4",
            "",
        ] {
            assert!(movie_url(s, 2048).is_err(), "{s:?}");
        }
    }

    #[test]
    fn credentials_and_controls_are_refused() {
        for s in [
            "https://user:pass@example.com/a.mp4",
            "https://user@example.com/a.mp4",
            "https://trusted.example@evil.example/",
            "https://:pw@example.com/",
            "java\tscript:alert(1)",
            "https://example.com/a\n.mp4",
        ] {
            assert!(movie_url(s, 2048).is_err(), "{s:?}");
        }
    }

    #[test]
    fn length_is_bounded_before_and_after_normalization() {
        let long = format!("https://example.com/{}", "a".repeat(100));
        assert!(movie_url(&long, 50).is_err());
        // 30 input bytes, but each space becomes %20 (3 bytes).
        let spaces = format!("https://e.com/{}", " ".repeat(10));
        assert!(spaces.len() <= 30);
        assert!(movie_url(&format!("{spaces}x"), 30).is_err());
        assert!(movie_url("https://e.com/x", 30).is_ok());
    }
}
