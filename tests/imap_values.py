"""IMAP response values read back from the bytes a server sent (RFC 3501 9).

`fetch(im, uid, items)` sends one UID FETCH on a `cyrus36.RawImap` and returns each
data item as the exact bytes of its value, so that two servers' answers can be
compared byte for byte; `values(raw)` parses such a value into Python lists (bytes for
strings and atoms, None for NIL); `sections(bodystructure)` lists every section that
a BODYSTRUCTURE offers to BODY[...].
"""

import re


def _value(data, pos):
    """(value, end) of the value starting at data[pos]."""
    c = data[pos:pos + 1]
    if c == b"(":
        out, pos = [], pos + 1
        while True:
            while data[pos:pos + 1] == b" ":
                pos += 1
            if data[pos:pos + 1] == b")":
                return out, pos + 1
            v, pos = _value(data, pos)
            out.append(v)
    if c == b'"':
        return quoted(data, pos)
    m = re.compile(rb"~?\{(\d+)\+?\}\r\n").match(data, pos)
    if m:
        n = int(m.group(1))
        return data[m.end():m.end() + n], m.end() + n
    m = re.compile(rb"[^ ()\r\n]*(?:\[[^\]]*\][^ ()\r\n]*)?").match(data, pos)
    atom = m.group(0)
    return (None if atom == b"NIL" else atom), m.end()


def quoted(data, pos):
    """(unescaped bytes, end) of the quoted string whose `"` is at data[pos]."""
    out, pos = bytearray(), pos + 1
    while data[pos:pos + 1] not in (b'"', b""):
        if data[pos:pos + 1] == b"\\":
            pos += 1
        out += data[pos:pos + 1]
        pos += 1
    return bytes(out), pos + 1


def values(raw):
    """The parsed value of one IMAP value's bytes."""
    return _value(raw, 0)[0]


def fetch(im, uid, items):
    """UID FETCH uid (items): ({item name: raw bytes of its value}, tagged status).
    Item names are as the server wrote them (`BODY[1.MIME]` for BODY.PEEK[1.MIME])."""
    untagged, tagged = im.cmd(b"UID FETCH %d (%s)" % (uid, " ".join(items).encode()))
    out = {}
    for m in re.finditer(rb"^\* \d+ FETCH \(", untagged, re.M):
        pos = m.end()
        while untagged[pos:pos + 1] not in (b")", b""):
            name, pos = _value(untagged, pos)
            pos += 1
            start = pos
            _, pos = _value(untagged, pos)
            out[name.decode()] = untagged[start:pos]
            while untagged[pos:pos + 1] == b" ":
                pos += 1
    return out, tagged.split()[1].decode()


def _is_multipart(body):
    return isinstance(body[0], list)


def _walk(body, num, out):
    out += [num, num + ".MIME"]
    if _is_multipart(body):
        _children(body, num + ".", out)
    elif [x.upper() if x else x for x in body[:2]] == [b"MESSAGE", b"RFC822"] and len(body) > 8:
        out += [num + ".HEADER", num + ".TEXT"]
        inner = body[8]
        if _is_multipart(inner):
            _children(inner, num + ".", out)
        else:
            _walk(inner, num + ".1", out)


def _children(body, prefix, out):
    """The parts of a multipart are its leading lists; its subtype follows them."""
    for i, child in enumerate(body):
        if not isinstance(child, list):
            return
        _walk(child, f"{prefix}{i + 1}", out)


def sections(bodystructure):
    """Every BODY[...] section a parsed BODYSTRUCTURE offers: HEADER and TEXT, then
    per part its number and `.MIME`, with `.HEADER` and `.TEXT` for message/rfc822."""
    out = ["HEADER", "TEXT"]
    if _is_multipart(bodystructure):
        _children(bodystructure, "", out)
    else:
        _walk(bodystructure, "1", out)
    return out
