//! Value transforms a mapping can apply on the way across: case, trimming and a
//! deliberately simple phone normalisation. Every transform is idempotent, which
//! the sync relies on to settle after one round.

use crate::text_enum::text_enum;

text_enum! {
    /// A normalisation applied to a value on its way to the other side.
    pub enum Transform {
        None => "none",
        Trim => "trim",
        Lowercase => "lowercase",
        Uppercase => "uppercase",
        /// Each word's first letter upper-cased, the rest lower-cased.
        TitleCase => "title_case",
        /// Phone numbers to an E.164-like form, see [`normalize_phone`].
        PhoneE164 => "phone_e164",
    }
}

impl Transform {
    /// Applies the transform. Every transform is idempotent (`t(t(x)) == t(x)`),
    /// which the sync relies on to stop after one round.
    pub fn apply(self, value: &str) -> String {
        match self {
            Transform::None => value.to_string(),
            Transform::Trim => value.trim().to_string(),
            Transform::Lowercase => value.to_lowercase(),
            Transform::Uppercase => value.to_uppercase(),
            Transform::TitleCase => title_case(value),
            Transform::PhoneE164 => normalize_phone(value),
        }
    }
}

/// Phone numbers, kept deliberately simple because we do not know the caller's
/// country: a leading `+` (or `00`, the international prefix) becomes `+`; every
/// other non-digit is dropped; anything from the first letter on (an extension such
/// as "x12" or "ext. 12") is dropped. No country code is ever guessed. A value with
/// no digits at all is returned trimmed but otherwise untouched, so a note typed in
/// the phone field is not destroyed.
///
/// "+1 (555) 010-2000" → "+15550102000", "0044 20 7946 0000" → "+442079460000",
/// "555-0100 x12" → "5550100".
pub fn normalize_phone(raw: &str) -> String {
    let trimmed = raw.trim();
    let number: &str = match trimmed.find(|c: char| c.is_alphabetic()) {
        Some(i) => &trimmed[..i],
        None => trimmed,
    };
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return trimmed.to_string();
    }
    if number.trim_start().starts_with('+') {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else {
        digits
    }
}

fn title_case(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut start_of_word = true;
    for c in value.chars() {
        if c.is_alphabetic() {
            if start_of_word {
                // A letter whose upper case is several characters ("ῲ" → "ῺΙ")
                // is kept as is: upper-casing it would not be idempotent, since
                // the second character would be lower-cased next time.
                let mut upper = c.to_uppercase();
                match (upper.next(), upper.next()) {
                    (Some(u), None) => out.push(u),
                    _ => out.push(c),
                }
            } else {
                out.extend(c.to_lowercase());
            }
            start_of_word = false;
        } else {
            out.push(c);
            start_of_word = c.is_whitespace() || c == '-';
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn phone_normalisation() {
        assert_eq!(normalize_phone("+1 (555) 010-2000"), "+15550102000");
        assert_eq!(normalize_phone("0044 20 7946 0000"), "+442079460000");
        assert_eq!(normalize_phone("555-0100 x12"), "5550100");
        assert_eq!(normalize_phone("555.0100 ext. 7"), "5550100");
        assert_eq!(normalize_phone(" call reception "), "call reception");
    }

    #[test]
    fn title_case() {
        assert_eq!(
            Transform::TitleCase.apply("mARY-jane o'neil"),
            "Mary-Jane O'neil"
        );
    }

    proptest! {
        #[test]
        fn transforms_are_idempotent(t in prop::sample::select(Transform::ALL), v in "\\PC{0,20}") {
            let once = t.apply(&v);
            prop_assert_eq!(t.apply(&once), once);
        }
    }
}
