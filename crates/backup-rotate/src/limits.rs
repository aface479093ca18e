//! Bounds on what a tar stream may make a reader hold in memory.
//!
//! The tar crate reads a GNU long name (`L`), long link name (`K`) or PAX
//! extension (`x`) whole into memory before it hands out the entry they
//! describe, however large the header says it is: a 1.5 MB .tar.gz with a
//! 1.5 GB long name cost 6 GB of RAM. [`Bounded`] sits between the
//! decompressor and the tar crate and reads every header block as it
//! passes, so a header's size field is checked before the tar crate reads
//! (and allocates) the extension it announces:
//!
//! - a long name or long link name is at most [`NAME_MAX`] bytes (Linux's
//!   `PATH_MAX`), plus its NUL;
//! - a PAX extension (`x` or `g`) is at most [`PAX_MAX`] bytes;
//! - a GNU sparse map (the extension blocks after an `S` header) is at most
//!   [`SPARSE_MAP_MAX`] bytes;
//! - and, once the tar crate has put it together, every entry's name and
//!   link name is at most [`NAME_MAX`] bytes, whichever header it came from.
//!
//! Where headers are is not guessed: after each entry, the reader tells
//! [`Bounds::entered`] the entry the tar crate returned, and the next
//! header is expected right after that entry's data. Errors name the entry
//! by at most [`SHOWN`] bytes of its name.

use std::cell::RefCell;
use std::io::{self, Read};
use std::rc::Rc;

/// The longest name or link name accepted, in bytes (Linux's PATH_MAX).
pub const NAME_MAX: u64 = 4096;
/// The largest PAX extension accepted.
pub const PAX_MAX: u64 = 1 << 20;
/// The largest GNU sparse map accepted (about 176,000 pieces).
pub const SPARSE_MAP_MAX: u64 = 4 << 20;
/// The most pieces `create` stores as a sparse map (about 1.6 MB of it,
/// well within [`SPARSE_MAP_MAX`]); a file in more pieces is stored whole.
pub const SPARSE_PIECES_MAX: usize = 65_536;
/// How much of a name an error shows.
pub const SHOWN: usize = 100;

const BLOCK: u64 = 512;

/// A name for messages: at most [`SHOWN`] bytes, escaped, marked when cut.
pub fn show(name: &[u8]) -> String {
    let cut = name.len() > SHOWN;
    let shown = &name[..name.len().min(SHOWN)];
    let text = format!("{:?}", String::from_utf8_lossy(shown));
    if cut {
        format!(
            "{}…\" ({} bytes, first {SHOWN} shown)",
            &text[..text.len() - 1],
            name.len()
        )
    } else {
        text
    }
}

/// Where the stream is, as far as the bounds are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Zone {
    /// Expecting a header block at this offset (extension data before it).
    Header(u64),
    /// An entry's last header has passed; what may follow before the entry
    /// is handed out (a sparse map) ends at this offset.
    Tail(u64),
    /// The end of the archive, or a header the tar crate will refuse.
    Off,
}

struct State {
    pos: u64,
    zone: Zone,
    block: [u8; BLOCK as usize],
    /// The start of a long name's data and the first bytes of it, to name
    /// the entry in errors.
    long_name: Option<(u64, Vec<u8>)>,
    /// A refusal, repeated to every later read.
    refused: Option<String>,
}

/// The reader the tar crate reads through.
pub struct Bounded<R> {
    inner: R,
    state: Rc<RefCell<State>>,
}

/// The handle the entry loop keeps: [`Bounds::entered`] after every entry.
#[derive(Clone)]
pub struct Bounds(Rc<RefCell<State>>);

/// Wraps a decompressed tar stream.
pub fn bounded<R: Read>(inner: R) -> (Bounded<R>, Bounds) {
    let state = Rc::new(RefCell::new(State {
        pos: 0,
        zone: Zone::Header(0),
        block: [0; BLOCK as usize],
        long_name: None,
        refused: None,
    }));
    (
        Bounded {
            inner,
            state: state.clone(),
        },
        Bounds(state),
    )
}

fn refusal(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl Bounds {
    /// Checks the entry the tar crate just returned (before any of its
    /// data is read) and expects the next header after its data.
    pub fn entered<R: Read>(&self, entry: &mut tar::Entry<'_, R>) -> io::Result<()> {
        let pos = self.0.borrow().pos;
        let path = entry.path_bytes();
        let mut problem = None;
        if path.len() as u64 > NAME_MAX {
            problem = Some(format!(
                "entry {}: the name is longer than {NAME_MAX} bytes",
                show(&path)
            ));
        } else if let Some(link) = entry.link_name_bytes() {
            if link.len() as u64 > NAME_MAX {
                problem = Some(format!(
                    "entry {}: the link target {} is longer than {NAME_MAX} bytes",
                    show(&path),
                    show(&link)
                ));
            }
        }
        if let Some(message) = problem {
            self.0.borrow_mut().refused = Some(message.clone());
            return Err(refusal(message));
        }
        let stored = stored_size(entry)?;
        let mut state = self.0.borrow_mut();
        state.long_name = None;
        state.zone = match pos.checked_add(stored.div_ceil(BLOCK).saturating_mul(BLOCK)) {
            Some(next) => Zone::Header(next),
            // The tar crate refuses the size too.
            None => Zone::Off,
        };
        Ok(())
    }
}

/// The bytes of an entry's data in the stream: its size, except for a GNU
/// sparse entry, whose size is the file's and whose stored bytes are the
/// header's (or a PAX `size`'s), as the tar crate reads them.
fn stored_size<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<u64> {
    if !entry.header().entry_type().is_gnu_sparse() {
        return Ok(entry.size());
    }
    if let Some(size) = entry.pax_extensions()?.and_then(pax_size) {
        return Ok(size);
    }
    entry.header().entry_size()
}

/// The PAX `size` as the tar crate takes it: the first `size` record, if
/// every record up to it parses.
fn pax_size(extensions: tar::PaxExtensions<'_>) -> Option<u64> {
    for extension in extensions {
        let extension = extension.ok()?;
        if extension.key() == Ok("size") {
            return extension.value().ok()?.parse().ok();
        }
    }
    None
}

impl<R: Read> Bounded<R> {
    /// A header block has passed: check what it announces.
    fn header_done(&mut self, start: u64) -> io::Result<()> {
        let mut state = self.state.borrow_mut();
        let block = state.block;
        let header = tar::Header::from_byte_slice(&block);
        let end = start + BLOCK;
        if block.iter().all(|&b| b == 0) || !checksum_ok(&block) {
            // The end of the archive, or a header the tar crate refuses.
            state.zone = Zone::Off;
            return Ok(());
        }
        let Ok(size) = header.entry_size() else {
            state.zone = Zone::Off;
            return Ok(());
        };
        let kind = header.entry_type();
        let recognised = header.as_gnu().is_some() || header.as_ustar().is_some();
        let limit = if !recognised {
            None
        } else if kind.is_gnu_longname() || kind.is_gnu_longlink() {
            Some((NAME_MAX + 1, "GNU long name"))
        } else if kind.is_pax_local_extensions() || kind.is_pax_global_extensions() {
            Some((PAX_MAX, "PAX extension"))
        } else {
            None
        };
        if let Some((max, what)) = limit {
            if size > max {
                let long_name = state.long_name.take().map(|(_, name)| name);
                drop(state);
                let named = self.name_for_refusal(long_name, header, kind);
                let what = if kind.is_gnu_longlink() {
                    "GNU long link name"
                } else {
                    what
                };
                return Err(self.refuse(format!(
                    "{named}: its {what} header announces {size} bytes, over the limit of {max}"
                )));
            }
        }
        let consumed_by_tar = recognised
            && (kind.is_gnu_longname() || kind.is_gnu_longlink() || kind.is_pax_local_extensions());
        if consumed_by_tar {
            if kind.is_gnu_longname() {
                state.long_name = Some((end, Vec::new()));
            }
            // The extension's data, then the next header.
            state.zone = Zone::Header(end + size.div_ceil(BLOCK) * BLOCK);
        } else {
            // The entry's own header: only a sparse map may follow before
            // the tar crate hands the entry out.
            state.zone = Zone::Tail(end + SPARSE_MAP_MAX);
        }
        Ok(())
    }

    /// How an error names the entry an extension belongs to: by its long
    /// name's first bytes when that is what is refused (or came before),
    /// else by the extension header's own name.
    fn name_for_refusal(
        &mut self,
        long_name: Option<Vec<u8>>,
        header: &tar::Header,
        kind: tar::EntryType,
    ) -> String {
        if kind.is_gnu_longname() {
            // The name is what is too long: read its start to show it.
            let mut start = Vec::with_capacity(SHOWN + 1);
            let _ = (&mut self.inner)
                .take(SHOWN as u64 + 1)
                .read_to_end(&mut start);
            return format!("entry {}", show_prefix(&start));
        }
        if let Some(name) = long_name {
            return format!("entry {}", show_prefix(&name));
        }
        format!("entry {}", show(&header.path_bytes()))
    }

    fn refuse(&self, message: String) -> io::Error {
        self.state.borrow_mut().refused = Some(message.clone());
        refusal(message)
    }
}

/// A name of which only the first bytes (up to [`SHOWN`] + 1) were read.
fn show_prefix(start: &[u8]) -> String {
    let end = start.iter().position(|&b| b == 0).unwrap_or(start.len());
    let name = &start[..end];
    if name.len() > SHOWN {
        let text = format!("{:?}", String::from_utf8_lossy(&name[..SHOWN]));
        format!("{}…\" (first {SHOWN} bytes shown)", &text[..text.len() - 1])
    } else {
        format!("{:?}", String::from_utf8_lossy(name))
    }
}

/// What the tar crate checks: the header's checksum field matches.
fn checksum_ok(block: &[u8; BLOCK as usize]) -> bool {
    let sum: u32 = block[..148]
        .iter()
        .chain(&block[156..])
        .map(|&b| u32::from(b))
        .sum::<u32>()
        + 8 * 32;
    tar::Header::from_byte_slice(block)
        .cksum()
        .is_ok_and(|c| c == sum)
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (pos, zone) = {
            let state = self.state.borrow();
            if let Some(message) = &state.refused {
                return Err(refusal(message.clone()));
            }
            (state.pos, state.zone)
        };
        // Never read across a header's edges, so each header is checked
        // the moment its last byte passes, before anything after it.
        let mut want = buf.len() as u64;
        match zone {
            Zone::Header(next) if pos < next => want = want.min(next - pos),
            Zone::Header(next) => want = want.min(next + BLOCK - pos),
            Zone::Tail(until) if pos >= until => {
                return Err(self.refuse(format!(
                    "an entry's GNU sparse map is longer than {SPARSE_MAP_MAX} bytes"
                )));
            }
            Zone::Tail(until) => want = want.min(until - pos),
            Zone::Off => {}
        }
        let want = want as usize;
        let n = self.inner.read(&mut buf[..want])?;
        let end = pos + n as u64;
        {
            let mut state = self.state.borrow_mut();
            state.pos = end;
            if let Some((start, name)) = &mut state.long_name {
                // Keep the first bytes of a long name, to name its entry.
                let from = pos.max(*start);
                let to = end.min(*start + SHOWN as u64 + 1);
                if from < to {
                    let (a, b) = ((from - pos) as usize, (to - pos) as usize);
                    name.extend_from_slice(&buf[a..b]);
                }
            }
            if let Zone::Header(next) = zone {
                if pos >= next {
                    let at = (pos - next) as usize;
                    state.block[at..at + n].copy_from_slice(&buf[..n]);
                }
            }
        }
        if let Zone::Header(next) = zone {
            if pos >= next && end == next + BLOCK {
                self.header_done(next)?;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tar::{EntryType, Header};

    #[test]
    fn names_in_messages_are_cut() {
        assert_eq!(show(b"etc/passwd"), "\"etc/passwd\"");
        let long = vec![b'a'; 5000];
        let shown = show(&long);
        assert!(shown.len() < SHOWN + 60, "{shown}");
        assert!(shown.contains("5000 bytes"), "{shown}");
        assert!(show(b"a\nb").contains("\\n"));
    }

    /// Every entry's name, reading each entry's data or not.
    fn names(stream: impl Read, read_data: bool) -> io::Result<Vec<Vec<u8>>> {
        let (reader, bounds) = bounded(stream);
        let mut archive = tar::Archive::new(reader);
        let mut names = Vec::new();
        for entry in archive.entries()? {
            let mut entry = entry?;
            bounds.entered(&mut entry)?;
            names.push(entry.path_bytes().into_owned());
            if read_data {
                io::copy(&mut entry, &mut io::sink())?;
            }
        }
        Ok(names)
    }

    /// A raw header: any type, name and size, bypassing the tar crate's
    /// checks.
    fn header(kind: EntryType, name: &[u8], size: u64) -> Vec<u8> {
        let mut header = Header::new_gnu();
        header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(size);
        header.set_cksum();
        header.as_bytes().to_vec()
    }

    fn pad(bytes: &mut Vec<u8>) {
        bytes.resize(bytes.len().div_ceil(512) * 512, 0);
    }

    #[test]
    fn long_names_links_pax_and_sparse_maps_within_the_limits_read() {
        let mut tar = tar::Builder::new(Vec::new());
        let long = format!("{}/file", "d".repeat(4000));
        let target = "t".repeat(4090);
        let mut h = Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        tar.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Symlink);
        h.set_mode(0o777);
        h.set_size(0);
        tar.append_link(&mut h, "link", &target).unwrap();
        // A file whose content is itself a tar with a bomb's header in it:
        // data is never taken for a header.
        let mut inner = header(EntryType::GNULongName, b"././@LongLink", 1 << 40);
        inner.extend_from_slice(&[b'a'; 512]);
        let mut h = Header::new_gnu();
        h.set_size(inner.len() as u64);
        h.set_mode(0o644);
        tar.append_data(&mut h, "nested.tar", &inner[..]).unwrap();
        let mut bytes = tar.into_inner().unwrap();
        bytes.truncate(bytes.len() - 1024);
        // A PAX header whose size and path override the next header's.
        let records = format!("15 size=600000\n{}", pax_record("path", "pax/name"));
        bytes.extend(header(
            EntryType::XHeader,
            b"PaxHeaders/x",
            records.len() as u64,
        ));
        bytes.extend_from_slice(records.as_bytes());
        pad(&mut bytes);
        bytes.extend(header(EntryType::Regular, b"short", 0));
        bytes.extend(vec![7u8; 600_000]);
        pad(&mut bytes);
        // A sparse entry whose map continues in two extension blocks.
        let mut sparse = Header::new_gnu();
        sparse.set_entry_type(EntryType::GNUSparse);
        sparse.set_mode(0o644);
        let pieces: Vec<(u64, u64)> = (0..40).map(|i| (i * 4096, 512)).collect();
        sparse.set_size(40 * 512);
        let gnu = sparse.as_gnu_mut().unwrap();
        gnu.name[..6].copy_from_slice(b"sparse");
        gnu.set_real_size(39 * 4096 + 512);
        for (slot, &(offset, len)) in gnu.sparse.iter_mut().zip(&pieces) {
            slot.set_offset(offset);
            slot.set_length(len);
        }
        gnu.set_is_extended(true);
        sparse.set_cksum();
        bytes.extend_from_slice(sparse.as_bytes());
        for (i, chunk) in pieces[4..].chunks(21).enumerate() {
            let mut ext = tar::GnuExtSparseHeader::new();
            for (slot, &(offset, len)) in ext.sparse_mut().iter_mut().zip(chunk) {
                slot.set_offset(offset);
                slot.set_length(len);
            }
            ext.set_is_extended(i == 0);
            bytes.extend_from_slice(ext.as_bytes());
        }
        bytes.extend(vec![1u8; 40 * 512]);
        bytes.extend(header(EntryType::Regular, b"last", 0));
        bytes.extend_from_slice(&[0; 1024]);
        for read_data in [true, false] {
            let got = names(&bytes[..], read_data).unwrap();
            let want: Vec<&[u8]> = vec![
                long.as_bytes(),
                b"link",
                b"nested.tar",
                b"pax/name",
                b"sparse",
                b"last",
            ];
            assert_eq!(got, want, "reading data: {read_data}");
        }
    }

    fn pax_record(key: &str, value: &str) -> String {
        let body = format!(" {key}={value}\n");
        let mut len = body.len() + 1;
        while format!("{len}{body}").len() != len {
            len += 1;
        }
        format!("{len}{body}")
    }

    /// The error of reading a stream that starts with `start` and goes on
    /// forever: only a bound ends it.
    fn endless_error(start: Vec<u8>, filler: u8) -> String {
        let stream = (&start[..]).chain(io::repeat(filler));
        names(stream, true).unwrap_err().to_string()
    }

    #[test]
    fn oversized_extensions_are_refused_from_their_headers() {
        let huge = 1_610_612_736;
        let why = endless_error(header(EntryType::GNULongName, b"././@LongLink", huge), b'a');
        assert!(
            why.contains("GNU long name header announces 1610612736 bytes"),
            "{why}"
        );
        assert!(why.contains(&format!("\"{}…", "a".repeat(SHOWN))), "{why}");
        assert!(why.len() < 400, "{why}");

        let mut start = header(EntryType::GNULongName, b"././@LongLink", 9);
        start.extend_from_slice(b"evil/name");
        pad(&mut start);
        start.extend(header(EntryType::GNULongLink, b"././@LongLink", huge));
        let why = endless_error(start, b'b');
        assert!(why.contains("GNU long link name header announces"), "{why}");
        assert!(why.contains("\"evil/name\""), "{why}");

        for kind in [EntryType::XHeader, EntryType::XGlobalHeader] {
            let why = endless_error(header(kind, b"PaxHeaders/victim", huge), b'9');
            assert!(why.contains("PAX extension header announces"), "{why}");
            assert!(why.contains("PaxHeaders/victim"), "{why}");
        }

        // Just over: a name of 4097 bytes (plus its NUL).
        let mut start = header(EntryType::GNULongName, b"././@LongLink", NAME_MAX + 2);
        start.extend(vec![b'n'; NAME_MAX as usize + 1]);
        start.push(0);
        pad(&mut start);
        start.extend(header(EntryType::Regular, b"x", 0));
        start.extend_from_slice(&[0; 1024]);
        let why = names(&start[..], true).unwrap_err().to_string();
        assert!(why.contains("over the limit of 4097"), "{why}");

        // A PAX path over the limit is refused once the entry is put together.
        let records = pax_record("path", &"p".repeat(5000));
        let mut start = header(EntryType::XHeader, b"PaxHeaders/p", records.len() as u64);
        start.extend_from_slice(records.as_bytes());
        pad(&mut start);
        start.extend(header(EntryType::Regular, b"p", 0));
        start.extend_from_slice(&[0; 1024]);
        let why = names(&start[..], true).unwrap_err().to_string();
        assert!(why.contains("the name is longer than 4096 bytes"), "{why}");
        assert!(why.contains("5000 bytes, first 100 shown"), "{why}");
    }

    #[test]
    fn an_endless_sparse_map_is_refused() {
        let mut sparse = Header::new_gnu();
        sparse.set_entry_type(EntryType::GNUSparse);
        sparse.set_size(0);
        let gnu = sparse.as_gnu_mut().unwrap();
        gnu.name[..4].copy_from_slice(b"hole");
        gnu.set_real_size(0);
        gnu.set_is_extended(true);
        sparse.set_cksum();
        let mut ext = tar::GnuExtSparseHeader::new();
        ext.set_is_extended(true);
        let blocks = EndlessBlocks(ext.as_bytes().to_vec(), 0);
        let stream = (&sparse.as_bytes()[..]).chain(blocks);
        let why = names(stream, true).unwrap_err().to_string();
        assert!(why.contains("sparse map is longer than"), "{why}");
    }

    /// The same block, forever.
    struct EndlessBlocks(Vec<u8>, usize);

    impl Read for EndlessBlocks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 = (self.1 + n) % self.0.len();
            Ok(n)
        }
    }
}
