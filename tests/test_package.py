"""The Debian package (scripts/build-deb, laid out by scripts/install) built from the
binaries of this test run ($SUITE_BIN): its layout, its systemd unit checked by
`systemd-analyze verify`, and an install → reinstall → upgrade → remove → purge cycle
with the real dpkg in a throwaway root (`dpkg --root --force-script-chrootless`, so the
maintainer scripts run with $DPKG_ROOT and touch nothing outside it) that leaves
nothing behind but the cyrus user, and never a configuration the site had before."""

import gzip
import imaplib
import os
import shutil
import subprocess
import tempfile

import pytest

from suite import BIN, ROOT, Instance

pytestmark = [
    pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="not a Debian system (no dpkg-deb)"),
    pytest.mark.skipif(os.geteuid() != 0, reason="the maintainer scripts chown to the cyrus user: run as root (CI does)"),
]

VERSION = "0.1.0-1"
UPGRADE = "0.1.0-2"
# What the unit needs before master drops root, and nothing else.
CAPS = {"CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_DAC_OVERRIDE"}


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    assert r.returncode == 0, f"{' '.join(cmd)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def programs():
    out = run([os.path.join(ROOT, "scripts", "install-programs"), "suite-bench gen-imapd-conf-man"]).stdout
    return out.split()


@pytest.fixture(scope="module")
def debs():
    """(first .deb, the same files as a newer version, a dir with the first unpacked)."""
    tmp = tempfile.mkdtemp(prefix="suite-deb-")
    os.chmod(tmp, 0o755)  # master, become cyrus, runs the unpacked workers
    try:
        env = dict(os.environ, VERSION=VERSION, COMPRESS="gzip")
        deb = run(["sh", os.path.join(ROOT, "scripts", "build-deb"), BIN, tmp], env=env).stdout.strip().splitlines()[-1]
        raw = os.path.join(tmp, "raw")
        run(["dpkg-deb", "-R", deb, raw])
        control = os.path.join(raw, "DEBIAN", "control")
        with open(control) as f:
            text = f.read()
        with open(control, "w") as f:
            f.write(text.replace(f"Version: {VERSION}", f"Version: {UPGRADE}"))
        newer = os.path.join(tmp, f"cyrus-suite_{UPGRADE}.deb")
        run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z1", "--build", raw, newer])
        shutil.rmtree(raw)
        unpacked = os.path.join(tmp, "unpacked")
        run(["dpkg-deb", "-x", deb, unpacked])
        yield deb, newer, unpacked
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def field(deb, name):
    return run(["dpkg-deb", "-f", deb, name]).stdout.strip()


def test_layout_is_debians(debs):
    deb, _, root = debs
    bindir = os.path.join(root, "usr/lib/cyrus/bin")
    for p in programs():
        path = os.path.join(bindir, p)
        assert os.access(path, os.X_OK), f"/usr/lib/cyrus/bin/{p} missing from the package"
    # master finds its workers beside its own (resolved) binary.
    assert os.path.realpath(os.path.join(root, "usr/sbin/cyrmaster")) == os.path.join(bindir, "master")
    assert os.path.realpath(os.path.join(root, "usr/sbin/cyrdeliver")) == os.path.join(bindir, "deliver")
    assert os.access(os.path.join(root, "usr/sbin/cyrus"), os.X_OK)
    for sect in ("5", "8"):
        for page in sorted(os.listdir(os.path.join(ROOT, "man"))):
            if not page.endswith("." + sect):
                continue
            name = page if sect == "5" else "cyrus-" + page
            gz = os.path.join(root, f"usr/share/man/man{sect}", name + ".gz")
            assert os.path.exists(gz), f"man page {page} not in the package as {name}.gz"
            with gzip.open(gz) as f, open(os.path.join(ROOT, "man", page), "rb") as src:
                assert f.read() == src.read(), f"{name}.gz differs from man/{page}"
    for path in ("usr/share/cyrus-suite/imapd.conf", "usr/share/cyrus-suite/cyrus.conf",
                 "usr/share/doc/cyrus-suite/examples/site/imapd.conf", "usr/share/doc/cyrus-suite/examples/dev/cyrus.conf",
                 "lib/systemd/system/cyrus-imapd.service", "usr/lib/tmpfiles.d/cyrus-suite.conf",
                 "etc/default/cyrus-imapd"):
        assert os.path.isfile(os.path.join(root, path)), f"/{path} missing from the package"
    # The configuration the package installs is in Debian's paths.
    with open(os.path.join(root, "usr/share/cyrus-suite/imapd.conf")) as f:
        imapd = f.read()
    assert "configdirectory: /var/lib/cyrus\n" in imapd and "partition-default: /var/spool/cyrus/mail\n" in imapd
    with open(os.path.join(root, "usr/share/cyrus-suite/cyrus.conf")) as f:
        assert 'listen="/run/cyrus/socket/lmtp"' in f.read()
    assert run(["dpkg-deb", "-f", deb, "Package"]).stdout.strip() == "cyrus-suite"


def test_control_conflicts_with_cyrus_and_depends_on_what_the_programs_load(debs):
    deb = debs[0]
    for pkg in ("cyrus-common", "cyrus-imapd"):
        assert pkg in field(deb, "Conflicts") and pkg in field(deb, "Replaces")
    depends = [d.strip() for d in field(deb, "Depends").split(",")]
    for want in ("libsasl2-2", "libsasl2-modules", "libc6", "passwd"):
        assert want in depends
    assert any(d.startswith("libssl") for d in depends)
    # Each one is a real package, installed here (the programs were built against them).
    for d in depends:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", d], capture_output=True, text=True)
        assert "install ok installed" in r.stdout, f"Depends names {d}, not installed on the build machine"
    assert run(["dpkg-deb", "-I", deb, "conffiles"]).stdout.split() == ["/etc/default/cyrus-imapd"]


def unit_copy(root, tmp, text=None):
    """The packaged unit, its paths pointed into the unpacked tree (systemd-analyze
    verify checks that ExecStart's program exists)."""
    with open(os.path.join(root, "lib/systemd/system/cyrus-imapd.service")) as f:
        unit = f.read() if text is None else text
    unit = unit.replace("/usr/sbin/cyrmaster", os.path.join(root, "usr/sbin/cyrmaster"))
    path = os.path.join(tmp, "cyrus-imapd.service")
    with open(path, "w") as f:
        f.write(unit)
    return path


def verify(path, root):
    man = "yes" if shutil.which("man") else "no"
    env = dict(os.environ, MANPATH=os.path.join(root, "usr/share/man"))
    return subprocess.run(["systemd-analyze", "verify", f"--man={man}", path], capture_output=True, text=True,
                          env=env, timeout=60)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing (scripts/deps installs systemd)")
def test_unit_verifies_and_is_hardened(debs, tmp_path):
    root = debs[2]
    r = verify(unit_copy(root, str(tmp_path)), root)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), r.stdout + r.stderr
    # The check has teeth: a bad value is reported (as a warning, so stderr is read).
    with open(os.path.join(root, "lib/systemd/system/cyrus-imapd.service")) as f:
        good = f.read()
    bad = verify(unit_copy(root, str(tmp_path), good.replace("Restart=on-failure", "Restart=sometimes")), root)
    assert bad.returncode != 0 or "sometimes" in bad.stderr
    keys = {}
    for line in good.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            keys.setdefault(k, []).append(v)
    assert keys["ExecStart"] == ["/usr/sbin/cyrmaster -l $LISTENQUEUE -C $CONF -M $MASTERCONF -p $PIDFILE $OPTIONS"]
    assert " -d" not in keys["ExecStart"][0], "master must stay in the foreground under systemd"
    assert keys["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert keys["Restart"] == ["on-failure"]
    assert set(keys["CapabilityBoundingSet"][0].split()) == CAPS
    assert "AmbientCapabilities" not in keys, "master drops root by itself; workers need no capability"
    for k, v in (("PrivateTmp", "yes"), ("ProtectHome", "yes"), ("ProtectSystem", "full")):
        assert keys[k] == [v], k


class Root:
    """A throwaway dpkg root: base-passwd's passwd and group, the FHS directories any
    Debian system has, an empty dpkg database."""

    def __init__(self, path):
        self.path = path
        for d in ("etc", "run", "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/spool", "usr/share", "lib"):
            os.makedirs(os.path.join(path, d), exist_ok=True)
        open(os.path.join(path, "var/lib/dpkg/status"), "w").close()
        # Never empty on a real system (dpkg removes a directory it finds empty).
        for d in ("usr/share", "lib"):
            open(os.path.join(path, d, "other-package-file"), "w").close()
        for name, src in (("passwd", "/usr/share/base-passwd/passwd.master"), ("group", "/usr/share/base-passwd/group.master")):
            if os.path.exists(src):
                shutil.copy(src, os.path.join(path, "etc", name))
            else:
                shutil.copy(f"/etc/{name}", os.path.join(path, "etc", name))
        for name in ("shadow", "gshadow"):
            open(os.path.join(path, "etc", name), "w").close()
            os.chmod(os.path.join(path, "etc", name), 0o640)

    def dpkg(self, *args, check=True):
        # --force-depends: the throwaway root has no libc6; the host has every Depends
        # (test_control_...). No chroot: scripts get $DPKG_ROOT.
        cmd = ["dpkg", f"--root={self.path}", "--force-not-root", "--force-script-chrootless", "--force-depends", *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if check:
            assert r.returncode == 0, f"{' '.join(args)}: {r.stdout}{r.stderr}"
        return r

    def files(self):
        """Every path, less the dpkg database and the user database."""
        out = set()
        for d, dirs, files in os.walk(self.path):
            rel = os.path.relpath(d, self.path)
            if rel.startswith("var/lib/dpkg"):
                continue
            for n in dirs + files:
                p = os.path.normpath(os.path.join(rel, n))
                if p.startswith("var/lib/dpkg") or p.split("/")[0] == "etc" and n.rstrip("-") in ("passwd", "group", "shadow", "gshadow"):
                    continue
                out.add(p)
        return out

    def read(self, rel):
        with open(os.path.join(self.path, rel)) as f:
            return f.read()

    def write(self, rel, text):
        with open(os.path.join(self.path, rel), "w") as f:
            f.write(text)

    def status(self):
        r = self.dpkg("-s", "cyrus-suite", check=False)
        return r.stdout if r.returncode == 0 else ""

    def user(self, name):
        for line in self.read("etc/passwd").splitlines():
            f = line.split(":")
            if f[0] == name:
                return f
        return None


def test_install_reinstall_upgrade_remove_purge_leaves_nothing(debs, tmp_path):
    deb, newer, _ = debs
    root = Root(str(tmp_path / "root"))
    # A site that ran Cyrus: its cyrus.conf is there before the package.
    site_cyrus_conf = "# the site's own\nSERVICES {\n}\n"
    root.write("etc/cyrus.conf", site_cyrus_conf)
    before = root.files()

    root.dpkg("-i", deb)
    assert "Status: install ok installed" in root.status() and f"Version: {VERSION}" in root.status()
    user = root.user("cyrus")
    assert user and user[3] == "8", f"cyrus user (group mail) not created: {user}"
    uid = int(user[2])
    for d in ("var/lib/cyrus", "var/spool/cyrus", "var/spool/cyrus/mail", "var/spool/sieve", "run/cyrus", "run/cyrus/socket"):
        st = os.stat(os.path.join(root.path, d))
        assert (st.st_uid, st.st_gid) == (uid, 8), f"/{d} not cyrus:mail"
    assert oct(os.stat(os.path.join(root.path, "var/lib/cyrus")).st_mode & 0o777) == "0o750"
    assert root.read("etc/imapd.conf") == root.read("usr/share/cyrus-suite/imapd.conf")
    assert root.read("etc/cyrus.conf") == site_cyrus_conf, "the site's cyrus.conf was replaced"

    # The administrator edits; reinstalling and upgrading keep the edits.
    root.write("etc/imapd.conf", root.read("etc/imapd.conf") + "servername: edited.example\n")
    root.write("etc/default/cyrus-imapd", root.read("etc/default/cyrus-imapd") + 'OPTIONS="-D"\n')
    root.dpkg("-i", deb)
    root.dpkg("--force-confold", "-i", newer)
    assert f"Version: {UPGRADE}" in root.status() and "install ok installed" in root.status()
    assert root.user("cyrus")[2] == str(uid)
    assert "servername: edited.example" in root.read("etc/imapd.conf")
    assert 'OPTIONS="-D"' in root.read("etc/default/cyrus-imapd")
    assert root.read("etc/cyrus.conf") == site_cyrus_conf

    root.dpkg("-r", "cyrus-suite")
    assert "Status: deinstall ok config-files" in root.status()
    assert not os.path.exists(os.path.join(root.path, "usr/lib/cyrus/bin/master"))
    assert not os.path.exists(os.path.join(root.path, "lib/systemd/system/cyrus-imapd.service"))
    assert os.path.exists(os.path.join(root.path, "etc/default/cyrus-imapd")), "remove (not purge) took the conffile"

    root.dpkg("-P", "cyrus-suite")
    assert root.status() == ""
    after = root.files()
    assert after - before == set(), f"left behind after purge: {sorted(after - before)}"
    assert before - after == set(), f"purge removed what it had not made: {sorted(before - after)}"
    assert root.read("etc/cyrus.conf") == site_cyrus_conf
    # Debian leaves system users in place at purge; so does this package.
    assert root.user("cyrus")


def test_cyrus_wrapper_runs_the_suites_tools(debs, tmp_path):
    root = debs[2]
    with open(os.path.join(root, "usr/sbin/cyrus")) as f:
        script = f.read().replace("/usr/lib/cyrus/bin", os.path.join(root, "usr/lib/cyrus/bin"))
    wrapper = tmp_path / "cyrus"
    wrapper.write_text(script)
    r = subprocess.run(["sh", str(wrapper), "nosuch"], capture_output=True, text=True)
    assert r.returncode == 1 and "no such command" in r.stderr
    r = subprocess.run(["sh", str(wrapper), "expire", "--help"], capture_output=True, text=True)
    assert "cyr_expire" in r.stdout + r.stderr or "-E" in r.stdout + r.stderr, r.stdout + r.stderr


def test_packaged_cyrmaster_runs_the_packaged_daemons(debs, tmp_path):
    """/usr/sbin/cyrmaster is a link: master must find `imapd` of a bare cmd= in
    /usr/lib/cyrus/bin, as Debian's cyrus.conf writes it, not beside the link."""
    root = debs[2]

    class Packaged(Instance):
        def cmd(self, *extra):
            return [os.path.join(root, "usr/sbin/cyrmaster"), *super().cmd(*extra)[1:]]

    inst = Packaged(name="pkg")
    try:
        port = inst.port("imap")
        inst.write_cyrus_conf(SERVICES=f'imap cmd="imapd" listen="127.0.0.1:{port}" prefork=1')
        inst.start()
        c = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
        assert "OK" in c.welcome.decode()
        c.logout()
        exes = {os.readlink(f"/proc/{pid}/exe") for pid in inst.workers("imapd")}
        assert exes and exes <= {os.path.join(root, "usr/lib/cyrus/bin/imapd")}, exes
    finally:
        inst.close()
