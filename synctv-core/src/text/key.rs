//! The comparison key of a name: two names with the same key look alike to a reader, so
//! only one registered user may hold it, and no guest may take it while a registered user
//! does.
//!
//! The key is `lowercase(skeleton(lowercase(NFKC(name))))`:
//! - NFKC folds compatibility forms: fullwidth `ａｌｉｃｅ`, mathematical `𝐚𝐥𝐢𝐜𝐞`,
//!   ligatures, superscripts, the no-break space.
//! - lowercasing first makes `ALICE` and `alice` one name.
//! - the UTS #39 skeleton (`unicode-security`, the confusables table rustc also uses for its
//!   confusable-identifier lint) maps look-alikes to one prototype: Cyrillic `а` to Latin
//!   `a`, `0` to `O`, `1` and `I` to `l`, `rn` and `m` to the same. It also drops default
//!   ignorable characters (which names refuse anyway).
//! - lowercasing again folds the prototypes' case (`0` becomes `O`, then `o`).
//!
//! The key is stored (`users.username_key`, unique): if a later version of the confusables
//! table changes keys, existing rows keep theirs until a migration recomputes them. What it
//! misses: look-alikes the table does not list (they are few, e.g. some Latin letters with
//! diacritics against their base letter: `é` is not `e`, on purpose), and `I` after
//! lowercasing is `i`, so `aIice` (capital I) is not `alice`; it is `aiice`.

use unicode_normalization::UnicodeNormalization;

/// The comparison key of a username or guest name.
pub fn name_key(name: &str) -> String {
    let folded: String = name.nfkc().collect::<String>().to_lowercase();
    unicode_security::skeleton(&folded)
        .collect::<String>()
        .to_lowercase()
}
