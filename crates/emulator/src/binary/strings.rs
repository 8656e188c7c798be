//! The string forms of Cosmos binary JSON: plain UTF-8, the fixed dictionary, references
//! to earlier strings, and the compact forms (base64, GUIDs, 4-bit tables, packed codes).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};

use super::{BinaryError, Decoder, width};

/// The fixed dictionary addressed by markers `0x20..=0x3F`, in marker order.
const SYSTEM_STRINGS: [&str; 32] = [
    "$s",
    "$t",
    "$v",
    "_attachments",
    "_etag",
    "_rid",
    "_self",
    "_ts",
    "attachments/",
    "coordinates",
    "geometry",
    "GeometryCollection",
    "id",
    "url",
    "Value",
    "label",
    "LineString",
    "link",
    "MultiLineString",
    "MultiPoint",
    "MultiPolygon",
    "name",
    "Name",
    "Type",
    "Point",
    "Polygon",
    "properties",
    "type",
    "value",
    "Feature",
    "FeatureCollection",
    "_id",
];

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";
const UPPER_HEX: &[u8; 16] = b"0123456789ABCDEF";

impl Decoder<'_> {
    /// The string a marker introduces, or `None` when the marker is no string marker.
    pub(super) fn string(&mut self, marker: u8, at: usize) -> Result<Option<String>, BinaryError> {
        let text = match marker {
            0x20..=0x3F => SYSTEM_STRINGS[usize::from(marker - 0x20)].to_owned(),
            0x40..=0x67 => {
                return Err(BinaryError::Unsupported {
                    what: "a user-dictionary string",
                    offset: at,
                });
            }
            0x71..=0x74 => self.base64(marker, at)?,
            0x75..=0x77 => self.guid_string(marker)?,
            0x78..=0x7A => self.nibble_table(marker, at)?,
            0x7B..=0x7F => self.packed(marker, at)?,
            0x80..=0xBF => self.utf8(usize::from(marker - 0x80), at)?,
            0xC0..=0xC2 => {
                let len = self.size(width(marker - 0xC0))?;
                self.utf8(len, at)?
            }
            0xC3..=0xC6 => self.reference(usize::from(marker - 0xC2), at)?,
            0xD3 => self.guid_value()?,
            0xDD..=0xDF => {
                let len = self.size(width(marker - 0xDD))?;
                STANDARD.encode(self.take(len)?)
            }
            _ => return Ok(None),
        };
        self.charge(text.len())?;
        Ok(Some(text))
    }

    fn utf8(&mut self, len: usize, at: usize) -> Result<String, BinaryError> {
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| BinaryError::Malformed {
            detail: "a string is not valid UTF-8",
            offset: at,
        })
    }

    /// A string stored once earlier in the buffer, addressed by the offset of its marker.
    fn reference(&mut self, len: usize, at: usize) -> Result<String, BinaryError> {
        let target = self.size(len)?;
        let unresolved = BinaryError::Malformed {
            detail: "a string reference does not point at an earlier plain string",
            offset: at,
        };
        let marker = *self.buf.get(target).ok_or(unresolved.clone())?;
        if target >= at || (0xC3..=0xC6).contains(&marker) {
            return Err(unresolved);
        }
        let mut earlier = Decoder {
            buf: self.buf,
            pos: target + 1,
            budget: self.budget,
            limit: self.limit,
            node: self.node,
        };
        let text = earlier.string(marker, target)?.ok_or(unresolved)?;
        self.budget = earlier.budget;
        Ok(text)
    }

    fn base64(&mut self, marker: u8, at: usize) -> Result<String, BinaryError> {
        let groups = self.size(if marker % 2 == 1 { 1 } else { 2 })?;
        let padding = self.byte()?;
        // 0..=2 `=` characters, or their bitwise complement when they were left off.
        let (pad, written) = match padding {
            0..=2 => (padding, true),
            0xFD..=0xFF => (!padding, false),
            _ => {
                return Err(BinaryError::Malformed {
                    detail: "invalid base64 padding",
                    offset: at,
                });
            }
        };
        let chars = groups
            .checked_mul(4)
            .and_then(|c| c.checked_sub(usize::from(pad)));
        let chars = chars.ok_or(BinaryError::Malformed {
            detail: "invalid base64 length",
            offset: at,
        })?;
        let raw = self.take(chars / 4 * 3 + (chars % 4) * 3 / 4)?;
        let engine = if marker <= 0x72 { &STANDARD } else { &URL_SAFE };
        let mut text = engine.encode(raw);
        if !written {
            text.truncate(chars);
        }
        Ok(text)
    }

    /// A GUID string stored as 16 bytes, each written low nibble first.
    fn guid_string(&mut self, marker: u8) -> Result<String, BinaryError> {
        let digits = if marker == 0x76 { UPPER_HEX } else { LOWER_HEX };
        let bytes = self.array::<16>()?;
        let mut text = String::with_capacity(38);
        for (index, byte) in bytes.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                text.push('-');
            }
            text.push(char::from(digits[usize::from(byte & 0x0F)]));
            text.push(char::from(digits[usize::from(byte >> 4)]));
        }
        Ok(if marker == 0x77 {
            format!("\"{text}\"")
        } else {
            text
        })
    }

    /// A GUID value in .NET's layout: the first three groups little-endian.
    fn guid_value(&mut self) -> Result<String, BinaryError> {
        let b = self.array::<16>()?;
        let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
        let mut text = String::with_capacity(36);
        for (index, at) in order.into_iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                text.push('-');
            }
            text.push(char::from(LOWER_HEX[usize::from(b[at] >> 4)]));
            text.push(char::from(LOWER_HEX[usize::from(b[at] & 0x0F)]));
        }
        Ok(text)
    }

    /// Characters as 4-bit indices into a 16-character table, low nibble first.
    fn nibble_table(&mut self, marker: u8, at: usize) -> Result<String, BinaryError> {
        let table = match marker {
            0x78 => LOWER_HEX,
            0x79 => UPPER_HEX,
            _ => b" 0123456789:-.TZ",
        };
        let len = usize::from(self.byte()?);
        let bytes = self.take(len.div_ceil(2))?;
        if len % 2 == 1 && bytes.last().is_some_and(|b| b >> 4 != 0) {
            return Err(BinaryError::Malformed {
                detail: "a packed string has a non-zero pad",
                offset: at,
            });
        }
        let nibbles = bytes.iter().flat_map(|b| [b & 0x0F, b >> 4]);
        Ok(nibbles
            .take(len)
            .map(|n| char::from(table[usize::from(n)]))
            .collect())
    }

    /// Characters as `bits`-bit codes packed least significant bit first, added to a base
    /// byte (4, 5 and 6 bits) or plain 7-bit ASCII with a 1 or 2-byte length.
    fn packed(&mut self, marker: u8, at: usize) -> Result<String, BinaryError> {
        let (bits, len, base) = match marker {
            0x7B..=0x7D => {
                let len = usize::from(self.byte()?);
                (usize::from(marker - 0x77), len, self.byte()?)
            }
            _ => (7, self.size(usize::from(marker - 0x7D))?, 0),
        };
        let bytes = self.take((len * bits).div_ceil(8))?;
        let mut text = String::with_capacity(len);
        for index in 0..len {
            let bit = index * bits;
            let low = u16::from(bytes[bit / 8]);
            let high = bytes.get(bit / 8 + 1).map_or(0, |b| u16::from(*b));
            let code = ((low | high << 8) >> (bit % 8)) & ((1 << bits) - 1);
            let byte = u8::try_from(code).unwrap_or(u8::MAX).wrapping_add(base);
            if !byte.is_ascii() {
                return Err(BinaryError::Malformed {
                    detail: "a packed string is not ASCII",
                    offset: at,
                });
            }
            text.push(char::from(byte));
        }
        Ok(text)
    }
}
