//! Value transforms a mapping can apply on the way across: case, trimming and
//! phone numbers to E.164 (libphonenumber's rules, through the `phonenumber`
//! crate, with the workspace's default region for numbers written without a
//! country code). Every transform is idempotent, which the sync relies on to
//! settle after one round.

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
        /// Phone numbers to E.164, see [`normalize_phone`].
        PhoneE164 => "phone_e164",
    }
}

impl Transform {
    /// Applies the transform. Every transform is idempotent (`t(t(x)) == t(x)`),
    /// which the sync relies on to stop after one round.
    pub fn apply(self, value: &str) -> String {
        self.apply_in(value, None)
    }

    /// [`Transform::apply`] with the default region (ISO 3166 code, e.g. `GB`)
    /// that phone numbers without a country code are read in.
    pub fn apply_in(self, value: &str, region: Option<&str>) -> String {
        match self {
            Transform::None => value.to_string(),
            Transform::Trim => value.trim().to_string(),
            Transform::Lowercase => value.to_lowercase(),
            Transform::Uppercase => value.to_uppercase(),
            Transform::TitleCase => title_case(value),
            Transform::PhoneE164 => normalize_phone(value, region),
        }
    }
}

/// A phone number in E.164 (`+442079460000`) when it is a valid number, read
/// in `region` when it has no country code (`020 7946 0000` with `GB`);
/// otherwise the value as typed (trimmed), never mangled: an invalid number or
/// a note typed in the phone field stays readable, and [`phone_e164`] says
/// whether it was valid so the sync can warn.
///
/// "+1 (202) 456-1111" → "+12024561111"; "020 7946 0000" in GB →
/// "+442079460000"; "555-0100 x12" (no region) → as typed.
pub fn normalize_phone(raw: &str, region: Option<&str>) -> String {
    phone_e164(raw, region).unwrap_or_else(|| raw.trim().to_string())
}

/// The E.164 form of a valid phone number; `None` for anything else (too short,
/// no country code and no region, not a number at all).
pub fn phone_e164(raw: &str, region: Option<&str>) -> Option<String> {
    let region = region.and_then(|r| r.parse::<phonenumber::country::Id>().ok());
    let number = phonenumber::parse(region, raw.trim()).ok()?;
    phonenumber::is_valid(&number)
        .then(|| number.format().mode(phonenumber::Mode::E164).to_string())
}

/// Whether `code` is a region the phone rules know (ISO 3166 alpha-2, `GB`).
pub fn known_region(code: &str) -> bool {
    code.len() == 2 && code.parse::<phonenumber::country::Id>().is_ok()
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
        assert_eq!(normalize_phone("+1 (202) 456-1111", None), "+12024561111");
        assert_eq!(
            normalize_phone("020 7946 0000", Some("GB")),
            "+442079460000"
        );
        assert_eq!(
            normalize_phone("0044 20 7946 0000", Some("GB")),
            "+442079460000"
        );
        assert_eq!(
            normalize_phone("(202) 456-1111", Some("US")),
            "+12024561111"
        );
        assert_eq!(
            normalize_phone("+44 20 7946 0000 ext. 7", None),
            "+442079460000"
        );
        // No country code and no region, too short, or not a number: as typed.
        assert_eq!(normalize_phone(" 020 7946 0000 ", None), "020 7946 0000");
        assert_eq!(normalize_phone("12", Some("GB")), "12");
        assert_eq!(
            normalize_phone(" call reception ", Some("GB")),
            "call reception"
        );
        assert_eq!(phone_e164("12", Some("GB")), None);
        assert!(known_region("GB") && known_region("US"));
        assert!(!known_region("XX") && !known_region("GBR"));
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

        #[test]
        fn phone_numbers_settle_after_one_round(v in "[+0(]?[0-9 ()-]{4,16}", gb in any::<bool>()) {
            let region = gb.then_some("GB");
            let once = normalize_phone(&v, region);
            prop_assert_eq!(normalize_phone(&once, region), once);
        }
    }
}
