//! Query text → tokens, each with the byte position it starts at.

use super::QueryError;

/// One token of the SQL subset.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// An identifier or keyword (keywords are matched case-insensitively by the parser).
    Ident(String),
    /// `@name`.
    Param(String),
    /// A number literal.
    Number(f64),
    /// A string literal ('…' or "…"), escapes resolved.
    Str(String),
    /// Punctuation or an operator: `. , ( ) [ ] { } : * + - / % = != <> < > <= >= || ? ??`.
    Sym(&'static str),
}

/// A token and its byte offset in the query text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Spanned {
    pub(crate) token: Token,
    pub(crate) pos: usize,
}

const SYMBOLS: [&str; 23] = [
    "!=", "<>", "<=", ">=", "||", "??", ".", ",", "(", ")", "[", "]", "{", "}", ":", "*", "+", "-",
    "/", "%", "=", "<", "?",
];

/// Splits `text` into tokens.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Spanned>, QueryError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if text[i..].starts_with("--") {
            // A line comment.
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let pos = i;
        let token = if c.is_ascii_alphabetic() || c == b'_' || c == b'@' {
            let start = if c == b'@' { i + 1 } else { i };
            i = start;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = text[start..i].to_string();
            if c == b'@' {
                if word.is_empty() {
                    return Err(QueryError::new("a parameter needs a name after @", pos));
                }
                Token::Param(word)
            } else {
                Token::Ident(word)
            }
        } else if c.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
                i += 1;
                if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
                    i += 1;
                }
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
            }
            let number = text[pos..i]
                .parse::<f64>()
                .map_err(|_| QueryError::new("a malformed number", pos))?;
            if !number.is_finite() {
                return Err(QueryError::new(
                    "a number literal out of the range of a 64-bit float",
                    pos,
                ));
            }
            Token::Number(number)
        } else if c == b'\'' || c == b'"' {
            let (value, end) = string(text, pos)?;
            i = end;
            Token::Str(value)
        } else if c == b'>' {
            // `>` is not in SYMBOLS' one-char tail so `>=` wins; handle it here.
            if text[i..].starts_with(">=") {
                i += 2;
                Token::Sym(">=")
            } else {
                i += 1;
                Token::Sym(">")
            }
        } else if let Some(symbol) = SYMBOLS.iter().find(|s| text[i..].starts_with(**s)) {
            i += symbol.len();
            Token::Sym(symbol)
        } else {
            let shown = text[i..].chars().next().unwrap_or('?');
            return Err(QueryError::new(
                format!("unexpected character `{shown}`"),
                pos,
            ));
        };
        tokens.push(Spanned { token, pos });
    }
    Ok(tokens)
}

/// Reads a string literal starting at `start` (the quote); returns it and the end offset.
fn string(text: &str, start: usize) -> Result<(String, usize), QueryError> {
    let mut chars = text[start..].char_indices();
    let quote = chars.next().map(|(_, c)| c).unwrap_or('"');
    let mut value = String::new();
    while let Some((offset, c)) = chars.next() {
        match c {
            c if c == quote => return Ok((value, start + offset + c.len_utf8())),
            '\\' => {
                let escaped = match chars.next() {
                    Some((_, 'n')) => '\n',
                    Some((_, 't')) => '\t',
                    Some((_, 'r')) => '\r',
                    Some((_, 'b')) => '\u{8}',
                    Some((_, 'f')) => '\u{c}',
                    Some((_, 'u')) => {
                        let hex: String = chars.by_ref().take(4).map(|(_, c)| c).collect();
                        u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| {
                                QueryError::new("a malformed \\u escape", start + offset)
                            })?
                    }
                    Some((_, other)) => other,
                    None => break,
                };
                value.push(escaped);
            }
            c => value.push(c),
        }
    }
    Err(QueryError::new("an unterminated string", start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_positions() {
        let tokens = tokenize("SELECT c.a FROM c WHERE c.n >= @min AND c['x'] <> 'y'").unwrap();
        assert_eq!(tokens[0].token, Token::Ident("SELECT".into()));
        assert_eq!(
            tokens[2],
            Spanned {
                token: Token::Sym("."),
                pos: 8
            }
        );
        assert!(tokens.iter().any(|t| t.token == Token::Param("min".into())));
        assert!(tokens.iter().any(|t| t.token == Token::Sym(">=")));
        assert!(tokens.iter().any(|t| t.token == Token::Sym("<>")));
    }

    #[test]
    fn bad_input_is_an_error_with_a_position() {
        assert_eq!(tokenize("SELECT 'open").unwrap_err().position(), Some(7));
        assert_eq!(tokenize("SELECT #").unwrap_err().position(), Some(7));
    }
}
