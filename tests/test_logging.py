"""Logging: one set-up, secrets never written."""

import logging
import stat

import pytest

from ovirt_node_setup import installer_cli, logsetup
from ovirt_node_setup.logsetup import setup_logging
from ovirt_node_setup.redaction import redact

SHA512 = ("$6$8Jk2mPq1$p5K7irwef.Ljt.50EPr/shD8tFzVhsAe2CarwWb9cDXuiYH8W6xMHZgTM2NqMT5mEbmkde"
          "WaX3gP7Z2FRsf/D1")


@pytest.mark.parametrize(("text", "secret"), [
    (f"cmdline: storage_init adminpw={SHA512} ip=dhcp", SHA512),
    ("cmdline: adminpw=plaintext-oops ip=dhcp", "plaintext-oops"),
    ('rootpw="two words"', "two words"),
    (f"hash is {SHA512}", SHA512),
    ("password: hunter2", "hunter2"),
    ("ADMIN_PW=hunter2 quiet", "hunter2"),
    ('foo="bar adminpw=hunter2"', "hunter2"),
    ("rd.luks.passphrase=opensesame", "opensesame"),
    ("yescrypt $y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7", "X3DX6"),
])
def test_redact(text, secret):
    assert secret not in redact(text)
    assert "***" in redact(text)


def test_redact_leaves_ordinary_text():
    assert redact("ip=10.0.0.1 hostname=n1 $HOME") == "ip=10.0.0.1 hostname=n1 $HOME"


def test_log_file_and_traceback_are_redacted(tmp_path):
    path = tmp_path / "x.log"
    assert setup_logging("test", log_file=str(path)) == str(path)
    log = logging.getLogger("t")
    log.info("parsed %s", f"adminpw={SHA512}")
    try:
        raise ValueError(f"bad rootpw=secret123 {SHA512}")
    except ValueError:
        log.exception("failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = path.read_text()
    assert "parsed adminpw=***" in text and "Traceback" in text
    assert SHA512 not in text and "secret123" not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_default_file_under_the_log_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(logsetup, "LOG_DIR", str(tmp_path / "log"))
    assert setup_logging("cmd") == str(tmp_path / "log/cmd.log")
    assert stat.S_IMODE((tmp_path / "log/cmd.log").stat().st_mode) == 0o600


def test_explain_leaves_no_log(tmp_path, monkeypatch):
    monkeypatch.setattr(logsetup, "LOG_DIR", str(tmp_path / "log"))
    assert installer_cli.main(["--explain", "--cmdline", "ip=dhcp"]) == 0
    assert not (tmp_path / "log").exists()
