//! Validation of client-supplied text. Each function returns the cleaned value or
//! `Error::Invalid` naming the field, which the API turns into a 422 or an `error` frame.

use crate::{Error, Result};

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// A login name or guest display name: 1 to 64 characters, no control characters, no
/// surrounding whitespace.
pub fn username(field: &'static str, s: &str) -> Result<String> {
    let len = s.chars().count();
    if len == 0 || len > 64 {
        return Err(Error::invalid(field, "must be 1 to 64 characters"));
    }
    if has_control(s) || s.trim() != s {
        return Err(Error::invalid(
            field,
            "must not contain control characters or surrounding spaces",
        ));
    }
    Ok(s.to_string())
}

pub fn password(s: &str, min_len: usize) -> Result<()> {
    let len = s.chars().count();
    if len < min_len {
        return Err(Error::invalid(
            "password",
            format!("must be at least {min_len} characters"),
        ));
    }
    if s.len() > 1024 {
        return Err(Error::invalid("password", "must be at most 1024 bytes"));
    }
    Ok(())
}

/// A display text such as a room name or movie title: trimmed, non-empty, at most `max`
/// characters, no control characters.
pub fn display_text(field: &'static str, s: &str, max: usize) -> Result<String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if t.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if has_control(t) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(t.to_string())
}

/// A chat message: not blank, at most `max` characters. Newlines and tabs are allowed; other
/// control characters are not.
pub fn chat_text(s: &str, max: usize) -> Result<String> {
    if s.trim().is_empty() {
        return Err(Error::invalid("text", "must not be empty"));
    }
    if s.chars().count() > max {
        return Err(Error::invalid(
            "text",
            format!("must be at most {max} characters"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(Error::invalid(
            "text",
            "must not contain control characters",
        ));
    }
    Ok(s.to_string())
}

/// A movie URL: absolute http(s), at most `max` bytes.
pub fn movie_url(s: &str, max: usize) -> Result<String> {
    let s = s.trim();
    if s.len() > max {
        return Err(Error::invalid(
            "url",
            format!("must be at most {max} bytes"),
        ));
    }
    let parsed = url::Url::parse(s).map_err(|e| Error::invalid("url", e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::invalid("url", "must be an http or https URL"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(username("username", "alice").is_ok());
        assert!(username("username", "user-550e8400-e29b-41d4-a716-446655440000").is_ok());
        assert!(username("username", "").is_err());
        assert!(username("username", " alice").is_err());
        assert!(username("username", "a\nb").is_err());
        assert!(username("username", &"x".repeat(65)).is_err());
    }

    #[test]
    fn passwords() {
        assert!(password("secret", 6).is_ok());
        assert!(password("short", 6).is_err());
    }

    #[test]
    fn display_texts_are_trimmed() {
        assert_eq!(
            display_text("name", "  Movie night ", 100).unwrap(),
            "Movie night"
        );
        assert!(display_text("name", "   ", 100).is_err());
        assert!(display_text("name", &"x".repeat(101), 100).is_err());
    }

    #[test]
    fn chat_texts() {
        assert_eq!(chat_text("hi\nthere", 10).unwrap(), "hi\nthere");
        assert!(chat_text(" ", 10).is_err());
        assert!(chat_text("12345678901", 10).is_err());
        assert!(chat_text("bell\u{7}", 10).is_err());
    }

    #[test]
    fn movie_urls() {
        assert!(movie_url("https://example.com/a.mp4", 2048).is_ok());
        assert!(movie_url("ftp://example.com/a.mp4", 2048).is_err());
        assert!(movie_url("not a url", 2048).is_err());
        assert!(movie_url("javascript:alert(1)", 2048).is_err());
    }
}
