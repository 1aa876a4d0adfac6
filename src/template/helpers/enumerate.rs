//! `{{enumerate list style="A"}}`: a list in the styles letters use: 1. / (a) / (A) / (i) / bullets.

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason,
};

use super::{escaped_items, param};

pub fn enumerate(
    h: &Helper<'_>,
    _: &Handlebars<'_>,
    _: &Context,
    _: &mut RenderContext<'_, '_>,
    out: &mut dyn Output,
) -> HelperResult {
    let items = escaped_items(param(h, 0, "enumerate")?)?;
    let style = h
        .hash_get("style")
        .and_then(|v| v.value().as_str())
        .unwrap_or("1");
    let style = Style::parse(style).ok_or(RenderErrorReason::Other(format!(
        "enumerate style {style:?} is unknown: use \"1\", \"a\", \"A\", \"i\" or \"-\""
    )))?;
    super::write(out, &style.list(&items))?;
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Numbers,
    Lower,
    Upper,
    Roman,
    Bullets,
}

impl Style {
    pub fn parse(s: &str) -> Option<Style> {
        Some(match s {
            "1" => Style::Numbers,
            "a" => Style::Lower,
            "A" => Style::Upper,
            "i" => Style::Roman,
            "-" | "*" | "bullet" => Style::Bullets,
            _ => return None,
        })
    }

    /// The items as a Markdown block. Numbers and bullets are Markdown lists; lettered and roman
    /// items are paragraphs that begin with their mark, "(A) …", as letters print them.
    pub fn list(self, items: &[String]) -> String {
        let marked: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, item)| format!("{} {item}", self.mark(i)))
            .collect();
        match self {
            Style::Numbers | Style::Bullets => marked.join("\n"),
            _ => marked.join("\n\n"),
        }
    }

    fn mark(self, i: usize) -> String {
        match self {
            Style::Numbers => format!("{}.", i + 1),
            Style::Bullets => "-".into(),
            Style::Lower => format!("({})", letters(i).to_lowercase()),
            Style::Upper => format!("({})", letters(i)),
            Style::Roman => format!("({})", roman(i + 1)),
        }
    }
}

/// A, B, … Z, AA, AB …
fn letters(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn roman(mut n: usize) -> String {
    const TABLE: &[(usize, &str)] = &[
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ];
    let mut s = String::new();
    for &(value, digits) in TABLE {
        while n >= value {
            s.push_str(digits);
            n -= value;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("x{i}")).collect()
    }

    #[test]
    fn styles_mark_items_as_letters_do() {
        assert_eq!(Style::Numbers.list(&items(2)), "1. x1\n2. x2");
        assert_eq!(Style::Bullets.list(&items(2)), "- x1\n- x2");
        assert_eq!(Style::Lower.list(&items(2)), "(a) x1\n\n(b) x2");
        assert_eq!(Style::Roman.list(&items(4)).lines().last(), Some("(iv) x4"));
        assert!(Style::Upper.list(&items(5)).ends_with("(E) x5"));
    }

    #[test]
    fn letters_go_past_z() {
        assert_eq!(letters(0), "A");
        assert_eq!(letters(25), "Z");
        assert_eq!(letters(26), "AA");
    }
}
