//! Guest-chosen text as a terminal may show it.

/// `text` with control and bidirectional-override characters escaped (`\u{a}`, `\u{1b}`,
/// `\u{202e}`…), so what a process chose (a path, a log line, a topic, a question) cannot
/// rewrite the reader's terminal or fake a line of a listing.
pub(super) fn clean(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let hidden = c.is_control()
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if hidden {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}
