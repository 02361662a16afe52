"""master: the supervisor, against the real binaries and a private syslog."""

import imaplib
import os
import poplib
import signal
import socket
import stat
import subprocess
import time

import pytest

from suite import BIN, RUN_AS, free_port, pid_alive, read_line, wait_for


def imap_service(inst, name="imap", extra=""):
    return f'  {name} cmd="imapd" listen="127.0.0.1:{inst.port(name)}" {extra}\n'


def greet(port, timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        return read_line(s, timeout)


def test_prefork_workers_exist_before_any_connection(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=3"))
    inst.start()
    workers = inst.wait_workers("imapd", 3)
    # They were forked without anyone connecting, and they stay.
    time.sleep(0.5)
    assert set(inst.workers("imapd")) == set(workers)
    assert not inst.log.grep(r"imapd\[\d+\]: accepted connection")


def test_connection_gets_greeting_with_capability(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=1"))
    inst.start()
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    assert m.welcome.startswith(b"* OK [CAPABILITY IMAP4rev1")
    assert b"suite.test" in m.welcome
    assert m.noop()[0] == "OK"
    m.logout()


def test_kill_9_of_worker_is_logged_and_replaced(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=2"))
    inst.start()
    before = inst.wait_workers("imapd", 2)
    victim = sorted(before)[0]
    os.kill(victim, signal.SIGKILL)
    inst.log.wait(rf"process type:SERVICE name:imap path:\S+/imapd age:[\d.]+s pid:{victim} signaled to death by signal 9")
    after = inst.wait_workers("imapd", 2)
    assert victim not in after
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    assert m.capability()[0] == "OK"
    m.logout()


def test_maxchild_caps_concurrent_sessions_and_next_waits(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=0 maxchild=2"))
    inst.start()
    port = inst.port("imap")
    a = imaplib.IMAP4("127.0.0.1", port)
    b = imaplib.IMAP4("127.0.0.1", port)
    assert len(inst.workers("imapd")) == 2
    # The third connection is accepted by the kernel but served by nobody yet.
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.settimeout(1.5)
    with pytest.raises(socket.timeout):
        c.recv(100)
    assert len(inst.workers("imapd")) == 2
    a.logout()
    assert read_line(c, 5).startswith(b"* OK")
    assert len(inst.workers("imapd")) <= 2
    c.close()
    b.logout()


def test_sighup_adds_service_keeps_sessions_and_removes_service(make_instance):
    inst = make_instance()
    services = imap_service(inst, extra="prefork=1") + imap_service(inst, name="imapold", extra="prefork=1")
    inst.write_cyrus_conf(SERVICES=services)
    inst.start()
    inst.wait_workers("imapd", 2)
    busy = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    pop_port = inst.port("pop3")
    new = imap_service(inst, extra="prefork=1") + f'  pop3 cmd="pop3d" listen="127.0.0.1:{pop_port}" prefork=1\n'
    inst.write_cyrus_conf(SERVICES=new)
    inst.hup()
    inst.log.wait(r"SIGHUP: reloading")
    p = wait_for(lambda: _try_pop(pop_port), what="pop3 service added by SIGHUP")
    assert p.getwelcome().startswith(b"+OK")
    p.quit()
    # The session that was busy during SIGHUP goes on, then its worker is recycled.
    assert busy.noop()[0] == "OK"
    busy_pid = [pid for pid, c in inst.workers("imapd").items()]
    busy.logout()
    # The removed service no longer listens.
    wait_for(lambda: _refused(inst.port("imapold")), what="imapold to stop listening")
    # The kept service still answers on the same socket.
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    m.logout()
    assert busy_pid


def _try_pop(port):
    try:
        return poplib.POP3("127.0.0.1", port, timeout=2)
    except OSError:
        return None


def _refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def _tick_script(inst, name):
    path = os.path.join(inst.dir, f"{name}.sh")
    out = os.path.join(inst.dir, f"{name}.out")
    with open(path, "w") as f:
        f.write(f'#!/bin/sh\necho "$(date +%s) $CYRUS_SERVICE $*" >> {out}\n')
    os.chmod(path, 0o755)
    if inst.as_root:
        import pwd
        pw = pwd.getpwnam(RUN_AS)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path, out


def _lines(path):
    try:
        with open(path) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def test_events_period_and_at_run(make_instance):
    inst = make_instance()
    tick, tick_out = _tick_script(inst, "tick")
    daily, daily_out = _tick_script(inst, "daily")
    t = time.localtime(time.time() + 60)
    at = f"{t.tm_hour:02d}{t.tm_min:02d}"
    inst.write_cyrus_conf(
        SERVICES=imap_service(inst),
        EVENTS=f'  tick cmd="{tick} hello" period=1\n  daily cmd="{daily}" at={at}\n',
    )
    inst.start()
    # period= runs at start, with master's -C added and CYRUS_SERVICE set ...
    first = wait_for(lambda: _lines(tick_out), what="first run of the period=1 event")
    assert first[0].split()[1:] == ["tick", "hello", "-C", inst.conf]
    inst.log.wait(r"process type:EVENT name:tick path:\S+tick.sh age:[\d.]+s pid:\d+ exited, status 0")
    # ... then again a minute later; at= runs at its minute.
    lines = wait_for(lambda: len(_lines(tick_out)) >= 2 and _lines(tick_out), timeout=75, what="second run of tick")
    gap = int(lines[1].split()[0]) - int(lines[0].split()[0])
    assert 58 <= gap <= 63, lines
    when = wait_for(lambda: _lines(daily_out), timeout=75, what="at= event run")
    ran = time.localtime(int(when[0].split()[0]))
    assert f"{ran.tm_hour:02d}{ran.tm_min:02d}" == at


def test_sigterm_leaves_no_child_and_no_pidfile(make_instance):
    inst = make_instance()
    sleeper = os.path.join(inst.dir, "sleeper.sh")
    with open(sleeper, "w") as f:
        f.write("#!/bin/sh\nexec sleep 1000\n")
    os.chmod(sleeper, 0o755)
    inst.write_cyrus_conf(
        SERVICES=imap_service(inst, extra="prefork=2") + f'  lmtp cmd="lmtpd" listen="{inst.dir}/lmtp.sock" prefork=1\n',
        DAEMON=f'  sleeper cmd="{sleeper}"\n',
    )
    inst.start()
    inst.wait_workers("imapd", 2)
    # 2 imapd, 1 lmtpd, the sleeper, and the worker templates of imap and lmtp.
    wait_for(lambda: sorted(inst.workers().values()) == sorted(["imapd", "imapd", "lmtpd", "sleep", "imapd-tmpl", "lmtpd-tmpl"]),
             what=f"6 children (have {inst.workers()})")
    kids = inst.workers()
    assert os.path.exists(inst.pidfile)
    with open(inst.pidfile) as f:
        assert int(f.read()) == inst.proc.pid
    busy = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    assert inst.stop() == 0
    for pid in kids:
        assert not pid_alive(pid), f"child {pid} survived"
    assert not os.path.exists(inst.pidfile)
    inst.log.wait(r"master\[\d+\]: exiting")
    with pytest.raises((OSError, imaplib.IMAP4.abort)):
        busy.noop()


def test_sigint_stops_too(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=1"))
    inst.start()
    inst.wait_workers("imapd", 1)
    inst.proc.send_signal(signal.SIGINT)
    assert inst.proc.wait(20) == 0
    assert not os.path.exists(inst.pidfile)


def test_second_master_on_same_pidfile_refuses(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=1"))
    inst.start()
    r = subprocess.run(inst.cmd(), capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "another master is already running" in r.stderr
    assert str(inst.proc.pid) in r.stderr
    # The first one is untouched.
    assert imaplib.IMAP4("127.0.0.1", inst.port("imap")).logout()[0] == "BYE"


@pytest.mark.parametrize("daemon", ["imapd", "pop3d", "lmtpd", "nntpd", "timsieved"])
def test_worker_by_hand_fails_with_clear_message(daemon):
    env = {k: v for k, v in os.environ.items() if k != "CYRUS_SERVICE"}
    r = subprocess.run([os.path.join(BIN, daemon)], capture_output=True, text=True, env=env, timeout=10)
    assert r.returncode != 0
    assert "could not getenv(CYRUS_SERVICE)" in r.stderr
    assert "started by master" in r.stderr


def test_bad_imapd_conf_line_fails_startup_naming_file_and_line(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst))
    with open(inst.conf, "a") as f:
        f.write("# fine\nthis line has no colon\n")
    line = len(open(inst.conf).read().splitlines())
    r = subprocess.run(inst.cmd(), capture_output=True, text=True, timeout=20)
    assert r.returncode == 78
    assert f"{inst.conf}:{line}: no ':'" in r.stderr
    assert not os.path.exists(inst.pidfile)


def test_bad_value_fails_startup(make_instance):
    inst = make_instance(extra_conf="syslog_facility: LOCAL9\n")
    inst.write_cyrus_conf(SERVICES=imap_service(inst))
    r = subprocess.run(inst.cmd(), capture_output=True, text=True, timeout=20)
    assert r.returncode == 78
    assert f"{inst.conf}:{inst.conf_line('LOCAL9')}: syslog_facility" in r.stderr


def test_bad_cyrus_conf_line_fails_startup_naming_file_and_line(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst) + '  pop3 cmd="pop3d" listen=110 prefork=lots\n')
    r = subprocess.run(inst.cmd(), capture_output=True, text=True, timeout=20)
    assert r.returncode == 78
    line = next(i for i, l in enumerate(open(inst.cyrus_conf), 1) if "prefork=lots" in l)
    assert f"{inst.cyrus_conf}:{line}: pop3: prefork=lots is not an integer" in r.stderr
    assert not inst.log.grep("ready for work")


def test_unknown_option_warned_with_suggestion(make_instance):
    inst = make_instance(extra_conf="tls_sever_cert: /etc/ssl/x.pem\nallowusermoves: yes\n")
    inst.write_cyrus_conf(SERVICES=imap_service(inst))
    inst.start()
    n = inst.conf_line("tls_sever_cert")
    hits = inst.log.wait(rf"master\[\d+\]: .*imapd.conf:{n}: unknown option 'tls_sever_cert' \(did you mean 'tls_server_cert'\?\)")
    assert len(hits) == 1
    inst.log.wait(rf"imapd.conf:{n + 1}: option 'allowusermoves' is a Cyrus option this suite does not use")
    # Logged once, by master, not again by each worker it forks.
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    m.logout()
    time.sleep(0.3)
    assert len(inst.log.grep("tls_sever_cert")) == 1


def test_listener_that_cannot_bind_is_logged_and_others_start(make_instance):
    inst = make_instance()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    busy_port = blocker.getsockname()[1]
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=1") + f'  taken cmd="pop3d" listen="127.0.0.1:{busy_port}"\n')
    inst.start()
    inst.log.wait(r"service taken: cannot listen on 127\.0\.0\.1:\d+: bind .*Address already in use")
    m = imaplib.IMAP4("127.0.0.1", inst.port("imap"))
    m.logout()
    # Once the address is free, master binds it by itself.
    blocker.close()
    inst.log.wait(r"service taken: now listening on", timeout=15)
    assert _try_pop(busy_port).getwelcome().startswith(b"+OK")


def test_explicit_dash_c_in_cmd_wins(make_instance):
    inst = make_instance()
    other = os.path.join(inst.dir, "other.conf")
    with open(inst.conf) as f:
        text = f.read().replace("servername: suite.test", "servername: other.test")
    with open(other, "w") as f:
        f.write(text)
    inst.write_cyrus_conf(
        SERVICES=imap_service(inst) + f'  imapother cmd="imapd -C {other}" listen="127.0.0.1:{inst.port("imapother")}"\n'
    )
    inst.start()
    assert b" suite.test " in greet(inst.port("imap"))
    assert b" other.test " in greet(inst.port("imapother"))


def test_worker_that_dies_at_start_is_throttled(make_instance):
    inst = make_instance()
    dying = os.path.join(inst.dir, "dying.sh")
    with open(dying, "w") as f:
        f.write("#!/bin/sh\nexit 3\n")
    os.chmod(dying, 0o755)
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=1")
                          + f'  broken cmd="{dying}" listen="127.0.0.1:{inst.port("broken")}" prefork=1\n'
                          + f'  http cmd="httpd -U 30" listen="127.0.0.1:{inst.port("http")}" prefork=0\n')
    inst.start()
    # A Cyrus program the suite does not have is named once and left out.
    inst.log.wait(r"service http: not provided by this suite: \S+/httpd \(from cmd=\"httpd -U 30\"\); the entry is left out")
    inst.log.wait(r"service broken: 5 workers in a row died at start; waiting 1s")
    time.sleep(3)
    forks = len(inst.log.grep(r"name:broken .* exited, status 3"))
    assert 5 <= forks <= 10, forks
    # The healthy service is unaffected.
    assert b"* OK" in greet(inst.port("imap"))


def test_start_runs_in_order_before_services_and_daemon_is_restarted(make_instance):
    inst = make_instance()
    first, first_out = _tick_script(inst, "first")
    second, second_out = _tick_script(inst, "second")
    sleeper = os.path.join(inst.dir, "sleeper.sh")
    with open(sleeper, "w") as f:
        f.write("#!/bin/sh\nexec sleep 1000\n")
    os.chmod(sleeper, 0o755)
    inst.write_cyrus_conf(
        START=f'  one cmd="{first}"\n  two cmd="{second}"\n',
        SERVICES=imap_service(inst, extra="prefork=1"),
        DAEMON=f'  sleeper cmd="{sleeper}"\n',
    )
    inst.start()
    assert _lines(first_out) and _lines(second_out)
    log = inst.log.text()
    assert log.index("name:one") < log.index("name:two") < log.index("ready for work")
    old = inst.log.wait(r"daemon sleeper: started pid (\d+)")
    pid = int(old[0].split("started pid ")[1])
    os.kill(pid, signal.SIGKILL)
    inst.log.wait(rf"process type:DAEMON name:sleeper .* pid:{pid} signaled to death by signal 9")
    wait_for(lambda: len(inst.log.grep(r"daemon sleeper: started pid")) == 2, what="daemon restart")


def test_daemon_wait_y_is_waited_for(make_instance):
    inst = make_instance()
    ready = os.path.join(inst.dir, "ready.sh")
    with open(ready, "w") as f:
        f.write("#!/bin/sh\nsleep 0.5\nprintf 'ok\\r\\n' >&3\nexec 3>&-\nexec sleep 1000\n")
    os.chmod(ready, 0o755)
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=1"), DAEMON=f'  waiter cmd="{ready}" wait=y\n')
    inst.start()
    log = inst.log.text()
    assert log.index("daemon waiter ready") < log.index("ready for work")


def test_unix_socket_listener_and_stale_socket(make_instance):
    inst = make_instance()
    path = os.path.join(inst.dir, "lmtp.sock")
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()  # leaves a stale socket file behind, as a crashed master would
    inst.write_cyrus_conf(SERVICES=imap_service(inst) + f'  lmtp cmd="lmtpd" listen="{path}" prefork=1\n')
    inst.start()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o777
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    assert read_line(s).startswith(b"220 suite.test LMTP")
    s.close()


def test_uses_limit_recycles_worker_and_maxfds_applies(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra='prefork=1 maxfds=100').replace('cmd="imapd"', 'cmd="imapd -U 1"'))
    inst.start()
    (first,) = inst.wait_workers("imapd", 1)
    with open(f"/proc/{first}/limits") as f:
        limits = [l for l in f if l.startswith("Max open files")]
    assert limits[0].split()[3] == "100", limits
    imaplib.IMAP4("127.0.0.1", inst.port("imap")).logout()
    inst.log.wait(rf"pid:{first} exited, status 0")
    (second,) = inst.wait_workers("imapd", 1)
    assert second != first


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to check privilege dropping")
def test_root_master_binds_privileged_port_then_runs_as_cyrus_user(make_instance):
    import pwd
    inst = make_instance()
    uid = pwd.getpwnam(RUN_AS).pw_uid
    port = next(p for p in range(900, 1000) if _bindable(p))
    inst.write_cyrus_conf(SERVICES=f'  imap cmd="imapd" listen="127.0.0.1:{port}" prefork=2\n')
    inst.start()
    workers = inst.wait_workers("imapd", 2)
    for pid in list(workers) + [inst.proc.pid]:
        with open(f"/proc/{pid}/status") as f:
            uids = next(l for l in f if l.startswith("Uid:")).split()[1:]
        assert all(int(u) == uid for u in uids), (pid, uids)
    assert b"* OK" in greet(port)


def _bindable(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_sighup_applies_changed_service_and_recycles_idle_workers(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=1"))
    inst.start()
    (old,) = inst.wait_workers("imapd", 1)
    new_port = free_port()
    inst.write_cyrus_conf(SERVICES=f'  imap cmd="imapd" listen="127.0.0.1:{new_port}" prefork=3\n')
    inst.hup()
    inst.log.wait(rf"pid:{old} exited, status 0")
    workers = inst.wait_workers("imapd", 3)
    assert old not in workers
    assert b"* OK" in greet(new_port)
    wait_for(lambda: _refused(inst.port("imap")), what="old port closed")


def test_bad_cyrus_conf_on_sighup_keeps_running_configuration(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=1"))
    inst.start()
    with open(inst.cyrus_conf, "a") as f:
        f.write("GARBAGE {\n}\n")
    inst.hup()
    inst.log.wait(r"SIGHUP: .*cyrus.conf:\d+: unknown section 'GARBAGE'.*keeping the running configuration")
    assert b"* OK" in greet(inst.port("imap"))


def test_daemon_mode_and_logfile(make_instance):
    inst = make_instance()
    logfile = os.path.join(inst.dir, "master.log")
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=1") + f'  broken cmd="imapd -Q" listen="127.0.0.1:{inst.port("broken")}" prefork=1\n')
    if inst.as_root:
        import pwd
        pw = pwd.getpwnam(RUN_AS)
        os.chown(inst.cyrus_conf, pw.pw_uid, pw.pw_gid)
    r = subprocess.run(inst.cmd("-d", "-L", logfile), stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    assert r.returncode == 0
    pid = wait_for(lambda: _read_pid(inst.pidfile), what="pidfile of the daemon")
    try:
        assert pid_alive(pid)
        inst.log.wait(r"ready for work")
        assert b"* OK" in greet(inst.port("imap"))
        # A child's complaint on stderr lands in -L's file.
        wait_for(lambda: "unexpected argument '-Q'" in open(logfile).read(), what="worker stderr in the -L logfile")
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not pid_alive(pid), what="daemon master to exit")
    assert not os.path.exists(inst.pidfile)


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def test_failed_start_command_stops_master(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(START='  broken cmd="/bin/false"\n', SERVICES=imap_service(inst))
    r = subprocess.run(inst.cmd(), capture_output=True, text=True, timeout=20)
    assert r.returncode == 70
    assert "can't run startup: START broken" in r.stderr + inst.log.text()
    assert not os.path.exists(inst.pidfile)


def test_worker_that_exits_cleanly_at_once_is_throttled_too(make_instance):
    inst = make_instance()
    inst.write_cyrus_conf(SERVICES=imap_service(inst, extra="prefork=1") + f'  quitter cmd="/bin/true" listen="127.0.0.1:{inst.port("quitter")}" prefork=1\n')
    inst.start()
    inst.log.wait(r"service quitter: 5 workers in a row died at start; waiting 1s")
    time.sleep(2)
    assert len(inst.log.grep(r"name:quitter .* exited, status 0")) <= 10
