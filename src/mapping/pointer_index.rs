//! `PointerIndex`: JSON pointer → line:col in the YAML source, built from the parser's event
//! stream, so that schema and semantic diagnostics can cite file positions. It never fails: on
//! a parse error it keeps what it indexed so far.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser, Span};

use super::pointer_segment;

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Pos {
    fn from_span(span: &Span) -> Pos {
        // granit markers: 1-based line, 0-based column.
        Pos {
            line: span.start.line().max(1),
            column: span.start.col() + 1,
        }
    }
}

/// Positions of the values and keys of one YAML document, by JSON pointer.
#[derive(Debug, Default)]
pub struct PointerIndex {
    /// Where the value at a pointer starts.
    values: HashMap<String, Pos>,
    /// Where the key naming the value at a pointer starts (absent for the root and for
    /// sequence items).
    keys: HashMap<String, Pos>,
}

/// One open collection while walking the events.
enum Frame {
    Mapping {
        pointer: String,
        /// The key read and waiting for its value, with the key's position.
        pending_key: Option<(String, Pos)>,
    },
    Sequence {
        pointer: String,
        next: usize,
    },
    /// A collection used as a mapping key: ignored, but its nesting must be tracked.
    ComplexKey {
        depth: usize,
    },
}

impl PointerIndex {
    /// Indexes the first document of `src`.
    pub fn build(src: &str) -> PointerIndex {
        let mut index = PointerIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut started = false;
        for item in Parser::new_from_str(src) {
            let Ok((event, span)) = item else { break };
            let pos = Pos::from_span(&span);
            match event {
                Event::DocumentStart(..) => {
                    if started {
                        break;
                    }
                    started = true;
                }
                Event::DocumentEnd => break,
                Event::Scalar(text, ..) => index.node(&mut stack, pos, Some(text.as_ref()), None),
                Event::Alias(_) => index.node(&mut stack, pos, Some(""), None),
                Event::MappingStart(..) => index.node(&mut stack, pos, None, Some(true)),
                Event::SequenceStart(..) => index.node(&mut stack, pos, None, Some(false)),
                Event::MappingEnd | Event::SequenceEnd => match stack.last_mut() {
                    Some(Frame::ComplexKey { depth }) if *depth > 1 => *depth -= 1,
                    Some(Frame::ComplexKey { .. }) => {
                        stack.pop();
                        // The complex key is read; its value comes next.
                        if let Some(Frame::Mapping { pending_key, .. }) = stack.last_mut() {
                            *pending_key = Some(("?".to_string(), pos));
                        }
                    }
                    _ => {
                        stack.pop();
                    }
                },
                _ => {}
            }
        }
        index
    }

    /// Handles one node: a scalar (`scalar` is its text), or the start of a mapping
    /// (`opens == Some(true)`) or sequence (`Some(false)`).
    fn node(
        &mut self,
        stack: &mut Vec<Frame>,
        pos: Pos,
        scalar: Option<&str>,
        opens: Option<bool>,
    ) {
        let pointer = match stack.last_mut() {
            None => String::new(),
            Some(Frame::ComplexKey { depth }) => {
                if opens.is_some() {
                    *depth += 1;
                }
                return;
            }
            Some(Frame::Sequence { pointer, next }) => {
                let p = format!("{pointer}/{next}");
                *next += 1;
                p
            }
            Some(Frame::Mapping {
                pointer,
                pending_key,
            }) => match pending_key.take() {
                Some((key, key_pos)) => {
                    let p = format!("{pointer}/{}", pointer_segment(&key));
                    self.keys.entry(p.clone()).or_insert(key_pos);
                    p
                }
                None => {
                    match scalar {
                        Some(text) => *pending_key = Some((text.to_string(), pos)),
                        None => stack.push(Frame::ComplexKey { depth: 1 }),
                    }
                    return;
                }
            },
        };
        self.values.entry(pointer.clone()).or_insert(pos);
        match opens {
            Some(true) => stack.push(Frame::Mapping {
                pointer,
                pending_key: None,
            }),
            Some(false) => stack.push(Frame::Sequence { pointer, next: 0 }),
            None => {}
        }
    }

    /// Where the value at `pointer` starts, or else its nearest indexed ancestor.
    pub fn value(&self, pointer: &str) -> Option<Pos> {
        let mut p = pointer;
        loop {
            if let Some(pos) = self.values.get(p) {
                return Some(*pos);
            }
            p = parent(p)?;
        }
    }

    /// Where the key naming the value at `pointer` starts; else where that value starts; else
    /// the nearest ancestor.
    pub fn key(&self, pointer: &str) -> Option<Pos> {
        self.keys
            .get(pointer)
            .copied()
            .or_else(|| self.value(pointer))
    }
}

/// The pointer one level up, or `None` at the root.
fn parent(pointer: &str) -> Option<&str> {
    if pointer.is_empty() {
        return None;
    }
    Some(pointer.rfind('/').map_or("", |i| &pointer[..i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Option<Pos> {
        Some(Pos { line, column })
    }

    #[test]
    fn block_and_flow() {
        let src = "# c\na:\n  b: 1\n  'c/d': [x, {e: y}]\nl:\n  - k: v\n  - w\n";
        let ix = PointerIndex::build(src);
        assert_eq!(ix.value(""), at(2, 1));
        assert_eq!(ix.value("/a/b"), at(3, 6));
        assert_eq!(ix.key("/a/b"), at(3, 3));
        assert_eq!(ix.key("/a/c~1d"), at(4, 3));
        assert_eq!(ix.value("/a/c~1d/1/e"), at(4, 18));
        assert_eq!(ix.value("/l/0/k"), at(6, 8));
        assert_eq!(ix.value("/l/1"), at(7, 5));
        // Unknown pointers fall back to their nearest ancestor.
        assert_eq!(ix.value("/l/0/zzz/1"), at(6, 8 - 3));
        assert_eq!(ix.key("/nope"), at(2, 1));
    }

    #[test]
    fn complex_keys_and_aliases_do_not_confuse_it() {
        let src = "? [a, b]\n: 1\nx: &A {y: 1}\nz: *A\nw: 2\n";
        let ix = PointerIndex::build(src);
        assert_eq!(ix.value("/x/y"), at(3, 11));
        assert_eq!(ix.value("/z"), at(4, 4));
        assert_eq!(ix.value("/w"), at(5, 4));
    }

    #[test]
    fn broken_input_keeps_what_it_has() {
        let ix = PointerIndex::build("a: 1\nb: [\n");
        assert_eq!(ix.value("/a"), at(1, 4));
    }
}
