"""Password and ticket services for the authentication tests, each a real daemon run
by the test in its own temp dir on private sockets and ports (never a system service):

- `Saslauthd`: Debian's saslauthd with its own -m socket dir, `-a sasldb` (on a test
  sasldb: saslauthd reads the compiled-in /etc/sasldb2 only, so it runs in a private
  mount namespace where the test's file is bind-mounted over that path; the real one
  is never touched) or `-a ldap` with a saslauthd.conf given by -O.
- `HangingSocket`: a unix socket that accepts and never answers (a hung saslauthd).
- `Slapd`: OpenLDAP's slapd from a temp slapd.conf, mdb backend, ldap://127.0.0.1:PORT,
  users with plaintext userPassword loaded by slapadd; SASL binds map to entries by
  uid (authz-regexp) and proxy authorisation is allowed where an entry says so
  (authz-policy to, authzTo). Reusable for LDAP group look-ups (`add_ldif`).
- `Kdc`: an MIT KDC (krb5kdc -n on a private port) of a temp realm made with
  kdb5_util and kadmin.local, its keytab, and kinit into a temp credentials cache.

Each fixture stops its daemon in `stop()`; all of them skip the test (pytest.skip)
when the Debian package that brings the daemon is missing (scripts/deps installs them).
"""

import os
import socket
import subprocess
import threading
import time

import pytest

from suite import free_port, wait_for


def need(*paths):
    for p in paths:
        if not os.path.exists(p):
            pytest.skip(f"{p} is not installed (scripts/deps installs it)")


def _stop(proc, timeout=10):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_listening(d, name):
    """Waits until daemon d (with .proc, .log, .port) accepts on 127.0.0.1:port."""
    def up():
        if d.proc.poll() is not None:
            with open(d.log.name) as f:
                raise AssertionError(f"{name} exited: {f.read()}")
        try:
            socket.create_connection(("127.0.0.1", d.port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_for(up, timeout=15, what=f"{name} to listen")


class Saslauthd:
    """saslauthd -a MECH on socket dir `self.dir`; `self.mux` is the path for
    sasl_saslauthd_path. mech 'sasldb' reads `sasldb` (a file made by saslpasswd2);
    mech 'ldap' reads the saslauthd.conf text `conf`."""

    def __init__(self, parent, mech="sasldb", sasldb=None, conf=None):
        need("/usr/sbin/saslauthd")
        self.dir = os.path.join(parent, f"saslauthd-{mech}")
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.mux = os.path.join(self.dir, "mux")
        self.log = open(os.path.join(self.dir, "saslauthd.log"), "w")
        args = ["/usr/sbin/saslauthd", "-d", "-a", mech, "-m", self.dir, "-n", "1"]
        if mech == "ldap":
            path = os.path.join(self.dir, "saslauthd.conf")
            with open(path, "w") as f:
                f.write(conf)
            args += ["-O", path]
        if mech == "sasldb":
            if not os.path.exists("/etc/sasldb2"):
                pytest.skip("/etc/sasldb2 (made by sasl2-bin's install) is missing: nothing to bind the test sasldb over")
            # saslauthd opens the compiled-in /etc/sasldb2: show it the test's file
            # there, in a mount namespace of its own.
            args = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                    'mount --bind "$0" /etc/sasldb2 && exec "$@"', sasldb, *args]
        # A session of its own: saslauthd signals its whole process group when it stops.
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True)
        wait_for(lambda: os.path.exists(self.mux) or self.proc.poll() is not None, timeout=10, what="saslauthd's socket")
        if self.proc.poll() is not None:
            raise AssertionError(f"saslauthd exited: {self.text()}")

    def text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def check(self, user, password, service="imap", realm=""):
        """testsaslauthd's verdict: True for OK."""
        args = ["testsaslauthd", "-f", self.mux, "-u", user, "-p", password, "-s", service]
        if realm:
            args += ["-r", realm]
        r = subprocess.run(args, capture_output=True, text=True, timeout=20)
        return r.stdout.strip().startswith("0: OK")

    def stop(self):
        _stop(self.proc)
        self.log.close()


class HangingSocket:
    """A unix stream socket that accepts every connection and never answers: a
    saslauthd that hangs. Connections are held open until stop()."""

    def __init__(self, path):
        self.path = path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.chmod(os.path.dirname(path), 0o755)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o777)
        self.sock.listen(16)
        self.held = []
        self.running = True
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(c)

    def stop(self):
        self.running = False
        self.sock.close()
        for c in self.held:
            c.close()


BASE = "dc=suite,dc=test"
PEOPLE = f"ou=people,{BASE}"


class Slapd:
    """OpenLDAP slapd on ldap://127.0.0.1:PORT (`self.uri`), suffix dc=suite,dc=test,
    rootdn cn=admin,dc=suite,dc=test / `self.rootpw`. `users` is [(uid, password)];
    entries uid=UID,ou=people,dc=suite,dc=test (inetOrgPerson) with the plaintext
    userPassword. `proxy` is a (uid, password) that may act for every person (authzTo),
    for the ldapdb auxprop plugin."""

    rootdn = f"cn=admin,{BASE}"
    rootpw = "rootsecret"

    def __init__(self, parent, users=(), proxy=None):
        need("/usr/sbin/slapd", "/usr/sbin/slapadd", "/etc/ldap/schema/inetorgperson.schema")
        self.dir = os.path.join(parent, "slapd")
        os.makedirs(os.path.join(self.dir, "db"))
        self.port = free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}/"
        self.conf = os.path.join(self.dir, "slapd.conf")
        with open(self.conf, "w") as f:
            f.write(
                "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n"
                "include /etc/ldap/schema/inetorgperson.schema\ninclude /etc/ldap/schema/nis.schema\n"
                "modulepath /usr/lib/ldap\nmoduleload back_mdb\n"
                f"pidfile {self.dir}/slapd.pid\nargsfile {self.dir}/slapd.args\n"
                # A SASL bind as NAME (any mechanism, any realm) is uid=NAME under people.
                f'authz-regexp "^uid=([^,@]+)(@[^,]*)?(,cn=[^,]+)?,cn=[^,]+,cn=auth$" "uid=$1,{PEOPLE}"\n'
                "authz-policy to\n"
                f"database mdb\nsuffix \"{BASE}\"\nrootdn \"{self.rootdn}\"\nrootpw {self.rootpw}\n"
                f"directory {self.dir}/db\nmaxsize 16777216\n"
                "access to attrs=userPassword by self read by anonymous auth by * none\n"
                "access to * by * read\n")
        ldif = f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: suite\no: suite\n\n" \
               f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n"
        for uid, pw in users:
            ldif += self.person(uid, pw)
        if proxy:
            ldif += self.person(*proxy, extra=f"authzTo: dn.regex:^uid=[^,]+,{PEOPLE}$\n")
        self.slapadd(ldif)
        self.log = open(os.path.join(self.dir, "slapd.log"), "w")
        self.proc = subprocess.Popen(["/usr/sbin/slapd", "-d", "0", "-f", self.conf, "-h", self.uri],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        _wait_listening(self, "slapd")

    @staticmethod
    def person(uid, pw, extra=""):
        return (f"dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {uid}\nsn: {uid}\n"
                f"userPassword: {pw}\n{extra}\n")

    def slapadd(self, ldif):
        path = os.path.join(self.dir, f"add-{time.monotonic_ns()}.ldif")
        with open(path, "w") as f:
            f.write(ldif)
        subprocess.run(["/usr/sbin/slapadd", "-f", self.conf, "-l", path], check=True, capture_output=True)

    def add_ldif(self, ldif):
        """Adds entries to the running server (ldapadd as the rootdn)."""
        r = subprocess.run(["ldapadd", "-x", "-H", self.uri, "-D", self.rootdn, "-w", self.rootpw],
                           input=ldif, text=True, capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr

    def stop(self):
        _stop(self.proc)
        self.log.close()


class Kdc:
    """An MIT KDC for `realm` on 127.0.0.1:`self.port`, with config files in the temp
    dir (`self.env` holds KRB5_CONFIG, KRB5_KDC_PROFILE, and KRB5_KTNAME naming the
    keytab of the `services` principals SERVICE/`host`). Host names are taken as
    given (no DNS canonicalisation), so `host` may be `localhost`. A second realm
    `other`, served by the same krb5kdc, trusts `realm` one way (its users can get
    tickets for `realm`'s services): a principal of another realm for the tests."""

    def __init__(self, parent, realm="SUITE.TEST", host="localhost", services=("imap", "pop", "lmtp", "sieve"),
                 owner=None, other="OTHER.TEST"):
        need("/usr/sbin/krb5kdc", "/usr/sbin/kdb5_util", "/usr/sbin/kadmin.local", "/usr/bin/kinit")
        self.realm, self.host = realm, host
        self.dir = os.path.join(parent, "krb5")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.keytab = os.path.join(self.dir, "server.keytab")
        self.krb5_conf = os.path.join(self.dir, "krb5.conf")
        self.kdc_conf = os.path.join(self.dir, "kdc.conf")
        with open(self.krb5_conf, "w") as f:
            f.write(
                f"[libdefaults]\n default_realm = {realm}\n dns_lookup_kdc = false\n dns_lookup_realm = false\n"
                " dns_canonicalize_hostname = false\n rdns = false\n udp_preference_limit = 1\n"
                f"[realms]\n {realm} = {{\n  kdc = 127.0.0.1:{self.port}\n }}\n"
                f" {other} = {{\n  kdc = 127.0.0.1:{self.port}\n }}\n"
                f"[domain_realm]\n {host} = {realm}\n"
                f"[capaths]\n {other} = {{\n  {realm} = .\n }}\n")
            os.chmod(f.name, 0o644)
        with open(self.kdc_conf, "w") as f:
            f.write(
                f"[kdcdefaults]\n kdc_ports = {self.port}\n kdc_tcp_ports = {self.port}\n"
                "[realms]\n" + "".join(
                    f" {r} = {{\n  database_name = {self.dir}/principal-{r}\n"
                    f"  key_stash_file = {self.dir}/stash-{r}\n  acl_file = {self.dir}/kadm5.acl\n"
                    f"  kdc_ports = {self.port}\n  kdc_tcp_ports = {self.port}\n }}\n" for r in (realm, other))
                + f"[logging]\n kdc = FILE:{self.dir}/kdc.log\n")
        self.env = dict(os.environ, KRB5_CONFIG=self.krb5_conf, KRB5_KDC_PROFILE=self.kdc_conf,
                        KRB5_KTNAME=f"FILE:{self.keytab}", KRB5CCNAME=f"FILE:{self.dir}/ccache")
        self.other = other
        for r in (realm, other):
            self.run(["/usr/sbin/kdb5_util", "create", "-s", "-r", r, "-P", "masterkey"])
        # One-way trust: OTHER's users may get tickets for REALM's services.
        for r in (realm, other):
            self.kadmin(f"addprinc -pw crossrealm krbtgt/{realm}@{other}", realm=r)
        for svc in services:
            self.kadmin(f"addprinc -randkey {svc}/{host}")
            self.kadmin(f"ktadd -k {self.keytab} {svc}/{host}")
        if owner is not None:
            os.chown(self.keytab, *owner)
        self.log = open(os.path.join(self.dir, "krb5kdc.stderr"), "w")
        self.proc = subprocess.Popen(["/usr/sbin/krb5kdc", "-n", "-r", realm, "-r", other], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        _wait_listening(self, "krb5kdc")

    def run(self, args, input=None):
        r = subprocess.run(args, env=self.env, input=input, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"{args}: {r.stdout} {r.stderr}"
        return r.stdout

    def kadmin(self, query, realm=None):
        return self.run(["/usr/sbin/kadmin.local", "-r", realm or self.realm, "-q", query])

    def add_user(self, name, password, realm=None):
        """Adds principal name@realm (the default realm unless told)."""
        self.kadmin(f"addprinc -pw {password} {name}@{realm or self.realm}", realm=realm)

    def kinit(self, principal, password, ccache):
        """Gets a ticket for principal into the credentials cache file ccache; returns
        the environment a client then runs with."""
        env = dict(self.env, KRB5CCNAME=f"FILE:{ccache}")
        env.pop("KRB5_KTNAME")
        env.pop("KRB5_KDC_PROFILE")
        r = subprocess.run(["kinit", principal], env=env, input=password + "\n", capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return env

    def stop(self):
        _stop(self.proc)
        self.log.close()


class TestCA:
    """A certificate authority made by openssl in `parent`/NAME: `self.cert` (PEM) and
    client certificates it signs (`client(cn)` → (cert, key) paths)."""

    def __init__(self, parent, name="ca"):
        self.dir = os.path.join(parent, name)
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.cert, self.key = os.path.join(self.dir, "ca.pem"), os.path.join(self.dir, "ca.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", f"/CN=Test CA {name}", "-keyout", self.key, "-out", self.cert],
                       check=True, capture_output=True)
        os.chmod(self.cert, 0o644)

    def client(self, cn):
        base = os.path.join(self.dir, cn.replace("/", "_"))
        cert, key, csr = base + ".pem", base + ".key", base + ".csr"
        subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", key,
                        "-out", csr], check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-CAcreateserial",
                        "-days", "2", "-out", cert], check=True, capture_output=True)
        return cert, key


def cleanup(*fixtures):
    for f in fixtures:
        if f is not None:
            try:
                f.stop()
            except Exception:  # noqa: BLE001 - teardown goes on
                pass


__all__ = ["Saslauthd", "HangingSocket", "Slapd", "Kdc", "TestCA", "cleanup", "need"]
