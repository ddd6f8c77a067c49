//! A record cut down to the members a query reads, before the JSON decoder sees it.
//!
//! arrow-json's tape decoder tokenises every byte of a record, whatever the schema asks
//! for: an event-count query over `eventType` and `mail.timestamp` pays for every header of
//! every mail. Arrow has no projection-aware skip, so it is written here: one pass over the
//! record that copies the members the decode schema names and steps over the rest, checking
//! as it goes that what it steps over is well-formed JSON.
//!
//! The cut record must decode to exactly the row the whole record decodes to, and only a
//! record the decoder would accept whole may be cut. So the pass is stricter than the tape
//! decoder (which, for one, takes `{"a":1 "b":2}`): it gives up on anything it is not sure
//! of (a surrogate escape, a key written with escapes is kept whole, invalid UTF-8 anywhere,
//! more than one value on the line), and a record it gives up on goes to the decoder as it
//! is, to be judged exactly as before.

use datafusion::arrow::datatypes::{DataType, Fields};

/// The members to keep at one level of an object, by their name in the JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruner {
    members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Member {
    name: Box<[u8]>,
    /// The members to keep inside the value when it is an object; `None`: the whole value.
    inner: Option<Pruner>,
}

enum Keep<'a> {
    No,
    Whole,
    Inner(&'a Pruner),
}

impl Pruner {
    /// What a decoder of these fields reads: a struct's own fields, anything else whole.
    pub fn for_fields(fields: &Fields) -> Self {
        let members = fields
            .iter()
            .map(|f| Member {
                name: f.name().as_bytes().into(),
                inner: match f.data_type() {
                    DataType::Struct(children) if !children.is_empty() => {
                        Some(Self::for_fields(children))
                    }
                    _ => None,
                },
            })
            .collect();
        Self { members }
    }

    /// The pruner for a decode schema, unless it reads all of `mail` as the full schema
    /// has it (`raw`): the rest of a record is small next to its mail's headers.
    pub fn worth_it(decode: &Fields, raw: &Fields) -> Option<Self> {
        let mail = |fields: &Fields| {
            fields
                .iter()
                .find(|f| f.name() == "mail")
                .map(|f| Self::for_fields(&Fields::from(vec![f.as_ref().clone()])))
        };
        (mail(decode) != mail(raw)).then(|| Self::for_fields(decode))
    }

    fn keep(&self, key: &[u8]) -> Keep<'_> {
        match self.members.iter().find(|m| *m.name == *key) {
            None => Keep::No,
            Some(Member { inner: None, .. }) => Keep::Whole,
            Some(Member { inner: Some(p), .. }) => Keep::Inner(p),
        }
    }

    /// Appends `record` with only the kept members to `out`; false, with `out` as it was,
    /// when the record is not plainly one well-formed JSON object (then it must be decoded
    /// as it is).
    pub fn prune(&self, record: &[u8], out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let mut scan = Scan {
            b: record,
            i: 0,
            block: 0,
            block_at: 0,
            block_end: 0,
        };
        let cut = simdutf8::basic::from_utf8(record).is_ok() && scan.record(self, out).is_some();
        if !cut {
            out.truncate(start);
        }
        cut
    }
}

/// Deepest nesting stepped over; deeper records are refused before they get here.
const MAX_DEPTH: u32 = 127;

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    /// A bit for each `"` and `\\` in `b[block_at..block_end]` (at most 64 bytes).
    block: u64,
    block_at: usize,
    block_end: usize,
}

impl Scan<'_> {
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    fn next(&mut self) -> Option<u8> {
        let b = *self.b.get(self.i)?;
        self.i += 1;
        Some(b)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        self.ws();
        (self.next()? == want).then_some(())
    }

    /// One object and nothing but whitespace after it.
    fn record(&mut self, keep: &Pruner, out: &mut Vec<u8>) -> Option<()> {
        self.eat(b'{')?;
        self.object(keep, out)?;
        self.ws();
        (self.i == self.b.len()).then_some(())
    }

    /// The members of an object whose `{` has been read, the kept ones copied.
    fn object(&mut self, keep: &Pruner, out: &mut Vec<u8>) -> Option<()> {
        out.push(b'{');
        self.ws();
        if self.b.get(self.i) == Some(&b'}') {
            self.i += 1;
            out.push(b'}');
            return Some(());
        }
        let mut first = true;
        loop {
            self.eat(b'"')?;
            let key_at = self.i - 1;
            let escaped = self.string()?;
            let key = &self.b[key_at..self.i];
            self.eat(b':')?;
            self.ws();
            // A key written with escapes may name a kept member: keep it whole.
            let keep = if escaped {
                Keep::Whole
            } else {
                keep.keep(&key[1..key.len() - 1])
            };
            match keep {
                Keep::No => self.value()?,
                Keep::Inner(inner) if self.b.get(self.i) == Some(&b'{') => {
                    self.i += 1;
                    member(out, &mut first, key);
                    self.object(inner, out)?;
                }
                Keep::Inner(_) | Keep::Whole => {
                    let value_at = self.i;
                    self.value()?;
                    member(out, &mut first, key);
                    out.extend_from_slice(&self.b[value_at..self.i]);
                }
            }
            self.ws();
            match self.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
        out.push(b'}');
        Some(())
    }

    /// The rest of a string whose `"` has been read; whether it holds escapes.
    fn string(&mut self) -> Option<bool> {
        let mut escaped = false;
        loop {
            let at = self.stop()?;
            let stop = self.b[at];
            self.i = at + 1;
            if stop == b'"' {
                return Some(escaped);
            }
            escaped = true;
            match self.next()? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                b'u' => {
                    let hex = self.b.get(self.i..self.i + 4)?;
                    if !hex.iter().all(u8::is_ascii_hexdigit) {
                        return None;
                    }
                    let code = hex.iter().fold(0u32, |n, &h| {
                        n << 4 | char::from(h).to_digit(16).unwrap_or_default()
                    });
                    // A surrogate must pair up: left to the decoder to judge.
                    if (0xD800..=0xDFFF).contains(&code) {
                        return None;
                    }
                    self.i += 4;
                }
                _ => return None,
            }
        }
    }

    /// Where the next `"` or `\\` is, at or after `i`. An SES record's strings are mostly
    /// short (keys, ids, header names): a search per string cost more in set-up than in
    /// searching. One mask of 64 bytes answers for every string in them.
    fn stop(&mut self) -> Option<usize> {
        let mut at = self.i;
        loop {
            if at < self.block_at || at >= self.block_end {
                self.load_block(at);
            }
            let rest = self.block >> (at - self.block_at);
            if rest != 0 {
                return Some(at + rest.trailing_zeros() as usize);
            }
            at = self.block_end;
            if at >= self.b.len() {
                return None;
            }
        }
    }

    fn load_block(&mut self, at: usize) {
        let end = (at + 64).min(self.b.len());
        self.block = match self.b.get(at..at + 64) {
            Some(full) => stops64(full.try_into().expect("64 bytes")),
            None => {
                // The record's last bytes: padded with zeros, which are neither stop.
                let mut padded = [0; 64];
                padded[..end - at].copy_from_slice(&self.b[at..end]);
                stops64(&padded)
            }
        };
        (self.block_at, self.block_end) = (at, end);
    }

    /// Steps over one value, checking it is well-formed. Containers are followed with a
    /// stack of bits (1: object, 0: list), not recursion.
    fn value(&mut self) -> Option<()> {
        let mut open: u128 = 0;
        let mut depth = 0u32;
        loop {
            self.ws();
            match self.next()? {
                b'"' => {
                    self.string()?;
                }
                b @ (b'{' | b'[') => {
                    self.ws();
                    let close = if b == b'{' { b'}' } else { b']' };
                    if self.b.get(self.i) == Some(&close) {
                        self.i += 1;
                    } else {
                        if depth == MAX_DEPTH {
                            return None;
                        }
                        depth += 1;
                        open = open << 1 | u128::from(b == b'{');
                        if b == b'{' {
                            self.key()?;
                        }
                        continue;
                    }
                }
                // As the decoder reads a number: its characters, judged when converted.
                b'-' | b'0'..=b'9' => {
                    while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') =
                        self.b.get(self.i)
                    {
                        self.i += 1;
                    }
                }
                b't' => self.literal(b"rue")?,
                b'f' => self.literal(b"alse")?,
                b'n' => self.literal(b"ull")?,
                _ => return None,
            }
            // After a value: close what it ends, or go on to the next one.
            loop {
                if depth == 0 {
                    return Some(());
                }
                self.ws();
                let in_object = open & 1 == 1;
                match (self.next()?, in_object) {
                    (b',', true) => {
                        self.key()?;
                        break;
                    }
                    (b',', false) => break,
                    (b'}', true) | (b']', false) => {
                        open >>= 1;
                        depth -= 1;
                    }
                    _ => return None,
                }
            }
        }
    }

    /// A member's key and its colon, inside a value stepped over.
    fn key(&mut self) -> Option<()> {
        self.eat(b'"')?;
        self.string()?;
        self.eat(b':')
    }

    fn literal(&mut self, rest: &[u8]) -> Option<()> {
        let end = self.i + rest.len();
        (self.b.get(self.i..end)? == rest).then(|| self.i = end)
    }
}

/// A bit for each byte of `block` that is `"` or `\\`, lowest bit first.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn stops64(block: &[u8; 64]) -> u64 {
    // SAFETY: SSE2 is part of x86-64 itself: every CPU this code is built for has it.
    // (Calling a `target_feature` function is unsafe even when, as here, the feature is
    // one the build always enables.)
    unsafe { stops64_sse2(block) }
}

/// Sixteen bytes per compare; the words are loaded as integers, so nothing here reads
/// through a pointer.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn stops64_sse2(block: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x, _mm_set1_epi8,
    };
    let quote = _mm_set1_epi8(b'"' as i8);
    let backslash = _mm_set1_epi8(b'\\' as i8);
    let word = |at: usize| i64::from_le_bytes(block[at..at + 8].try_into().expect("8 bytes"));
    let mut mask = 0;
    for k in 0..4 {
        let v = _mm_set_epi64x(word(k * 16 + 8), word(k * 16));
        let hits = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash));
        mask |= u64::from(_mm_movemask_epi8(hits) as u16) << (k * 16);
    }
    mask
}

#[cfg(not(target_arch = "x86_64"))]
fn stops64(block: &[u8; 64]) -> u64 {
    block
        .iter()
        .enumerate()
        .fold(0, |m, (k, &c)| m | u64::from(c == b'"' || c == b'\\') << k)
}

fn member(out: &mut Vec<u8>, first: &mut bool, key: &[u8]) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    out.extend_from_slice(key);
    out.push(b':');
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Field;

    fn pruner() -> Pruner {
        Pruner::for_fields(&narrow_fields())
    }

    fn narrow_fields() -> Fields {
        let mail = Fields::from(vec![
            Field::new("timestamp", DataType::Utf8, true),
            Field::new(
                "commonHeaders",
                DataType::Struct(Fields::from(vec![Field::new(
                    "subject",
                    DataType::Utf8,
                    true,
                )])),
                true,
            ),
        ]);
        Fields::from(vec![
            Field::new("eventType", DataType::Utf8, true),
            Field::new("mail", DataType::Struct(mail), true),
        ])
    }

    fn cut(record: &str) -> Option<String> {
        let mut out = Vec::new();
        pruner()
            .prune(record.as_bytes(), &mut out)
            .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn is_left_out_when_all_of_mail_is_read() {
        let raw = crate::table::schema::raw_schema();
        let without = |name: &str| -> Fields {
            raw.fields()
                .iter()
                .filter(|f| f.name() != name)
                .cloned()
                .collect()
        };
        assert_eq!(Pruner::worth_it(raw.fields(), raw.fields()), None);
        assert_eq!(Pruner::worth_it(&without("send"), raw.fields()), None);
        assert!(Pruner::worth_it(&without("mail"), raw.fields()).is_some());
        let fields = pruner();
        assert_eq!(
            Pruner::worth_it(&narrow_fields(), raw.fields()),
            Some(fields)
        );
    }

    /// The 64-byte masks find what a byte-by-byte search finds, from any position, across
    /// blocks and in a record's short last block.
    #[test]
    fn finds_every_quote_and_backslash() {
        let mut seed = 7u64;
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 127, 128, 129, 200, 300] {
            let record: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    // Mostly letters, now and then a stop or a byte one off a stop.
                    match seed >> 58 {
                        0 => b'"',
                        1 => b'\\',
                        2 => b'#',
                        3 => b']',
                        4 => 0xa2,
                        5 => 0xdc,
                        _ => b'a',
                    }
                })
                .collect();
            let mut scan = Scan {
                b: &record,
                i: 0,
                block: 0,
                block_at: 0,
                block_end: 0,
            };
            // Forwards as the scanner goes, and from arbitrary places (a fresh block).
            for i in (0..len).chain((0..len).rev().step_by(7)) {
                scan.i = i;
                let naive = record[i..]
                    .iter()
                    .position(|&c| c == b'"' || c == b'\\')
                    .map(|at| i + at);
                assert_eq!(scan.stop(), naive, "{len} {i}");
            }
        }
    }

    #[test]
    fn keeps_only_what_is_read() {
        let record = r#" {"eventType":"Send", "x":[1,{"a":[true,false,null]},-2.5e3],
            "mail":{"headers":[{"name":"n","value":"v\"\\\u00e9"}],"timestamp":"2024",
            "commonHeaders":{"from":["a"],"subject":"hi"}},"mail":7} "#;
        assert_eq!(
            cut(record).as_deref(),
            Some(
                r#"{"eventType":"Send","mail":{"timestamp":"2024","commonHeaders":{"subject":"hi"}},"mail":7}"#
            )
        );
        assert_eq!(cut("{}").as_deref(), Some("{}"));
        assert_eq!(cut(r#"{"a":{}}"#).as_deref(), Some("{}"));
        assert_eq!(cut(r#"{"mail":null}"#).as_deref(), Some(r#"{"mail":null}"#));
        // An escaped key may be a kept member in disguise.
        assert_eq!(
            cut(r#"{"event\u0054ype":"Send","\u0078":1}"#).as_deref(),
            Some(r#"{"event\u0054ype":"Send","\u0078":1}"#)
        );
    }

    #[test]
    fn gives_up_on_what_it_is_not_sure_of() {
        for record in [
            r#"{"eventType":"Send" "mail":{}}"#,
            r#"{"a":1,}"#,
            r#"{"a":[1,,2]}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":{"b" 1}}"#,
            r#"{"a":tru}"#,
            r#"{"a":"\q"}"#,
            r#"{"a":"\ud83d\ude00"}"#,
            r#"{"a":"\u12g4"}"#,
            r#"{"a":"unterminated}"#,
            r#"{"a":[}"#,
            r#"{"a":{]}"#,
            r#"{"a":1}{"b":2}"#,
            r#"{"a":1} x"#,
            r#"[1]"#,
            r#"{"a":1"#,
            "",
        ] {
            assert_eq!(cut(record), None, "{record}");
        }
        let mut bad_utf8 = br#"{"a":"x"}"#.to_vec();
        bad_utf8[6] = 0xff;
        assert!(!pruner().prune(&bad_utf8, &mut Vec::new()));
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert_eq!(cut(&deep), None);
        let fine = format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(cut(&fine).as_deref(), Some("{}"));
    }
}
