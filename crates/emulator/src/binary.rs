//! Cosmos binary JSON: the tagged byte encoding the official Rust SDK uses for item bodies
//! by default, decoded to a [`serde_json::Value`].
//!
//! A binary buffer starts with the preamble byte `0x80`, which no UTF-8 JSON text can
//! start with; the SDK sends binary bodies with `content-type: application/json`, so the
//! preamble is the only thing that tells them apart ([`is_binary`]). After the preamble
//! comes exactly one value; every value starts with a type-marker byte:
//!
//! | markers | value |
//! |---|---|
//! | `00..=1F` | the integer equal to the marker |
//! | `20..=3F` | a string from the fixed dictionary of 32 common property names |
//! | `40..=67` | a string from a user dictionary (never sent on the data plane: refused) |
//! | `71..=74` | base64 text stored as its raw bytes (standard or URL alphabet) |
//! | `75..=77` | a GUID string stored as 16 bytes (lower, upper, quoted lower) |
//! | `78..=7A` | a string of 4-bit codes into a 16-character table (hex, date-time) |
//! | `7B..=7F` | a string of packed 4/5/6-bit codes above a base byte, or 7-bit ASCII |
//! | `80..=BF` | a UTF-8 string whose length (0 to 63) is the marker minus `0x80` |
//! | `C0..=C2` | a UTF-8 string with a 1, 2 or 4-byte length |
//! | `C3..=C6` | a reference to an earlier string by its 1 to 4-byte buffer offset |
//! | `C7..=CE`, `D7..=DC` | integers and floats, little-endian (`CF`, float16, is refused) |
//! | `D0 D1 D2` | `null`, `false`, `true` |
//! | `D3` | a GUID in .NET byte order, as its lowercase text |
//! | `DD..=DF` | a byte string (1, 2 or 4-byte length), as standard base64 text |
//! | `E0..=E7` | arrays: empty, one item, byte length, byte length and count |
//! | `E8..=EF` | objects, framed the same way; member names are strings |
//! | `F0..=F3` | arrays of numbers sharing one marker, and arrays of those |
//!
//! Hostile input cannot make [`decode`] panic, recurse more than [`MAX_DEPTH`] levels or
//! produce more than a small multiple of its input (string references could otherwise
//! expand quadratically): every failure is a [`BinaryError`].

use serde_json::{Map, Number, Value};

mod strings;

/// The first byte of every Cosmos binary JSON buffer.
pub const PREAMBLE: u8 = 0x80;

/// The deepest nesting of arrays and objects [`decode`] accepts.
pub const MAX_DEPTH: usize = 128;

/// Why a buffer is not a Cosmos binary JSON value this decoder accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BinaryError {
    /// The buffer does not start with [`PREAMBLE`].
    #[error("the buffer does not start with the binary preamble 0x80")]
    MissingPreamble,
    /// The buffer ends inside a value.
    #[error("the buffer ends inside a value (at byte {offset})")]
    Truncated {
        /// Where the missing bytes should have been.
        offset: usize,
    },
    /// A byte that is no type marker, or no marker allowed at that place.
    #[error("byte {offset}: 0x{marker:02X} is not a type marker allowed here")]
    InvalidMarker {
        /// The byte.
        marker: u8,
        /// Its offset in the buffer.
        offset: usize,
    },
    /// A valid marker this decoder does not turn into JSON.
    #[error("byte {offset}: {what} is not supported")]
    Unsupported {
        /// The construct, in words.
        what: &'static str,
        /// Its offset in the buffer.
        offset: usize,
    },
    /// Lengths, counts or contents that contradict each other.
    #[error("byte {offset}: {detail}")]
    Malformed {
        /// What is wrong.
        detail: &'static str,
        /// Where it was found.
        offset: usize,
    },
    /// Arrays and objects nested deeper than [`MAX_DEPTH`].
    #[error("arrays and objects are nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The decoded value would be out of proportion to the buffer.
    #[error(
        "the decoded value would exceed {limit} units (bytes with `decode_within`; strings expanded by references)"
    )]
    TooLarge {
        /// The budget that was exhausted.
        limit: usize,
    },
    /// Bytes follow the top-level value.
    #[error("byte {offset}: bytes follow the value")]
    TrailingBytes {
        /// Where the first extra byte is.
        offset: usize,
    },
}

/// Whether `bytes` is Cosmos binary JSON rather than JSON text: it starts with [`PREAMBLE`].
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.first() == Some(&PREAMBLE)
}

/// Decodes one Cosmos binary JSON buffer (preamble included) to a JSON value. The output
/// is bounded to `64 KiB + 16 × input` units (one per value, one per string byte).
pub fn decode(bytes: &[u8]) -> Result<Value, BinaryError> {
    let limit = 64 * 1024 + bytes.len().saturating_mul(16);
    decode_with(bytes, limit, 1)
}

/// Decodes like [`decode`], refusing ([`BinaryError::TooLarge`]) before the decoded value
/// would take more than `limit` bytes of memory: each value is counted at the size of a
/// [`Value`], each string at its length on top.
pub fn decode_within(bytes: &[u8], limit: usize) -> Result<Value, BinaryError> {
    decode_with(bytes, limit, std::mem::size_of::<Value>())
}

fn decode_with(bytes: &[u8], limit: usize, node: usize) -> Result<Value, BinaryError> {
    if !is_binary(bytes) {
        return Err(BinaryError::MissingPreamble);
    }
    let mut decoder = Decoder {
        buf: bytes,
        pos: 1,
        budget: limit,
        limit,
        node,
    };
    let value = decoder.value(0)?;
    if decoder.pos != bytes.len() {
        return Err(BinaryError::TrailingBytes {
            offset: decoder.pos,
        });
    }
    Ok(value)
}

/// A cursor over the buffer and the output budget left.
struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    budget: usize,
    limit: usize,
    /// What one value costs, on top of its text.
    node: usize,
}

/// The byte width of a length, count or offset field, by its position in a marker group.
fn width(index: u8) -> usize {
    match index {
        0 => 1,
        1 => 2,
        _ => 4,
    }
}

impl<'a> Decoder<'a> {
    /// Charges one value.
    fn charge_node(&mut self) -> Result<(), BinaryError> {
        self.charge(self.node)
    }

    fn charge(&mut self, units: usize) -> Result<(), BinaryError> {
        self.budget = self
            .budget
            .checked_sub(units)
            .ok_or(BinaryError::TooLarge { limit: self.limit })?;
        Ok(())
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], BinaryError> {
        let end = self
            .pos
            .checked_add(len)
            .filter(|end| *end <= self.buf.len())
            .ok_or(BinaryError::Truncated {
                offset: self.buf.len(),
            })?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, BinaryError> {
        Ok(self.take(1)?[0])
    }

    /// An unsigned little-endian field of 1 to 8 bytes.
    fn uint(&mut self, len: usize) -> Result<u64, BinaryError> {
        let bytes = self.take(len)?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    fn size(&mut self, len: usize) -> Result<usize, BinaryError> {
        let offset = self.pos;
        usize::try_from(self.uint(len)?).map_err(|_| BinaryError::Malformed {
            detail: "a length does not fit in memory",
            offset,
        })
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BinaryError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn value(&mut self, depth: usize) -> Result<Value, BinaryError> {
        if depth > MAX_DEPTH {
            return Err(BinaryError::TooDeep);
        }
        self.charge_node()?;
        let at = self.pos;
        let marker = self.byte()?;
        if let Some(text) = self.string(marker, at)? {
            return Ok(Value::String(text));
        }
        match marker {
            0x00..=0x1F => Ok(Value::from(marker)),
            0xC7..=0xCF | 0xD7..=0xDC => self.number(marker, at),
            0xD0 => Ok(Value::Null),
            0xD1 => Ok(Value::Bool(false)),
            0xD2 => Ok(Value::Bool(true)),
            0xE0 => Ok(Value::Array(Vec::new())),
            0xE1 => Ok(Value::Array(vec![self.value(depth + 1)?])),
            0xE2..=0xE7 => {
                self.framed(marker - 0xE2, depth, |d, depth| d.value(depth), Value::from)
            }
            0xE8 => Ok(Value::Object(Map::new())),
            0xE9 => {
                let (name, value) = self.member(depth + 1)?;
                Ok(Value::Object(Map::from_iter([(name, value)])))
            }
            0xEA..=0xEF => self.framed(
                marker - 0xEA,
                depth,
                |d, depth| d.member(depth),
                |members: Vec<(String, Value)>| Value::Object(members.into_iter().collect()),
            ),
            0xF0 | 0xF1 => self.uniform(usize::from(marker - 0xEF)),
            0xF2 | 0xF3 => self.uniform_nested(marker - 0xF2, at),
            _ => Err(BinaryError::InvalidMarker { marker, offset: at }),
        }
    }

    /// An array or object with a byte length (and, for the second three markers of the
    /// group, an item count) of width 1, 2 or 4.
    fn framed<T>(
        &mut self,
        index: u8,
        depth: usize,
        item: impl Fn(&mut Self, usize) -> Result<T, BinaryError>,
        build: impl FnOnce(Vec<T>) -> Value,
    ) -> Result<Value, BinaryError> {
        let field = width(index % 3);
        let len = self.size(field)?;
        let count = if index >= 3 {
            Some(self.size(field)?)
        } else {
            None
        };
        let start = self.pos;
        let end = start
            .checked_add(len)
            .filter(|end| *end <= self.buf.len())
            .ok_or(BinaryError::Truncated {
                offset: self.buf.len(),
            })?;
        let mut items = Vec::new();
        while self.pos < end {
            items.push(item(self, depth + 1)?);
        }
        if self.pos != end {
            return Err(BinaryError::Malformed {
                detail: "an item runs past its container's length",
                offset: start,
            });
        }
        if count.is_some_and(|count| count != items.len()) {
            return Err(BinaryError::Malformed {
                detail: "a container's count does not match its items",
                offset: start,
            });
        }
        Ok(build(items))
    }

    fn member(&mut self, depth: usize) -> Result<(String, Value), BinaryError> {
        let at = self.pos;
        let marker = self.byte()?;
        let name = self
            .string(marker, at)?
            .ok_or(BinaryError::InvalidMarker { marker, offset: at })?;
        Ok((name, self.value(depth)?))
    }

    fn number(&mut self, marker: u8, at: usize) -> Result<Value, BinaryError> {
        let value = match marker {
            0xC8 | 0xD7 => Value::from(self.uint(1)?),
            0xD8 => Value::from(self.uint(1)? as u8 as i8),
            0xC9 | 0xD9 => Value::from(self.uint(2)? as u16 as i16),
            0xCA | 0xDA => Value::from(self.uint(4)? as u32 as i32),
            0xDC => Value::from(self.uint(4)?),
            0xCB | 0xDB => Value::from(self.uint(8)? as i64),
            0xC7 => Value::from(self.uint(8)?),
            0xCD => float(f64::from(f32::from_bits(self.uint(4)? as u32)), at)?,
            0xCC | 0xCE => float(f64::from_bits(self.uint(8)?), at)?,
            0xCF => {
                return Err(BinaryError::Unsupported {
                    what: "a float16 number",
                    offset: at,
                });
            }
            _ => return Err(BinaryError::InvalidMarker { marker, offset: at }),
        };
        Ok(value)
    }

    /// `count` numbers sharing one marker (read once), the count `count_width` bytes wide.
    fn uniform(&mut self, count_width: usize) -> Result<Value, BinaryError> {
        let at = self.pos;
        let marker = self.byte()?;
        if !matches!(marker, 0xCD | 0xCE | 0xD7..=0xDC) {
            return Err(BinaryError::InvalidMarker { marker, offset: at });
        }
        let count = self.size(count_width)?;
        self.numbers(marker, at, count).map(Value::Array)
    }

    /// An array of equally long uniform number arrays: the inner array marker, the number
    /// marker, the inner count and the outer count, then the numbers.
    fn uniform_nested(&mut self, index: u8, at: usize) -> Result<Value, BinaryError> {
        let inner_at = self.pos;
        let inner = self.byte()?;
        if inner != 0xF0 + index {
            return Err(BinaryError::InvalidMarker {
                marker: inner,
                offset: inner_at,
            });
        }
        let marker_at = self.pos;
        let marker = self.byte()?;
        if !matches!(marker, 0xCD | 0xCE | 0xD7..=0xDC) {
            return Err(BinaryError::InvalidMarker {
                marker,
                offset: marker_at,
            });
        }
        let field = usize::from(index) + 1;
        let (inner_count, outer_count) = (self.size(field)?, self.size(field)?);
        let mut outer = Vec::new();
        for _ in 0..outer_count {
            self.charge_node()?;
            outer.push(Value::Array(self.numbers(marker, at, inner_count)?));
        }
        Ok(Value::Array(outer))
    }

    fn numbers(&mut self, marker: u8, at: usize, count: usize) -> Result<Vec<Value>, BinaryError> {
        let mut items = Vec::with_capacity(count.min(self.buf.len() - self.pos));
        for _ in 0..count {
            self.charge_node()?;
            items.push(self.number(marker, at)?);
        }
        Ok(items)
    }
}

/// A JSON number from a float; JSON has no NaN or infinity.
fn float(value: f64, at: usize) -> Result<Value, BinaryError> {
    Number::from_f64(value)
        .map(Value::Number)
        .ok_or(BinaryError::Malformed {
            detail: "a number is not finite",
            offset: at,
        })
}
