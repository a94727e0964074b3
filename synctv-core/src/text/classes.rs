//! The character classes the text rule knows. Everything not listed is allowed everywhere.
//! The ranges are Unicode's own: controls (`Cc`), the bidirectional formatting characters
//! of UAX #9, and the `Default_Ignorable_Code_Point` and `Cf` characters of the Unicode
//! Character Database (the characters a renderer draws as nothing), split by what they are
//! for, because labels and chat need some of them.

/// Why a character may be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// C0 and C1 controls and DEL (`Cc`).
    Control,
    /// U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR: line breaks that are not `\n`.
    LineSeparator,
    /// Embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): they reorder the
    /// text around them.
    BidiControl,
    /// U+200E LRM, U+200F RLM, U+061C ALM: invisible, but they only set the direction of
    /// neutral characters next to them.
    DirectionalMark,
    /// U+200C ZERO WIDTH NON-JOINER, U+200D ZERO WIDTH JOINER.
    Joiner,
    /// Other characters drawn as nothing: zero-width space, word joiner, BOM, soft hyphen,
    /// invisible operators, fillers, and the rest of `Default_Ignorable_Code_Point`.
    Invisible,
    /// Variation selectors (emoji or text presentation, CJK and Mongolian variants).
    VariationSelector,
    /// Tag characters (U+E0020-U+E007F), used by emoji flag sequences.
    Tag,
    /// Other format characters (`Cf`): prepended number signs, interlinear annotation.
    Format,
    /// Private-use characters: their glyph depends on the reader's fonts.
    PrivateUse,
    /// Noncharacters (U+FDD0-U+FDEF, U+xFFFE, U+xFFFF).
    Noncharacter,
    /// U+2800 BRAILLE PATTERN BLANK: a visible-width blank that is not whitespace, the
    /// usual way to make a name that looks empty.
    Blank,
}

impl Class {
    /// The class of `c`, or `None` for an ordinary character.
    pub fn of(c: char) -> Option<Class> {
        let u = u32::from(c);
        let class = match u {
            _ if c.is_control() => Class::Control,
            0x2028 | 0x2029 => Class::LineSeparator,
            0x202A..=0x202E | 0x2066..=0x2069 => Class::BidiControl,
            0x200E | 0x200F | 0x061C => Class::DirectionalMark,
            0x200C | 0x200D => Class::Joiner,
            0xFE00..=0xFE0F | 0xE0100..=0xE01EF | 0x180B..=0x180D | 0x180F => {
                Class::VariationSelector
            }
            0xE0020..=0xE007F => Class::Tag,
            0x00AD
            | 0x034F
            | 0x115F
            | 0x1160
            | 0x17B4
            | 0x17B5
            | 0x180E
            | 0x200B
            | 0x2060..=0x2065
            | 0x206A..=0x206F
            | 0x3164
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE001F
            | 0xE0080..=0xE00FF
            | 0xE01F0..=0xE0FFF => Class::Invisible,
            0x0600..=0x0605
            | 0x06DD
            | 0x070F
            | 0x0890
            | 0x0891
            | 0x08E2
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0xFFF9..=0xFFFB => Class::Format,
            0xFDD0..=0xFDEF => Class::Noncharacter,
            _ if u & 0xFFFE == 0xFFFE => Class::Noncharacter,
            0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD => Class::PrivateUse,
            0x2800 => Class::Blank,
            _ => return None,
        };
        Some(class)
    }

    /// Words for an error message.
    pub fn description(self) -> &'static str {
        match self {
            Class::Control => "a control character",
            Class::LineSeparator => "a line or paragraph separator",
            Class::BidiControl => "a bidirectional embedding, override or isolate",
            Class::DirectionalMark => "a directional mark",
            Class::Joiner => "a zero-width joiner or non-joiner",
            Class::Invisible => "an invisible character",
            Class::VariationSelector => "a variation selector",
            Class::Tag => "a tag character",
            Class::Format => "a format character",
            Class::PrivateUse => "a private-use character",
            Class::Noncharacter => "a noncharacter",
            Class::Blank => "a blank that is not a space",
        }
    }
}

/// Whether a joiner between `prev` and `next` does what joiners are for: glue an emoji
/// sequence (ZWJ only: 👩‍💻, 🏳️‍🌈) or shape a word of a script that spells with joiners
/// (both: Persian, Arabic, the Indic scripts). Anywhere else it only hides something.
pub(super) fn joins(joiner: char, prev: Option<char>, next: Option<char>) -> bool {
    let (Some(p), Some(n)) = (prev, next) else {
        return false;
    };
    (joiner == '\u{200D}' && emoji_like(p) && emoji_like(n))
        || (joining_script(p) && joining_script(n))
}

/// A tag character continues an emoji tag sequence: it follows U+1F3F4 WAVING BLACK FLAG
/// or another tag.
pub(super) fn in_tag_sequence(prev: Option<char>) -> bool {
    prev.is_some_and(|p| p == '\u{1F3F4}' || matches!(u32::from(p), 0xE0020..=0xE007F))
}

/// Pictographs, symbols and the emoji components that appear on either side of a ZWJ in
/// emoji sequences (an approximation of `Extended_Pictographic` by block).
fn emoji_like(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139
            | 0x2190..=0x2BFF
            | 0x3030 | 0x303D | 0x3297 | 0x3299
            | 0xFE0F
            | 0x1F000..=0x1FAFF
    )
}

/// Arabic, Syriac, Thaana, N'Ko and their extensions, the Indic scripts, Mongolian, and the
/// Arabic presentation forms.
fn joining_script(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0600..=0x08FF | 0x0900..=0x0DFF | 0x1800..=0x18AF | 0xFB50..=0xFDFF | 0xFE70..=0xFEFE
    )
}
