//! SORT keys (RFC 5256 section 3, RFC 5957 DISPLAYFROM/DISPLAYTO, and MODSEQ and
//! UID as Cyrus 3.6 offers them) and the comparison of two messages under a list
//! of criteria. Ties left by every criterion go by sequence number, ascending even
//! under REVERSE (RFC 5256: REVERSE reverses one criterion only).

use std::cmp::Ordering;

use crate::fields::{Fields, display_key, mailbox_key};
use crate::subject::BaseSubject;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    /// Internal date.
    Arrival,
    Cc,
    /// Sent date, the internal date where there is none (RFC 5256 section 2.2).
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
    /// The message's mod-sequence (SORT=MODSEQ).
    Modseq,
    Uid,
}

impl SortKey {
    /// The key a sort-key atom names (any case).
    pub fn from_name(name: &str) -> Option<SortKey> {
        Some(match name.to_ascii_uppercase().as_str() {
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            "DISPLAYFROM" => SortKey::DisplayFrom,
            "DISPLAYTO" => SortKey::DisplayTo,
            "MODSEQ" => SortKey::Modseq,
            "UID" => SortKey::Uid,
            _ => return None,
        })
    }

    /// Whether the key is read from the message header (the others are in the index).
    pub fn needs_header(self) -> bool {
        matches!(self, SortKey::Cc | SortKey::From | SortKey::Subject | SortKey::To | SortKey::DisplayFrom | SortKey::DisplayTo)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Criterion {
    pub key: SortKey,
    pub reverse: bool,
}

/// Reads a criteria list from its atoms (`REVERSE` applies to the key after it).
/// The error names what is wrong, for a BAD response.
pub fn parse_criteria<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Vec<Criterion>, String> {
    let mut out = Vec::new();
    let mut reverse = false;
    for w in words {
        if w.eq_ignore_ascii_case("REVERSE") {
            if reverse {
                return Err("REVERSE twice".into());
            }
            reverse = true;
            continue;
        }
        let key = SortKey::from_name(w).ok_or_else(|| format!("Invalid Sort criterion {}", w.chars().take(40).collect::<String>()))?;
        out.push(Criterion { key, reverse });
        reverse = false;
    }
    if reverse {
        return Err("Missing Sort criterion to reverse".into());
    }
    if out.is_empty() {
        return Err("Missing Sort criteria".into());
    }
    Ok(out)
}

/// What one message offers to the comparison. Strings are i;unicode-casemap forms,
/// filled only for the keys asked for ([`SortValues::read_header`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SortValues {
    pub seq: u32,
    pub uid: u32,
    pub arrival: i64,
    /// The sent date, or the internal date when the message has none.
    pub date: i64,
    pub size: u64,
    pub modseq: u64,
    pub subject: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub display_from: String,
    pub display_to: String,
}

impl SortValues {
    /// Fills the header-derived values that `criteria` use from the message's header
    /// fields.
    pub fn read_header(&mut self, f: &Fields, criteria: &[Criterion]) {
        for c in criteria {
            match c.key {
                SortKey::Subject => self.subject = f.subject.map(|s| BaseSubject::from_header(s).key()).unwrap_or_default(),
                SortKey::From => self.from = mailbox_key(f.from),
                SortKey::To => self.to = mailbox_key(f.to),
                SortKey::Cc => self.cc = mailbox_key(f.cc),
                SortKey::DisplayFrom => self.display_from = display_key(f.from),
                SortKey::DisplayTo => self.display_to = display_key(f.to),
                _ => {}
            }
        }
    }
}

fn by_key(a: &SortValues, b: &SortValues, key: SortKey) -> Ordering {
    match key {
        SortKey::Arrival => a.arrival.cmp(&b.arrival),
        SortKey::Cc => a.cc.cmp(&b.cc),
        SortKey::Date => a.date.cmp(&b.date),
        SortKey::From => a.from.cmp(&b.from),
        SortKey::Size => a.size.cmp(&b.size),
        SortKey::Subject => a.subject.cmp(&b.subject),
        SortKey::To => a.to.cmp(&b.to),
        SortKey::DisplayFrom => a.display_from.cmp(&b.display_from),
        SortKey::DisplayTo => a.display_to.cmp(&b.display_to),
        SortKey::Modseq => a.modseq.cmp(&b.modseq),
        SortKey::Uid => a.uid.cmp(&b.uid),
    }
}

/// Orders two messages under `criteria`, then by sequence number.
pub fn compare(a: &SortValues, b: &SortValues, criteria: &[Criterion]) -> Ordering {
    for c in criteria {
        let o = by_key(a, b, c.key);
        if o != Ordering::Equal {
            return if c.reverse { o.reverse() } else { o };
        }
    }
    a.seq.cmp(&b.seq)
}

/// Sorts messages under `criteria` (a total order: sequence numbers differ).
pub fn sort(values: &mut [SortValues], criteria: &[Criterion]) {
    values.sort_unstable_by(|a, b| compare(a, b, criteria));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crit(s: &str) -> Result<Vec<Criterion>, String> {
        parse_criteria(s.split_whitespace())
    }

    #[test]
    fn criteria() {
        assert_eq!(crit("reverse date subject").unwrap(), vec![Criterion { key: SortKey::Date, reverse: true }, Criterion { key: SortKey::Subject, reverse: false }]);
        assert!(crit("REVERSE").is_err());
        assert!(crit("").is_err());
        assert!(crit("FROB").unwrap_err().contains("FROB"));
        assert!(crit("REVERSE REVERSE DATE").is_err());
        assert_eq!(crit("displayfrom MODSEQ uid").unwrap().len(), 3);
    }

    #[test]
    fn reverse_keeps_sequence_tiebreak() {
        let v = |seq, size| SortValues { seq, size, ..Default::default() };
        let mut msgs = vec![v(1, 10), v(2, 20), v(3, 10), v(4, 20)];
        sort(&mut msgs, &crit("REVERSE SIZE").unwrap());
        assert_eq!(msgs.iter().map(|m| m.seq).collect::<Vec<_>>(), [2, 4, 1, 3]);
        sort(&mut msgs, &crit("SIZE").unwrap());
        assert_eq!(msgs.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 3, 2, 4]);
    }

    #[test]
    fn header_values() {
        let block = b"From: Bob <bob@x>\r\nTo: <carol@y>\r\nSubject: Re: [list] hello\r\n\r\n";
        let mut v = SortValues::default();
        v.read_header(&Fields::read(block), &crit("SUBJECT FROM TO CC DISPLAYFROM DISPLAYTO").unwrap());
        assert_eq!((v.subject.as_str(), v.from.as_str(), v.to.as_str(), v.cc.as_str()), ("HELLO", "BOB", "CAROL", ""));
        assert_eq!((v.display_from.as_str(), v.display_to.as_str()), ("BOB", "CAROL@Y"));
    }
}
