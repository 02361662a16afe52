"""A real OpenLDAP slapd (Debian's slapd) started in a temp dir on a private port,
with an mdb database under dc=test, the memberof overlay, and entries loaded by
ldapadd. Used by the tests of auth_mech: pts (ptloader)."""

import os
import shutil
import subprocess
import tempfile

from suite import free_port, wait_for

SLAPD = "/usr/sbin/slapd"
SUFFIX = "dc=test"
ROOTDN = "cn=admin,dc=test"
ROOTPW = "secret"


def available():
    return os.access(SLAPD, os.X_OK) and shutil.which("ldapadd") is not None


class Slapd:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="slapd-")
        os.makedirs(os.path.join(self.dir, "db"))
        self.port = free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}/"
        conf = os.path.join(self.dir, "slapd.conf")
        schemas = "".join(f"include /etc/ldap/schema/{s}.schema\n" for s in ("core", "cosine", "inetorgperson", "nis"))
        with open(conf, "w") as f:
            f.write(schemas + f"pidfile {self.dir}/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n"
                    f"moduleload memberof\ndatabase mdb\nsuffix \"{SUFFIX}\"\nrootdn \"{ROOTDN}\"\nrootpw {ROOTPW}\n"
                    f"directory {self.dir}/db\nmaxsize 10485760\noverlay memberof\n")
        # -d 0: in the foreground (its own process, stopped by the test), no debug output.
        self.proc = subprocess.Popen([SLAPD, "-f", conf, "-h", self.uri, "-d", "0"],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "slapd.log"), "wb"))
        wait_for(self.answers, timeout=15, what="slapd to answer")

    def answers(self):
        r = subprocess.run(["ldapsearch", "-x", "-H", self.uri, "-b", "", "-s", "base", "1.1"], capture_output=True)
        return r.returncode == 0

    def add(self, ldif):
        subprocess.run(["ldapadd", "-x", "-H", self.uri, "-D", ROOTDN, "-w", ROOTPW], input=ldif.encode(),
                       check=True, capture_output=True)

    def modify(self, ldif):
        subprocess.run(["ldapmodify", "-x", "-H", self.uri, "-D", ROOTDN, "-w", ROOTPW], input=ldif.encode(),
                       check=True, capture_output=True)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def people_and_groups(users, groups):
    """LDIF: ou=people with a uid entry per user, ou=groups with a groupOfNames per
    group (groups: name -> member uids)."""
    out = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: test\ndc: test\n",
           f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n",
           f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n"]
    for u in users:
        out.append(f"dn: uid={u},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {u}\ncn: {u}\nsn: {u}\n")
    for g, members in groups.items():
        out.append(f"dn: cn={g},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {g}\n"
                   + "".join(f"member: uid={m},ou=people,{SUFFIX}\n" for m in members))
    return "\n".join(out)
