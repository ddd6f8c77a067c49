//! Object bytes -> records: decompression as a stream, and the record splitter. Nothing here
//! knows about Arrow; `decode.rs` turns the records into batches.
//!
//! Memory is bounded by the window, not the object: gzip is inflated a window at a time
//! (`WINDOW` bytes plus the one record that straddles the edge), so a 2 MB gzip bomb costs
//! a few windows, not 4 GB. A record longer than `MAX_RECORD_BYTES` or nested deeper than
//! `MAX_DEPTH` is not an SES event: it is skipped by the splitter and never reaches the JSON
//! decoder (whose recursion a deeply nested record would otherwise exhaust).
//!
//! Records are found by our own splitter, not by lines: SES writes one JSON object per line,
//! but other producers write them back to back (`}{`) or with CRLF and blank lines, and
//! objects get truncated. The splitter tracks strings and nesting, so `}{` inside a subject
//! is not a boundary, and it resynchronises on the next line when a record is cut short, so
//! one bad record never costs the rest of its object.

use std::io::Read;
use std::ops::Range;

use bytes::Bytes;

/// Decompressed bytes read per window.
pub const WINDOW: usize = 8 << 20;
/// A record longer than this is skipped (SES records are a few KB; Firehose's largest
/// buffer is 128 MB of records).
pub const MAX_RECORD_BYTES: usize = 64 << 20;
/// A record nesting objects/arrays deeper than this is skipped (SES nests at most 5).
pub const MAX_DEPTH: usize = 100;

/// How an object's byte stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Every byte arrived and, for gzip, every member's CRC and length matched.
    Intact,
    /// The gzip stream stops mid-way (a cut copy): what came before the cut is sound.
    Truncated { after: u64 },
    /// The gzip data is corrupt (bad deflate data, or a CRC/length mismatch): bytes already
    /// inflated may be garbage.
    Corrupt { after: u64, cause: String },
}

/// An object's content as a stream of decompressed bytes. gzip is recognised by its magic
/// bytes, not the object's name: buckets hold `.gz` objects that are plain and plain-named
/// objects that are gzip. Concatenated gzip members (what `cat a.gz b.gz` makes) are one
/// stream.
pub enum Inflow {
    /// Not compressed: the object's bytes are the content, handed over whole (no copy).
    Plain(Option<Bytes>),
    Gzip(Box<Gunzip>),
    /// Nothing more to hand over; the stream ended this way.
    Ended(Ending),
}

/// gzip members inflated straight into the window's memory.
///
/// flate2's readers (`MultiGzDecoder`) fill a caller's initialised buffer, so every window
/// was zeroed before it was inflated into: a memset of everything decompressed, about 4%
/// of a lookup. Here flate2 still parses each member's header (`bufread::GzDecoder`),
/// inflates (`Decompress::decompress_vec`, which writes into a `Vec`'s spare capacity)
/// and computes the CRC; what is ours is the order of members and the 8-byte trailer
/// check. The outcome is `MultiGzDecoder`'s, case by case (see the tests).
pub struct Gunzip {
    raw: Bytes,
    /// Where the next unread compressed byte is in `raw`.
    at: usize,
    part: Part,
    inflate: flate2::Decompress,
    crc: flate2::Crc,
    inflated: u64,
    /// What the gzip trailer says the (last member's) content size is: a hint that
    /// sizes the buffer, so a 90 KB object does not get an 8 MB window.
    expected: u64,
}

/// Where in a gzip member the next byte is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Header,
    Body,
    Trailer,
}

/// What one `Inflow::next` gave.
pub enum Flow {
    Data(Bytes),
    End(Ending),
}

impl Inflow {
    pub fn new(raw: Bytes) -> Self {
        if is_gzip(&raw) {
            let trailer = raw.len().checked_sub(4).map(|at| &raw[at..]);
            let expected = trailer.map_or(0, |t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]));
            Inflow::Gzip(Box::new(Gunzip {
                raw,
                at: 0,
                part: Part::Header,
                inflate: flate2::Decompress::new(false),
                crc: flate2::Crc::new(),
                inflated: 0,
                expected: u64::from(expected),
            }))
        } else {
            Inflow::Plain(Some(raw))
        }
    }

    /// How the stream ended, once nothing more is to come (the last data may still be
    /// with the caller).
    pub fn ending(&self) -> Option<&Ending> {
        match self {
            Inflow::Ended(ending) => Some(ending),
            _ => None,
        }
    }

    pub fn is_gzip(&self) -> bool {
        matches!(self, Inflow::Gzip(_))
    }

    /// The next piece of content, with `prefix` (bytes the caller carries over) in front
    /// of it; at most `want` new bytes (possibly none, just before the end). `End` once
    /// nothing more can come.
    pub fn next(&mut self, prefix: &[u8], want: usize) -> Flow {
        match self {
            Inflow::Ended(ending) => Flow::End(ending.clone()),
            Inflow::Plain(data) => {
                let data = data.take().unwrap_or_default();
                *self = Inflow::Ended(Ending::Intact);
                if prefix.is_empty() {
                    Flow::Data(data)
                } else {
                    Flow::Data(Bytes::from([prefix, &data[..]].concat()))
                }
            }
            Inflow::Gzip(gunzip) => {
                // Ask for what the trailer says is left (and a little more, to see the end
                // in the same call), never less than 64 KiB nor more than `want`. Past
                // it, the hint was wrong (it is the last member's size, and a damaged or
                // hostile object's trailer says anything): whole windows, or a long
                // record would be carried over 64 KiB at a time, copied each time.
                let left = gunzip.expected.saturating_sub(gunzip.inflated) as usize;
                let want = match left {
                    0 => want,
                    left => want.min(left.saturating_add(4096).max(64 << 10)),
                };
                let mut buf = Vec::with_capacity(prefix.len() + want);
                buf.extend_from_slice(prefix);
                let start = buf.len();
                let ending = gunzip.fill(&mut buf, start + want);
                gunzip.inflated += (buf.len() - start) as u64;
                // What came before the end is handed over first; the end comes next time.
                if let Some(end) = ending {
                    *self = Inflow::Ended(end);
                }
                Flow::Data(Bytes::from(buf))
            }
        }
    }
}

impl Gunzip {
    /// Inflates into `buf` up to `limit` bytes; `Some` once the stream has ended.
    fn fill(&mut self, buf: &mut Vec<u8>, limit: usize) -> Option<Ending> {
        let start = buf.len();
        let after = |buf: &Vec<u8>, inflated: u64| inflated + (buf.len() - start) as u64;
        loop {
            match self.part {
                Part::Header => {
                    // flate2 parses the header (name, comment, extra field, header CRC).
                    let rest = &self.raw[self.at..];
                    let mut header = flate2::bufread::GzDecoder::new(rest);
                    if header.header().is_none() {
                        // Its error, which reading hands over.
                        let e = header
                            .read(&mut [0])
                            .err()
                            .unwrap_or_else(|| std::io::ErrorKind::InvalidInput.into());
                        return Some(header_failed(e, after(buf, self.inflated)));
                    }
                    self.at += rest.len() - header.get_ref().len();
                    self.inflate.reset(false);
                    self.crc.reset();
                    self.part = Part::Body;
                }
                Part::Body => {
                    if buf.len() >= limit {
                        return None;
                    }
                    let (in_before, out_before) = (self.inflate.total_in(), buf.len());
                    // Writes into `buf`'s spare capacity: the `limit` it was made with.
                    let status = self.inflate.decompress_vec(
                        &self.raw[self.at..],
                        buf,
                        flate2::FlushDecompress::None,
                    );
                    self.at += (self.inflate.total_in() - in_before) as usize;
                    self.crc.update(&buf[out_before..]);
                    match status {
                        Ok(flate2::Status::StreamEnd) => self.part = Part::Trailer,
                        Ok(_)
                            if buf.len() == out_before && self.inflate.total_in() == in_before =>
                        {
                            // No progress with room to spare: the input ran out mid-stream.
                            return Some(Ending::Truncated {
                                after: after(buf, self.inflated),
                            });
                        }
                        Ok(_) => {}
                        Err(_) => {
                            return Some(Ending::Corrupt {
                                after: after(buf, self.inflated),
                                cause: "corrupt deflate stream".into(),
                            });
                        }
                    }
                }
                Part::Trailer => {
                    let Some(trailer) = self.raw.get(self.at..self.at + 8) else {
                        return Some(Ending::Truncated {
                            after: after(buf, self.inflated),
                        });
                    };
                    let crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
                    let size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
                    if crc != self.crc.sum() || size != self.crc.amount() {
                        return Some(Ending::Corrupt {
                            after: after(buf, self.inflated),
                            cause: "corrupt gzip stream does not have a matching checksum".into(),
                        });
                    }
                    self.at += 8;
                    if self.at == self.raw.len() {
                        return Some(Ending::Intact);
                    }
                    self.part = Part::Header;
                }
            }
        }
    }
}

/// How a member header that could not be read ends the stream: cut short, or not gzip.
fn header_failed(e: std::io::Error, after: u64) -> Ending {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => Ending::Truncated { after },
        _ => Ending::Corrupt {
            after,
            cause: e.to_string(),
        },
    }
}

pub fn is_gzip(raw: &[u8]) -> bool {
    raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b
}

/// One piece of an object's text, as the splitter sees it. Ranges are in the splitter's
/// buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// A complete top-level JSON object (braces balanced outside strings).
    Record(Range<usize>),
    /// Bytes that cannot be a record; scanning resumed after them.
    Garbage(Range<usize>, &'static str),
    /// Bytes that cannot be a record and run past the end of the buffer while more is to
    /// come: the caller skips to the next line of the following bytes.
    GarbageToNextLine(Range<usize>, &'static str),
    /// A record that runs past the end of the buffer while more is to come: the caller
    /// carries it over from this offset.
    Partial(usize),
}

pub const NOT_JSON: &str = "not a JSON object";
const CUT_AT_END: &str = "record is cut off at the end of the object";
const TOO_DEEP: &str = "record nests objects or arrays more than 100 levels deep";

/// Finds record boundaries in decompressed bytes. Yields `(piece, line)` with the 1-based
/// line where the piece starts. With `more` set, the buffer is not the end of the object:
/// a piece that reaches its end is `Partial` or `GarbageToNextLine`, never cut.
pub struct RecordSplitter<'a> {
    buf: &'a [u8],
    pub pos: usize,
    pub line: usize,
    more: bool,
}

impl<'a> RecordSplitter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self::resume(buf, 0, 1, false)
    }

    pub fn resume(buf: &'a [u8], pos: usize, line: usize, more: bool) -> Self {
        Self {
            buf,
            pos,
            line,
            more,
        }
    }

    /// Ends a piece that cannot be a record at `end`; scanning resumes there.
    fn garbage(&mut self, start: usize, end: usize, why: &'static str) -> Piece {
        if end >= self.buf.len() && self.more {
            self.pos = self.buf.len();
            return Piece::GarbageToNextLine(start..end, why);
        }
        self.pos = end;
        Piece::Garbage(start..end, why)
    }

    /// A piece that ran off the end of the buffer: carried over, or cut if this is the end.
    fn ran_out(&mut self, start: usize, line: usize) -> Piece {
        if self.more {
            self.pos = start;
            self.line = line;
            return Piece::Partial(start);
        }
        self.pos = self.buf.len();
        Piece::Garbage(start..self.buf.len(), CUT_AT_END)
    }

    fn line_end(&self, from: usize) -> usize {
        memchr::memchr(b'\n', &self.buf[from..]).map_or(self.buf.len(), |i| from + i)
    }
}

impl Iterator for RecordSplitter<'_> {
    type Item = (Piece, usize);

    fn next(&mut self) -> Option<Self::Item> {
        let buf = self.buf;
        while self.pos < buf.len() {
            match buf[self.pos] {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                // A UTF-8 byte-order mark at the start of an object is whitespace to us.
                0xEF if buf[self.pos..].starts_with(&[0xEF, 0xBB, 0xBF]) => self.pos += 2,
                _ => break,
            }
            self.pos += 1;
        }
        if self.pos >= buf.len() {
            return None;
        }
        let start = self.pos;
        let line = self.line;
        if buf[start] != b'{' {
            let end = self.line_end(start);
            return Some((self.garbage(start, end, NOT_JSON), line));
        }
        let mut depth = 0usize;
        let mut i = start;
        while i < buf.len() {
            match buf[i] {
                b'"' => {
                    // Jump through the string: only `"`, `\` and a raw newline matter.
                    i += 1;
                    loop {
                        let found = buf
                            .get(i..)
                            .and_then(|rest| memchr::memchr3(b'"', b'\\', b'\n', rest));
                        let Some(j) = found else {
                            return Some((self.ran_out(start, line), line));
                        };
                        match buf[i + j] {
                            b'"' => {
                                i += j;
                                break;
                            }
                            b'\\' => i += j + 2,
                            // A raw newline cannot be inside a JSON string: the record
                            // was cut and the next line is a new start.
                            _ => {
                                let end = i + j;
                                let why = "record is cut off (unterminated string)";
                                return Some((self.garbage(start, end, why), line));
                            }
                        }
                    }
                }
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        let end = self.line_end(i);
                        return Some((self.garbage(start, end, TOO_DEEP), line));
                    }
                }
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        self.pos = i + 1;
                        return Some((Piece::Record(start..i + 1), line));
                    }
                }
                b'\n' => {
                    self.line += 1;
                    // SES never breaks a record across lines; a line that starts with `{`
                    // while a record is still open means that record was cut short.
                    if buf.get(i + 1) == Some(&b'{') {
                        let why = "record is cut off (next record starts on the next line)";
                        self.pos = i + 1;
                        return Some((Piece::Garbage(start..i, why), line));
                    }
                }
                _ => {}
            }
            i += 1;
        }
        Some((self.ran_out(start, line), line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<(String, usize)> {
        RecordSplitter::new(text.as_bytes())
            .map(|(p, line)| match p {
                Piece::Record(r) => (text[r].to_string(), line),
                Piece::Garbage(r, why) => (format!("BAD({why}):{}", &text[r]), line),
                other => panic!("{other:?} at the end of the object"),
            })
            .collect()
    }

    #[test]
    fn splits_lines_back_to_back_crlf_and_blank_lines() {
        let text = "{\"a\":1}\r\n\r\n{\"b\":\"}{\"}{\"c\":[{}]}\n\n";
        assert_eq!(
            pieces(text),
            vec![
                ("{\"a\":1}".to_string(), 1),
                ("{\"b\":\"}{\"}".to_string(), 3),
                ("{\"c\":[{}]}".to_string(), 3),
            ]
        );
    }

    #[test]
    fn escaped_quotes_do_not_end_strings() {
        let text = r#"{"s":"a \"}{\" b\\"}{"t":1}"#;
        assert_eq!(pieces(text).len(), 2);
    }

    #[test]
    fn resynchronises_after_a_cut_record() {
        let text =
            "{\"a\":{\"b\":1\n{\"c\":2}\n{\"d\":\"unterminated\n{\"e\":3}\ngarbage here\n{\"f\":4";
        let got = pieces(text);
        assert_eq!(
            got[0],
            (
                "BAD(record is cut off (next record starts on the next line)):{\"a\":{\"b\":1"
                    .to_string(),
                1
            )
        );
        assert_eq!(got[1], ("{\"c\":2}".to_string(), 2));
        assert_eq!(got[2].1, 3);
        assert!(
            got[2]
                .0
                .starts_with("BAD(record is cut off (unterminated string))")
        );
        assert_eq!(got[3], ("{\"e\":3}".to_string(), 4));
        assert_eq!(got[4], (format!("BAD({NOT_JSON}):garbage here"), 5));
        assert_eq!(got[5].1, 6);
        assert!(got[5].0.starts_with("BAD(record is cut off at the end"));
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn deep_nesting_is_garbage_up_to_the_line_end() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(30_000), "]".repeat(30_000));
        let text = format!("{{\"x\":1}}\n{deep}\n{{\"y\":2}}\n");
        let got = pieces(&text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], ("{\"x\":1}".to_string(), 1));
        assert!(
            got[1].0.starts_with(&format!("BAD({TOO_DEEP})")),
            "{}",
            &got[1].0[..80]
        );
        assert_eq!(got[1].1, 2);
        assert_eq!(got[2], ("{\"y\":2}".to_string(), 3));
    }

    #[test]
    fn a_buffer_with_more_to_come_carries_the_last_record() {
        let text = b"{\"a\":1}\n{\"b\":\"x";
        let mut s = RecordSplitter::resume(text, 0, 1, true);
        assert_eq!(s.next(), Some((Piece::Record(0..7), 1)));
        assert_eq!(s.next(), Some((Piece::Partial(8), 2)));
        let text = b"{\"a\":1}\nnot json and no newline yet";
        let mut s = RecordSplitter::resume(text, 0, 1, true);
        s.next();
        assert!(matches!(
            s.next(),
            Some((Piece::GarbageToNextLine(_, NOT_JSON), 2))
        ));
    }

    fn inflate_all(raw: Bytes, window: usize) -> (Vec<u8>, Ending) {
        let mut inflow = Inflow::new(raw);
        let mut out = Vec::new();
        loop {
            match inflow.next(&[], window) {
                Flow::Data(d) => out.extend_from_slice(&d),
                Flow::End(e) => return (out, e),
            }
        }
    }

    #[test]
    fn plain_and_gzip_are_told_by_their_bytes_and_damage_is_classified() {
        use std::io::Write;
        let plain = Bytes::from_static(b"{\"a\":1}\n");
        assert_eq!(
            inflate_all(plain.clone(), 3),
            (plain.to_vec(), Ending::Intact)
        );
        let text = b"{\"a\":1}\n".repeat(1000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(
            inflate_all(Bytes::from(gz.clone()), 100),
            (text.clone(), Ending::Intact)
        );
        let (cut, ending) = inflate_all(Bytes::from(gz[..gz.len() - 10].to_vec()), 100);
        assert!(matches!(ending, Ending::Truncated { .. }), "{ending:?}");
        assert!(text.starts_with(&cut));
        // The CRC is the last 8 bytes but 4: flip one bit of it.
        let mut bad = gz.clone();
        let n = bad.len();
        bad[n - 6] ^= 1;
        let (_, ending) = inflate_all(Bytes::from(bad), 100);
        assert!(matches!(ending, Ending::Corrupt { .. }), "{ending:?}");
    }
    /// What flate2's `MultiGzDecoder` makes of `raw`: the reading `Gunzip` replaced, and
    /// the oracle it must agree with.
    fn multi_gz_decoder(raw: &[u8]) -> (Vec<u8>, Ending) {
        let mut decoder = flate2::bufread::MultiGzDecoder::new(raw);
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match decoder.read(&mut chunk) {
                Ok(0) => return (out, Ending::Intact),
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    let after = out.len() as u64;
                    return (out, Ending::Truncated { after });
                }
                Err(e) => {
                    let after = out.len() as u64;
                    let cause = e.to_string();
                    return (out, Ending::Corrupt { after, cause });
                }
            }
        }
    }

    fn gzip(text: &[u8], builder: flate2::GzBuilder) -> Vec<u8> {
        use std::io::Write;
        let mut gz = builder.write(Vec::new(), flate2::Compression::default());
        gz.write_all(text).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn gzip_is_inflated_as_multi_gz_decoder_inflates_it_whole_cut_or_damaged() {
        let text: Vec<u8> = (0..3000u32)
            .flat_map(|i| {
                format!(
                    "{{\"n\":{},\"s\":\"{}\"}}\n",
                    i * 7919 % 1000,
                    "x".repeat((i % 13) as usize)
                )
                .into_bytes()
            })
            .collect();
        let one = gzip(&text, flate2::GzBuilder::new());
        let named = gzip(
            &text[..500],
            flate2::GzBuilder::new()
                .filename("a.json")
                .comment("c")
                .extra(vec![1, 2, 3]),
        );
        let empty = gzip(b"", flate2::GzBuilder::new());
        let two = [one.clone(), named.clone()].concat();
        let small = [
            gzip(&text[..300], flate2::GzBuilder::new()),
            empty.clone(),
            named.clone(),
        ]
        .concat();
        let mut cases: Vec<Vec<u8>> = vec![
            one.clone(),
            two.clone(),
            empty.clone(),
            small.clone(),
            [two.clone(), vec![0; 10]].concat(),
            [two.clone(), b"x".to_vec()].concat(),
            [two.clone(), one[..5].to_vec()].concat(),
        ];
        // Cut anywhere, and one bit flipped anywhere (header, data, CRC, size).
        cases.extend((2..small.len()).map(|n| small[..n].to_vec()));
        for at in 0..small.len() {
            for bit in [0x01, 0x80] {
                let mut bad = small.clone();
                bad[at] ^= bit;
                cases.push(bad);
            }
        }
        for at in (0..one.len()).step_by(97) {
            let mut bad = one.clone();
            bad[at] ^= 0x10;
            cases.push(bad);
        }
        // (A flipped magic byte makes the object plain text: not the decoder's business.)
        for raw in cases.into_iter().filter(|raw| is_gzip(raw)) {
            let expected = multi_gz_decoder(&raw);
            for window in [100, 64 << 10, 8 << 20] {
                let (out, ending) = inflate_all(Bytes::from(raw.clone()), window);
                let case = format!("{} bytes, window {window}: {ending:?}", raw.len());
                match (&ending, &expected.1) {
                    // flate2's reader drops what the call that met bad deflate data had
                    // inflated before it; here it is handed over (and counted in
                    // `after`), so the damage is placed where it is.
                    (
                        Ending::Corrupt { after, cause },
                        Ending::Corrupt {
                            cause: expected_cause,
                            ..
                        },
                    ) if cause == "corrupt deflate stream" => {
                        assert_eq!(cause, expected_cause, "{case}");
                        assert!(out.starts_with(&expected.0), "{case}");
                        assert_eq!(*after, out.len() as u64, "{case}");
                    }
                    _ => assert_eq!((out, ending), expected, "{case}"),
                }
            }
        }
    }
}
