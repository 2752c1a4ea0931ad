//! ELF notes from PT_NOTE segments (or SHT_NOTE sections when a file has no program headers).

use std::collections::BTreeSet;

use object::elf as raw;
use object::read::elf::{FileHeader, NoteIterator, ProgramHeader, SectionHeader};
use object::{Endianness, ReadRef};

use super::ElfFile;
use super::sections::Sections;

/// One note: its owner name (without NUL), type and descriptor.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Note<'data> {
    pub owner: &'data [u8],
    pub n_type: u32,
    pub desc: &'data [u8],
}

/// The notes that could be read, how many note areas could not (outside the file,
/// malformed, or past the byte limit), and whether the note count limit cut the list short.
#[derive(Debug, Default, Clone)]
pub(crate) struct Notes<'data> {
    pub notes: Vec<Note<'data>>,
    pub unreadable_areas: usize,
    /// True when `Limits::max_notes` was reached: later notes were not read.
    pub count_limited: bool,
}

impl Notes<'_> {
    /// The first note with this owner and type.
    pub fn find(&self, owner: &[u8], n_type: u32) -> Option<&Note<'_>> {
        self.notes
            .iter()
            .find(|note| note.owner == owner && note.n_type == n_type)
    }
}

impl<'data, H, R> ElfFile<'data, H, R>
where
    H: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    /// Every note in PT_NOTE segments; when there are none, in SHT_NOTE sections.
    pub fn notes(&self, sections: Option<&Sections<'data, H>>) -> Notes<'data> {
        let mut out = Notes::default();
        let mut areas = Vec::new();
        for ph in self.segments_of(raw::PT_NOTE) {
            let (offset, size) = ph.file_range(self.endian);
            areas.push((offset, size, ph.p_align(self.endian)));
        }
        if areas.is_empty() {
            if let Some(sections) = sections {
                for (_, sh) in sections.iter() {
                    if sh.sh_type(self.endian) == raw::SHT_NOTE {
                        if let Some((offset, size)) = sh.file_range(self.endian) {
                            areas.push((offset, size, sh.sh_addralign(self.endian)));
                        }
                    }
                }
            }
        }
        // One budget for every area together, and each (offset, size) read once: program
        // headers can name the same area thousands of times.
        let mut budget = self.limits.max_note_bytes as u64;
        let mut seen = BTreeSet::new();
        for (offset, size, align) in areas {
            if out.count_limited {
                break;
            }
            if !seen.insert((offset, size)) {
                continue;
            }
            let Some(left) = budget.checked_sub(size) else {
                out.unreadable_areas = out.unreadable_areas.saturating_add(1);
                continue;
            };
            let Ok(bytes) = self.data.read_bytes_at(offset, size) else {
                out.unreadable_areas = out.unreadable_areas.saturating_add(1);
                continue;
            };
            budget = left;
            self.read_notes(bytes, align, &mut out);
        }
        out
    }

    fn read_notes(&self, bytes: &'data [u8], align: H::Word, out: &mut Notes<'data>) {
        // Notes are 4-byte aligned (8 for some GNU property notes); other alignments are
        // lies that binutils reads as 4, and so does this (a zero Word means 4).
        let align = if align.into() == 8 {
            align
        } else {
            H::Word::default()
        };
        let Ok(mut iter) = NoteIterator::<H>::new(self.endian, align, bytes) else {
            out.unreadable_areas = out.unreadable_areas.saturating_add(1);
            return;
        };
        loop {
            match iter.next() {
                Ok(Some(_)) if out.notes.len() >= self.limits.max_notes => {
                    out.count_limited = true;
                    break;
                }
                Ok(Some(note)) => out.notes.push(Note {
                    owner: note.name(),
                    n_type: note.n_type(self.endian).0,
                    desc: note.desc(),
                }),
                Ok(None) => break,
                Err(_) => {
                    out.unreadable_areas = out.unreadable_areas.saturating_add(1);
                    break;
                }
            }
        }
    }
}
