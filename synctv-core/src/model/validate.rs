//! Validation of client-supplied values, one function per kind of field. Each returns the
//! value to store or `Error::Invalid` naming the field, which the API turns into a 422
//! `validation_failed` or a WebSocket `error` frame with that code. Which characters text
//! may hold is decided in one place, [`crate::text`]; this module applies it per field.

mod url;

pub use url::movie_url;

use crate::text::{self, Kind};
use crate::{Error, Result};

/// A login name or guest display name: 1 to 64 characters, no surrounding whitespace, and
/// nothing [`Kind::Name`] refuses (controls, bidirectional controls and marks, invisible
/// characters). Refused, not stripped: the client learns which character is the problem.
pub fn username(field: &'static str, s: &str) -> Result<String> {
    let len = s.chars().count();
    if len == 0 || len > 64 {
        return Err(Error::invalid(field, "must be 1 to 64 characters"));
    }
    if s.trim() != s {
        return Err(Error::invalid(field, "must not have surrounding spaces"));
    }
    text::check(field, s, Kind::Name)?;
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
/// characters, nothing [`Kind::Label`] refuses.
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
    text::check(field, t, Kind::Label)?;
    Ok(t.to_string())
}

/// A chat message: not blank, at most `max` characters, nothing [`Kind::Chat`] refuses
/// (newlines and tabs are allowed, as they always were).
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
    text::check("text", s, Kind::Chat)?;
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
        assert!(username("username", "alice\u{200B}").is_err());
        assert!(username("username", "\u{202E}ecila").is_err());
        assert!(username("username", "\u{200F}alice").is_err());
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
        assert!(display_text("name", "Movie night \u{2764}\u{FE0F}", 100).is_ok());
        assert!(display_text("title", "film\u{202E}4pm.exe", 100).is_err());
        assert!(display_text("title", "two\nlines", 100).is_err());
    }

    #[test]
    fn chat_texts() {
        assert_eq!(chat_text("hi\nthere", 10).unwrap(), "hi\nthere");
        assert!(chat_text(" ", 10).is_err());
        assert!(chat_text("12345678901", 10).is_err());
        assert!(chat_text("bell\u{7}", 10).is_err());
        assert!(chat_text("hi\u{2066}", 10).is_err());
        assert!(chat_text("hi\u{FEFF}", 10).is_err());
    }
}
