"""doc/syslog.md lists every syslog line the code can write, and nothing else: each log
call (`log::error!` ... `trace!`, multi-line ones too, and the `fatal` wrapper) in every
Rust source outside tests, bench and fuzz has a row with its priority and format, and
each row still has a call. The scanner is tests/syslog_scan.py;
scripts/syslog-catalogue prints the rows to add."""

import os
import shutil
import subprocess
import tempfile

import syslog_scan as scan


def missing_and_stale(catalogue=scan.CATALOGUE):
    lines = scan.scan()
    entries = scan.read_catalogue(catalogue)
    have = {e.key() for e in entries}
    missing = [line for line in lines if line.key() not in have]
    code = {line.key() for line in lines}
    stale = [e for e in entries if e.key() not in code]
    return lines, entries, missing, stale


def test_every_logged_line_is_catalogued_and_every_entry_is_logged():
    lines, entries, missing, stale = missing_and_stale()
    assert len(lines) > 100 and len(entries) > 100
    problems = [f"{m.file}:{m.line}: {m.priority} {m.format!r} is not in doc/syslog.md (scripts/syslog-catalogue prints its row)"
                for m in missing]
    problems += [f"doc/syslog.md:{e.line}: {e.priority} {e.format!r} is no longer logged by the code" for e in stale]
    assert not problems, "\n".join(problems)


def test_the_check_fails_on_a_missing_row_and_a_stale_row(tmp_path):
    with open(scan.CATALOGUE, encoding="utf-8") as f:
        rows = f.read().splitlines(keepends=True)
    delivered = next(i for i, r in enumerate(rows) if "`Delivered: {} to mailbox: {}`" in r)
    cut = tmp_path / "syslog.md"
    cut.write_text("".join(rows[:delivered] + rows[delivered + 1:]) +
                   "| imapd | info | `no such line {}` | never | |\n", encoding="utf-8")
    _, _, missing, stale = missing_and_stale(str(cut))
    # lmtpd and nntpd both write it.
    assert {(m.program, m.format) for m in missing} == {("lmtpd", "Delivered: {} to mailbox: {}"),
                                                        ("nntpd", "Delivered: {msgid} to mailbox: {}")}
    assert [e.format for e in stale] == ["no such line {}"]


def test_the_scanner_reads_multiline_calls_wrappers_and_skips_unit_tests():
    src = '''
fn run() {
    log::error!(
        "service {}: {} workers in a row \\
         died at start",
        name, n
    );
    info!("plain {user} line");
    warn!(target: "x", "with a target {}", 1);
    service::worker::fatal("master", exit::OSERR, &format!("cannot write pidfile: {e}"));
    fatal(PROG, 1, "literal message");
    fatal(PROG, 1, &e.to_string());
    let s = "log::info!(\\"inside a string\\")"; // log::info!("in a comment")
}
#[cfg(test)]
mod tests {
    fn t() { log::info!("unit test line"); }
}
'''
    found = [(x.priority, x.format, x.dynamic) for x in scan.scan_file("master/src/x.rs", src)]
    assert found == [
        ("err", "service {}: {} workers in a row died at start", False),
        ("info", "plain {user} line", False),
        ("warning", "with a target {}", False),
        ("err", "cannot write pidfile: {e}", False),
        ("err", "literal message", False),
        ("err", "{e}", True),
    ]
    assert scan.normalise("a {user}  {:?} {{x}} {n:.3}") == "a {} {} {x} {}"


def test_script_prints_missing_rows_in_catalogue_format():
    root = tempfile.mkdtemp(prefix="suite-syslog-")
    try:
        for d in ("scripts", "tests", "doc", "lmtpd/src"):
            os.makedirs(os.path.join(root, d))
        for f in ("scripts/syslog-catalogue", "tests/syslog_scan.py", "doc/syslog.md"):
            shutil.copy(os.path.join(scan.ROOT, f), os.path.join(root, f))
        with open(os.path.join(root, "lmtpd/src/new.rs"), "w") as f:
            f.write('fn f() {\n    log::warn!("a new line about {user}");\n}\n')
        r = subprocess.run([os.path.join(root, "scripts/syslog-catalogue")], capture_output=True, text=True)
        assert r.returncode == 1
        assert "| lmtpd | warning | `a new line about {user}` | `f` in lmtpd/src/new.rs |  |" in r.stdout.splitlines()
        # Every other row names a line this small tree no longer has.
        assert "no longer in the code" in r.stderr
    finally:
        shutil.rmtree(root)
