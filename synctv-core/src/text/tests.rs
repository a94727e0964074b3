use super::*;

fn refused(s: &str, kind: Kind) -> Option<u32> {
    first_refused(s, kind).map(|(c, _)| u32::from(c))
}

#[test]
fn ordinary_text_passes_everywhere() {
    for s in [
        "alice",
        "Zoë",
        "山田太郎",
        "Ольга",
        "محمد",
        "नमस्ते",
        "a b-c_d.e",
    ] {
        for kind in [Kind::Name, Kind::Label, Kind::Chat] {
            assert_eq!(refused(s, kind), None, "{s:?} {kind:?}");
        }
    }
}

#[test]
fn bidi_controls_are_refused_everywhere() {
    for c in (0x202A..=0x202E).chain(0x2066..=0x2069) {
        let s = format!("txt{}exe.doc", char::from_u32(c).unwrap());
        for kind in [Kind::Name, Kind::Label, Kind::Chat] {
            assert_eq!(refused(&s, kind), Some(c), "U+{c:04X} {kind:?}");
        }
    }
}

#[test]
fn zero_width_characters_are_refused_everywhere() {
    for c in [0x200B, 0x2060, 0xFEFF, 0x00AD, 0x180E, 0x3164, 0x2062] {
        let s = format!("ali{}ce", char::from_u32(c).unwrap());
        for kind in [Kind::Name, Kind::Label, Kind::Chat] {
            assert_eq!(refused(&s, kind), Some(c), "U+{c:04X} {kind:?}");
        }
    }
}

#[test]
fn controls_are_refused_but_chat_keeps_newline_and_tab() {
    for c in [0x00, 0x07, 0x1B, 0x0D, 0x7F, 0x85, 0x9B] {
        let s = format!("a{}b", char::from_u32(c).unwrap());
        for kind in [Kind::Name, Kind::Label, Kind::Chat] {
            assert_eq!(refused(&s, kind), Some(c), "U+{c:04X} {kind:?}");
        }
    }
    assert_eq!(refused("line 1\nline 2\tend", Kind::Chat), None);
    assert_eq!(refused("a\nb", Kind::Label), Some(0x0A));
    assert_eq!(refused("a\nb", Kind::Name), Some(0x0A));
    assert_eq!(refused("a\u{2028}b", Kind::Chat), Some(0x2028));
}

#[test]
fn directional_marks_are_refused_in_names_only() {
    for c in ['\u{200E}', '\u{200F}', '\u{061C}'] {
        let s = format!("{c}שלום world");
        assert!(refused(&s, Kind::Name).is_some());
        assert_eq!(refused(&s, Kind::Label), None);
        assert_eq!(refused(&s, Kind::Chat), None);
    }
}

#[test]
fn joiners_only_where_they_join() {
    let family = "👨\u{200D}👩\u{200D}👧";
    let rainbow = "🏳\u{FE0F}\u{200D}🌈";
    let persian = "می\u{200C}خواهم";
    let devanagari = "क्\u{200D}ष";
    for s in [family, rainbow, persian, devanagari] {
        assert_eq!(refused(s, Kind::Label), None, "{s:?}");
        assert_eq!(refused(s, Kind::Chat), None, "{s:?}");
        assert!(refused(s, Kind::Name).is_some(), "{s:?}");
    }
    // Between Latin letters, at an end, or after a space: hiding, not joining.
    for s in [
        "ali\u{200D}ce",
        "alice\u{200D}",
        "\u{200C}alice",
        "hi \u{200D}👍",
    ] {
        assert!(refused(s, Kind::Chat).is_some(), "{s:?}");
    }
    // ZWNJ does not glue emoji.
    assert!(refused("👨\u{200C}👩", Kind::Chat).is_some());
}

#[test]
fn emoji_presentation_and_flags() {
    let heart = "I \u{2764}\u{FE0F} films";
    let scotland = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}";
    for s in [heart, scotland] {
        assert_eq!(refused(s, Kind::Label), None, "{s:?}");
        assert_eq!(refused(s, Kind::Chat), None, "{s:?}");
        assert!(refused(s, Kind::Name).is_some(), "{s:?}");
    }
    // Tags smuggled after ordinary text.
    assert_eq!(refused("hi\u{E0041}", Kind::Chat), Some(0xE0041));
}

#[test]
fn private_use_and_blanks() {
    assert!(refused("\u{E000}", Kind::Name).is_some());
    assert!(refused("\u{E000}", Kind::Label).is_some());
    assert_eq!(refused("\u{E000}", Kind::Chat), None);
    assert_eq!(refused("\u{2800}", Kind::Name), Some(0x2800));
    assert_eq!(refused("\u{2800}", Kind::Chat), None);
    assert_eq!(refused("a\u{FFFF}", Kind::Chat), Some(0xFFFF));
}

#[test]
fn check_names_field_and_code_point() {
    let err = check("username", "alice\u{202E}", Kind::Name).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid username: must not contain U+202E (a bidirectional embedding, override or isolate)"
    );
}

#[test]
fn keys_fold_case_compatibility_forms_and_confusables() {
    let alice = name_key("alice");
    for s in [
        "Alice",
        "ALICE",
        "ａｌｉｃｅ",   // fullwidth
        "𝐚𝐥𝐢𝐜𝐞",        // mathematical bold
        "\u{0430}lice", // Cyrillic a
        "a\u{04CF}ice", // Cyrillic palochka for l
        "a1ice",        // digit one for l
    ] {
        assert_eq!(name_key(s), alice, "{s:?}");
    }
    assert_eq!(name_key("b0b"), name_key("BOB"));
    assert_eq!(name_key("modern"), name_key("rnodern"));
    assert_ne!(name_key("alice"), name_key("alicia"));
    assert_ne!(name_key("josé"), name_key("jose"));
    assert_eq!(name_key("a\u{00A0}b"), name_key("a b"));
}
