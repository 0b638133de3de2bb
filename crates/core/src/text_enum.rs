//! `text_enum!`: the one way small domain enums become text.
//!
//! Statuses, directions, policies and job states are stored as TEXT in two SQL
//! backends, sent as JSON and parsed from query strings. Declaring the spelling once,
//! next to the variant, keeps serde, `as_str` and `parse` from drifting apart.

/// A stored or received text did not name any variant of the enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a valid {kind}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

/// Declares an enum whose variants each have one text spelling, used by serde,
/// `as_str`, `Display`, `parse` (case-insensitive, trimmed) and `FromStr`.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored / wire spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The variant spelled `s` (trimmed, ASCII case-insensitive).
            pub fn parse(s: &str) -> Option<Self> {
                let s = s.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::text_enum::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| $crate::text_enum::UnknownVariant {
                    kind: stringify!($name),
                    value: s.to_string(),
                })
            }
        }
    };
}

pub(crate) use text_enum;

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    text_enum! {
        /// A test enum.
        pub enum Colour {
            Red => "red",
            DarkBlue => "dark_blue",
        }
    }

    #[test]
    fn serde_and_as_str_agree() {
        for c in Colour::ALL {
            let json = serde_json::to_string(c).expect("serialize");
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            let back: Colour = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, *c);
        }
    }

    #[test]
    fn parse_is_lenient_about_case_and_space_only() {
        assert_eq!(Colour::parse(" DARK_blue "), Some(Colour::DarkBlue));
        assert_eq!(Colour::parse("darkblue"), None);
        let err = Colour::from_str("green").expect_err("not a colour");
        assert_eq!(err.to_string(), "'green' is not a valid Colour");
    }
}
