//! What BODYSTRUCTURE says about one part, read from that part's header.
//!
//! Defaults are Cyrus's: no (valid) Content-Type gives TEXT/PLAIN with
//! `("CHARSET" "us-ascii")`, or MESSAGE/RFC822 inside multipart/digest; a
//! Content-Type that is present and valid is reported as written, so `text/plain`
//! without a charset has the parameter list NIL. Content-ID, -Description, -MD5 and
//! -Location are unfolded raw values; the encoding defaults to 7BIT when written out.

use crate::header::{Known, unfold};
use crate::mime::{self, Disposition, Param};

/// The type a part has when its header gives none (RFC 2046 5.1.5 for digests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DefaultType {
    Text,
    Message,
}

#[derive(Clone, Debug)]
pub(crate) struct Info {
    pub media: Vec<u8>,
    pub subtype: Vec<u8>,
    pub params: Vec<Param>,
    pub id: Option<Vec<u8>>,
    pub description: Option<Vec<u8>>,
    pub encoding: Option<Vec<u8>>,
    pub md5: Option<Vec<u8>>,
    pub disposition: Option<Disposition>,
    pub language: Vec<Vec<u8>>,
    pub location: Option<Vec<u8>>,
}

impl Info {
    pub(crate) fn from_header(k: &Known<'_>, default: DefaultType) -> Info {
        let mut info = Info {
            media: Vec::new(),
            subtype: Vec::new(),
            params: Vec::new(),
            id: k.content_id.map(unfold),
            description: k.content_description.map(unfold),
            encoding: k.content_transfer_encoding.and_then(mime::transfer_encoding),
            md5: k.content_md5.map(unfold),
            disposition: k.content_disposition.and_then(mime::disposition),
            language: k.content_language.map(mime::languages).unwrap_or_default(),
            location: k.content_location.map(unfold),
        };
        match k.content_type.and_then(mime::content_type) {
            Some(ct) => {
                info.media = ct.media;
                info.subtype = ct.subtype;
                info.params = ct.params;
            }
            None => info.set_type(default),
        }
        info
    }

    /// TEXT/PLAIN in us-ascii with nothing else: how a part with no header shows.
    pub(crate) fn default_text() -> Info {
        Info::from_header(&Known::default(), DefaultType::Text)
    }

    /// Replaces type, subtype and parameters with a default type.
    pub(crate) fn set_type(&mut self, default: DefaultType) {
        let (media, subtype, params): (&[u8], &[u8], _) = match default {
            DefaultType::Text => {
                (b"TEXT", b"PLAIN", vec![Param { name: b"CHARSET".to_vec(), value: b"us-ascii".to_vec() }])
            }
            DefaultType::Message => (b"MESSAGE", b"RFC822", Vec::new()),
        };
        self.media = media.to_vec();
        self.subtype = subtype.to_vec();
        self.params = params;
    }

    /// A part whose inside we do not parse (past the depth or part limit) is shown
    /// as APPLICATION/OCTET-STREAM: a MULTIPART or MESSAGE/RFC822 leaf would not fit
    /// RFC 3501's grammar.
    pub(crate) fn make_opaque(&mut self) {
        self.media = b"APPLICATION".to_vec();
        self.subtype = b"OCTET-STREAM".to_vec();
        self.params.clear();
    }

    pub(crate) fn is_multipart(&self) -> bool {
        self.media == b"MULTIPART"
    }

    pub(crate) fn is_message(&self) -> bool {
        self.media == b"MESSAGE" && self.subtype == b"RFC822"
    }

    pub(crate) fn is_text(&self) -> bool {
        self.media == b"TEXT"
    }

    /// A parameter's value by uppercase name.
    pub(crate) fn param(&self, name: &[u8]) -> Option<&[u8]> {
        self.params.iter().find(|p| p.name == name).map(|p| p.value.as_slice())
    }
}
