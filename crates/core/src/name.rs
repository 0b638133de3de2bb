//! Person names between Keva (one `name` field) and HubSpot (`firstname` + `lastname`).
//!
//! # Rules
//!
//! Keva → HubSpot ([`split`]):
//! 1. Whitespace is collapsed: runs of any Unicode whitespace become one space, and
//!    leading/trailing whitespace is dropped.
//! 2. One word (or none) is the firstname; the lastname is empty.
//! 3. Otherwise the last word is the lastname and the rest the firstname
//!    ("Mary Jane Watson" → "Mary Jane" / "Watson").
//! 4. Trailing suffixes stay with the lastname: Jr, Sr, II, III, IV, PhD, MD, Esq
//!    (compared case-insensitively, ignoring dots and a trailing comma, so "Ph.D."
//!    and "jr," count): "Martin Luther King Jr." → "Martin Luther" / "King Jr.".
//! 5. Surname particles directly before the surname start the lastname: van, von,
//!    de, da, del, der, di, la, le, du, dos, ten, ter, bin, al (case-insensitive):
//!    "Ludwig van Beethoven" → "Ludwig" / "van Beethoven", "Vincent van der Berg" →
//!    "Vincent" / "van der Berg".
//! 6. The first word is always the firstname, even when it looks like a particle or
//!    the rest is only suffixes ("Van Morrison" → "Van" / "Morrison", "John Jr." →
//!    "John" / "Jr."): HubSpot shows the firstname as the greeting, and an empty
//!    firstname with a full lastname reads worse than an imperfect split.
//!
//! HubSpot → Keva ([`join`]): `firstname + " " + lastname`, each collapsed as in
//! rule 1, empties dropped.
//!
//! The split only chooses *where* to cut the word list; it never changes, reorders
//! or drops a word. So `join(split(x)) == normalize(x)` for every input (property
//! tested), which is what keeps names stable across round trips. The reverse,
//! `split(join(f, l)) == (f, l)`, does not hold in general ("Mary" / "Jane Watson"
//! joins to "Mary Jane Watson", which splits to "Mary Jane" / "Watson"); the sync
//! copes with that by comparing each side with its own last value (see `reconcile`).

use serde::{Deserialize, Serialize};

/// Name suffixes that belong with the lastname, compared after [`suffix_key`].
const SUFFIXES: &[&str] = &["jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"];

/// Surname particles that start the lastname when they precede it.
const PARTICLES: &[&str] = &[
    "van", "von", "de", "da", "del", "der", "di", "la", "le", "du", "dos", "ten", "ter", "bin",
    "al",
];

/// A name cut into HubSpot's two properties.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameParts {
    pub first: String,
    pub last: String,
}

impl NameParts {
    /// The Keva form of these parts: see [`join`].
    pub fn join(&self) -> String {
        join(&self.first, &self.last)
    }
}

/// Collapses whitespace: the canonical form of a name (rule 1).
pub fn normalize(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Splits a Keva name into firstname and lastname by the module's rules.
pub fn split(full: &str) -> NameParts {
    let words: Vec<&str> = full.split_whitespace().collect();
    if words.len() <= 1 {
        return NameParts {
            first: words.first().map(|w| w.to_string()).unwrap_or_default(),
            last: String::new(),
        };
    }
    // The surname is the last word that is not a suffix; index 0 is never taken
    // (rule 6), so `cut` stays within 1..len. When everything after the first word
    // is a suffix, the loop stops at 1 and the cut falls right after the first word.
    let mut surname = words.len() - 1;
    while surname > 1 && is_suffix(words[surname]) {
        surname -= 1;
    }
    let mut cut = surname;
    while cut > 1 && is_particle(words[cut - 1]) {
        cut -= 1;
    }
    parts(&words, cut)
}

/// Joins HubSpot's firstname and lastname into a Keva name: collapsed, empties dropped.
pub fn join(first: &str, last: &str) -> String {
    [normalize(first), normalize(last)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn parts(words: &[&str], cut: usize) -> NameParts {
    NameParts {
        first: words[..cut].join(" "),
        last: words[cut..].join(" "),
    }
}

/// "Ph.D.," → "phd": suffixes are written with and without dots and commas.
fn suffix_key(word: &str) -> String {
    word.chars()
        .filter(|c| *c != '.' && *c != ',')
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_suffix(word: &str) -> bool {
    let key = suffix_key(word);
    SUFFIXES.contains(&key.as_str())
}

fn is_particle(word: &str) -> bool {
    let lower = word.to_lowercase();
    PARTICLES.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(full: &str) -> (String, String) {
        let p = split(full);
        (p.first, p.last)
    }

    fn pair(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn last_word_is_lastname() {
        assert_eq!(s("Mary Jane Watson"), pair("Mary Jane", "Watson"));
        assert_eq!(s("Ada Lovelace"), pair("Ada", "Lovelace"));
    }

    #[test]
    fn one_word_is_firstname_only() {
        assert_eq!(s("Cher"), pair("Cher", ""));
        assert_eq!(s("   "), pair("", ""));
        assert_eq!(s(""), pair("", ""));
    }

    #[test]
    fn suffixes_stay_with_lastname() {
        assert_eq!(
            s("Martin Luther King Jr."),
            pair("Martin Luther", "King Jr.")
        );
        assert_eq!(s("John Smith III"), pair("John", "Smith III"));
        assert_eq!(s("Jane Doe PhD"), pair("Jane", "Doe PhD"));
        assert_eq!(s("Jane Doe Ph.D."), pair("Jane", "Doe Ph.D."));
        assert_eq!(s("Sam Roe, Esq."), pair("Sam", "Roe, Esq."));
        assert_eq!(s("Gregory House MD"), pair("Gregory", "House MD"));
        assert_eq!(s("Ken Griffey Sr"), pair("Ken", "Griffey Sr"));
        assert_eq!(s("Henry Ford II"), pair("Henry", "Ford II"));
        assert_eq!(s("Bob Loblaw Jr. PhD"), pair("Bob", "Loblaw Jr. PhD"));
    }

    #[test]
    fn particles_start_the_lastname() {
        assert_eq!(s("Ludwig van Beethoven"), pair("Ludwig", "van Beethoven"));
        assert_eq!(s("Vincent van der Berg"), pair("Vincent", "van der Berg"));
        assert_eq!(s("Anna Maria de la Cruz"), pair("Anna Maria", "de la Cruz"));
        assert_eq!(s("Leonardo da Vinci"), pair("Leonardo", "da Vinci"));
        assert_eq!(s("Osama bin Laden"), pair("Osama", "bin Laden"));
        assert_eq!(s("Martin Van Buren"), pair("Martin", "Van Buren"));
    }

    #[test]
    fn particles_and_suffixes_combine() {
        assert_eq!(s("Jan van der Meer Jr."), pair("Jan", "van der Meer Jr."));
    }

    #[test]
    fn first_word_is_never_moved_to_lastname() {
        assert_eq!(s("Van Morrison"), pair("Van", "Morrison"));
        assert_eq!(s("John Jr."), pair("John", "Jr."));
        assert_eq!(s("de la Cruz"), pair("de", "la Cruz"));
    }

    #[test]
    fn whitespace_is_collapsed() {
        assert_eq!(s("  Mary \t Jane\n Watson  "), pair("Mary Jane", "Watson"));
    }

    #[test]
    fn join_drops_empties_and_collapses() {
        assert_eq!(join("Mary", "Jane Watson"), "Mary Jane Watson");
        assert_eq!(join("", "Watson"), "Watson");
        assert_eq!(join(" Mary ", "  "), "Mary");
        assert_eq!(join("", ""), "");
        assert_eq!(join("Mary  Jane", "Watson"), "Mary Jane Watson");
    }

    #[test]
    fn split_of_a_join_may_move_the_cut_but_not_the_words() {
        let keva = join("Mary", "Jane Watson");
        assert_eq!(s(&keva), pair("Mary Jane", "Watson"));
        assert_eq!(split(&keva).join(), keva);
    }

    fn word() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z'\\-]{1,8}",
            Just("van".to_string()),
            Just("de".to_string()),
            Just("Jr.".to_string()),
            Just("III".to_string()),
            Just("PhD".to_string()),
            "\\PC{1,4}",
        ]
    }

    fn name() -> impl Strategy<Value = String> {
        (
            prop::collection::vec((word(), "[ \t\n\u{00a0}]{1,3}"), 0..6),
            "[ \t]{0,2}",
        )
            .prop_map(|(words, lead)| {
                let mut out = lead;
                for (w, sep) in words {
                    out.push_str(&w);
                    out.push_str(&sep);
                }
                out
            })
    }

    proptest! {
        #[test]
        fn join_of_split_is_the_normalized_name(x in name()) {
            let p = split(&x);
            prop_assert_eq!(p.join(), normalize(&x));
        }

        #[test]
        fn split_keeps_a_firstname_whenever_there_is_a_word(x in name()) {
            let p = split(&x);
            prop_assert_eq!(p.first.is_empty(), normalize(&x).is_empty());
        }

        #[test]
        fn split_is_stable_on_its_own_output(x in name()) {
            let once = split(&x);
            prop_assert_eq!(split(&once.join()), once);
        }
    }
}
