//! Which characters client-supplied text may hold, and the key names are compared by.
//!
//! Everything a client types is shown to other people: usernames, guest names, room names,
//! movie titles, chat. Some characters change how the *surrounding* text is shown or are not
//! shown at all, which lets one person pose as another (`alice` followed by a zero-width
//! space looks exactly like `alice`), reorder what is displayed (a right-to-left override
//! turns `txt.exe` into `exe.txt`), or break other clients' layouts (controls, line
//! separators). This module is the one place that rule lives; `model::validate` applies it
//! to each field, and [`name_key`] decides when two names are "the same".
//!
//! The choice is to **refuse, never strip**: a refused value comes back as
//! `validation_failed` naming the field and the code point, so the client can fix it, and
//! what is stored is exactly what was sent. Stripping would silently change what the
//! sender meant (and would let two different inputs become one name behind their back).
//!
//! Three strictness levels ([`Kind`]):
//! - [`Kind::Name`] (usernames, guest names): refuses every character class below. A name
//!   identifies a person, so nothing invisible or direction-changing is needed or allowed,
//!   not even the left-to-right/right-to-left marks or emoji joiners.
//! - [`Kind::Label`] (room names, movie titles): also allows what real titles need: the
//!   directional marks U+200E/U+200F/U+061C (they move no text across other text, unlike
//!   embeddings, overrides and isolates), variation selectors (emoji and CJK variants), the
//!   zero-width joiner inside emoji sequences and the joiners inside words of the scripts
//!   that spell with them (Arabic, Persian, the Indic scripts), and emoji tag sequences
//!   (the flags of England, Scotland, Wales).
//! - [`Kind::Chat`]: a label that may also hold newlines and tabs (chat always allowed
//!   both), private-use characters and the Braille blank.

mod classes;
mod key;
#[cfg(test)]
mod tests;

pub use classes::Class;
pub use key::name_key;

use crate::{Error, Result};

/// How strict the rule is; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Name,
    Label,
    Chat,
}

/// Refuse `s` if it holds a character `kind` does not allow, naming `field` and the first
/// such character.
pub fn check(field: &'static str, s: &str, kind: Kind) -> Result<()> {
    match first_refused(s, kind) {
        None => Ok(()),
        Some((c, class)) => Err(Error::invalid(
            field,
            format!(
                "must not contain U+{:04X} ({})",
                u32::from(c),
                class.description()
            ),
        )),
    }
}

/// The first character of `s` that `kind` refuses, and its class.
pub fn first_refused(s: &str, kind: Kind) -> Option<(char, Class)> {
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let Some(class) = Class::of(c) else { continue };
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        if !allowed(kind, c, class, prev, next) {
            return Some((c, class));
        }
    }
    None
}

fn allowed(kind: Kind, c: char, class: Class, prev: Option<char>, next: Option<char>) -> bool {
    if kind == Kind::Name {
        return false;
    }
    match class {
        Class::Control => kind == Kind::Chat && matches!(c, '\n' | '\t'),
        Class::DirectionalMark | Class::VariationSelector => true,
        Class::Joiner => classes::joins(c, prev, next),
        Class::Tag => classes::in_tag_sequence(prev),
        Class::PrivateUse | Class::Blank => kind == Kind::Chat,
        Class::LineSeparator
        | Class::BidiControl
        | Class::Invisible
        | Class::Format
        | Class::Noncharacter => false,
    }
}
