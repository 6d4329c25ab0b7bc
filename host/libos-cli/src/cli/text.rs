//! Guest-chosen text as a terminal may show it.

/// `text` with control, bidirectional and invisible characters escaped (`\u{a}`, `\u{1b}`,
/// `\u{202e}`, `\u{200b}`…), so what a process chose (a path, a log line, a topic, a
/// question) cannot rewrite the reader's terminal, fake a line of a listing, or look like
/// another name.
pub(super) fn clean(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let hidden = c.is_control() || invisible(c);
            if hidden {
                c.escape_unicode().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// A process's or a tool's output as `libos` prints it on stdout: escaped like [`clean`]
/// (newlines and tabs kept) when stdout is a terminal, which guest text must not drive; exactly
/// as produced when it is a pipe or a file, where it is the caller's data.
pub(super) fn for_stdout(output: &str) -> std::borrow::Cow<'_, str> {
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        return std::borrow::Cow::Borrowed(output);
    }
    std::borrow::Cow::Owned(
        output
            .split('\n')
            .map(|line| line.split('\t').map(clean).collect::<Vec<_>>().join("\t"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Characters a terminal draws as nothing, or that reorder or break what follows: every
/// `Bidi_Control` character, the line and paragraph separators, and the format characters
/// (`Cf`) and fillers that render invisibly (soft hyphen, zero-width and joiner characters,
/// word joiner and invisible operators, byte order mark, interlinear annotations, tags,
/// Hangul fillers, prepended number signs, hieroglyph format controls, the Braille blank).
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00ad}'
            | '\u{034f}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061c}'
            | '\u{06dd}'
            | '\u{070f}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08e2}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fffb}'
            | '\u{2800}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn invisible_and_reordering_characters_are_shown_escaped() {
        for c in [
            '\u{1b}',
            '\u{7f}',
            '\u{85}',
            '\u{202e}',
            '\u{2066}',
            '\u{061c}',
            '\u{2028}',
            '\u{2029}',
            '\u{200b}',
            '\u{2060}',
            '\u{feff}',
            '\u{00ad}',
            '\u{180e}',
            '\u{e0001}',
            '\u{fe0f}',
        ] {
            let shown = clean(&format!("a{c}b"));
            assert!(!shown.contains(c), "{:?} passes through", c);
            assert!(shown.starts_with("a\\u{"), "{shown}");
        }
        assert_eq!(clean("notes/é ü 日本 ok"), "notes/é ü 日本 ok");
    }
}
