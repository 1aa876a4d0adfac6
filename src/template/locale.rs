//! What changes with a letter's language: how dates are written and how lists are joined.

use chrono::{Locale, NaiveDate};

/// The long date of a letter: "10 December 2026", "10 décembre 2026", "2026년 12월 10일",
/// "2026年12月10日". `tag` is a BCP 47 tag; unknown languages fall back to English.
pub fn long_date(date: NaiveDate, tag: &str) -> String {
    let primary = primary(tag);
    let (pattern, locale) = match primary.as_str() {
        "ko" => return date.format("%Y년 %-m월 %-d일").to_string(),
        "zh" | "ja" => return date.format("%Y年%-m月%-d日").to_string(),
        "en" => return date.format("%-d %B %Y").to_string(),
        "de" => ("%-d. %B %Y", Locale::de_DE),
        "es" => ("%-d de %B de %Y", Locale::es_ES),
        "pt" => ("%-d de %B de %Y", Locale::pt_PT),
        "fr" => ("%-d %B %Y", Locale::fr_FR),
        "it" => ("%-d %B %Y", Locale::it_IT),
        "nl" => ("%-d %B %Y", Locale::nl_NL),
        "ru" => ("%-d %B %Y г.", Locale::ru_RU),
        "nb" | "no" => ("%-d. %B %Y", Locale::nb_NO),
        "sv" => ("%-d %B %Y", Locale::sv_SE),
        _ => match locale_for(tag) {
            Some(locale) => ("%-d %B %Y", locale),
            None => return date.format("%-d %B %Y").to_string(),
        },
    };
    date.format_localized(pattern, locale).to_string()
}

/// "A, B and C" in the letter's language; `conj` replaces the word for "and".
pub fn join(items: &[String], tag: &str, conj: Option<&str>) -> String {
    let primary = primary(tag);
    let (sep, word) = match primary.as_str() {
        "zh" => ("、", "和"),
        "ja" => ("、", "、"),
        "ko" => (", ", " 및 "),
        "fr" => (", ", " et "),
        "de" => (", ", " und "),
        "es" => (", ", " y "),
        "it" | "pt" => (", ", " e "),
        "nl" => (", ", " en "),
        "ru" => (", ", " и "),
        "nb" | "no" | "sv" | "da" => (", ", " og "),
        _ => (", ", " and "),
    };
    let spaced;
    let word = match conj {
        Some(c) if sep == "、" => c,
        Some(c) => {
            spaced = format!(" {} ", c.trim());
            &spaced
        }
        None => word,
    };
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{}{word}{last}", init.join(sep)),
    }
}

fn primary(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or("en")
        .to_ascii_lowercase()
}

fn locale_for(tag: &str) -> Option<Locale> {
    let mut parts = tag.split(['-', '_']);
    let lang = parts.next()?.to_ascii_lowercase();
    let region = parts
        .find(|p| p.len() == 2)
        .map(str::to_ascii_uppercase)
        .unwrap_or_else(|| lang.to_ascii_uppercase());
    Locale::try_from(format!("{lang}_{region}").as_str()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 10).unwrap()
    }

    #[test]
    fn long_dates_in_four_languages() {
        assert_eq!(long_date(day(), "en"), "10 December 2026");
        assert_eq!(long_date(day(), "fr"), "10 décembre 2026");
        assert_eq!(long_date(day(), "ko"), "2026년 12월 10일");
        assert_eq!(long_date(day(), "zh-Hant"), "2026年12月10日");
        assert_eq!(long_date(day(), "de"), "10. Dezember 2026");
        assert_eq!(long_date(day(), "xx"), "10 December 2026");
    }

    #[test]
    fn joins_read_naturally() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(join(&v(&["A", "B", "C"]), "en", None), "A, B and C");
        assert_eq!(join(&v(&["A", "B"]), "fr", None), "A et B");
        assert_eq!(join(&v(&["A", "B", "C"]), "zh", None), "A、B和C");
        assert_eq!(join(&v(&["A", "B"]), "en", Some("or")), "A or B");
        assert_eq!(join(&v(&["A"]), "en", None), "A");
        assert_eq!(join(&[], "en", None), "");
    }
}
