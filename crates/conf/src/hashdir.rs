//! Cyrus's hash directories: the one character (`dir_hash_c` in Cyrus's lib/util.c)
//! under which a name's directory sits in the spool (`hashimapspool`), in sievedir and
//! in configdirectory. `fulldirhash` chooses between the two hashes; like Cyrus, the
//! suite reads it once and a site keeps it for its life (a changed value leaves the
//! existing directories where the store no longer looks).

/// The hash directory of `name`: without `full`, its first character in lower case
/// (`q` when that is not a to z); with `full`, one of `A` to `W`, hashed from the
/// bytes of `name` up to its first `.`.
pub fn dir_hash(name: &str, full: bool) -> char {
    if full {
        let mut n: u32 = 0;
        for b in name.bytes().take_while(|&b| b != b'.') {
            n = ((n << 3) ^ (n >> 5)) ^ u32::from(b);
        }
        char::from(b'A' + (n % 23) as u8)
    } else {
        match name.bytes().next().map(|b| b.to_ascii_lowercase()) {
            Some(c) if c.is_ascii_lowercase() => char::from(c),
            _ => 'q',
        }
    }
}

#[cfg(test)]
mod tests {
    use super::dir_hash;

    #[test]
    fn full_hash_is_cyrus_dir_hash_c() {
        // dir_hash_c(name, 1) computed by hand from Cyrus's lib/util.c.
        let mut n: u32 = 0;
        for b in b"fred" {
            n = ((n << 3) ^ (n >> 5)) ^ u32::from(*b);
        }
        assert_eq!(dir_hash("fred", true), char::from(b'A' + (n % 23) as u8));
        assert_eq!(dir_hash("fred.smith", true), dir_hash("fred", true), "stops at the first dot");
        assert!(('A'..='W').contains(&dir_hash("someone-else", true)));
        // A long name: the shifts wrap in 32 bits as Cyrus's uint32_t does.
        assert!(('A'..='W').contains(&dir_hash(&"\u{ff}".repeat(100), true)));
    }

    #[test]
    fn first_letter_hash() {
        assert_eq!(dir_hash("Fred", false), 'f');
        assert_eq!(dir_hash("9lives", false), 'q');
        assert_eq!(dir_hash("^dot", false), 'q');
        assert_eq!(dir_hash("", false), 'q');
        assert_eq!(dir_hash("élan", false), 'q');
    }
}
