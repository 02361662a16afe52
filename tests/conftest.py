import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from suite import BIN, Instance  # noqa: E402


def pytest_sessionstart(session):
    for b in ("master", "imapd", "pop3d", "lmtpd", "nntpd", "timsieved"):
        path = os.path.join(BIN, b)
        if not os.access(path, os.X_OK):
            pytest.exit(f"{path} is missing: run `cargo build` first (or set SUITE_BIN)", returncode=2)


@pytest.fixture
def make_instance():
    made = []

    def make(**kw):
        inst = Instance(**kw)
        made.append(inst)
        return inst

    yield make
    for inst in made:
        inst.close()
