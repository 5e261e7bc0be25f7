"""A real OpenSSH sshd on a loopback port, for the SSH tests (Debian's openssh-server; tests/sshd/install.sh).

`sshd` fixture: a running daemon with a throwaway host key that accepts a throwaway user key.
$EDGELAT_SSH_CONFIG points at a client config whose Host alias (`Sshd.alias`) names the port,
the user, the key (IdentitiesOnly) and a known_hosts file that holds the host key; ssh-agent is
hidden. Tests that need it skip with the install script's reason where sshd cannot be had.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from pathlib import Path

import pytest
from loopback import free_port, kill_tree, wait_listening

INSTALL = Path(__file__).resolve().parent / "sshd" / "install.sh"
SSHD = "/usr/sbin/sshd"


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=60)
    return path


class Sshd:
    """One sshd on 127.0.0.1:port; can be killed and restarted on the same port."""

    alias = "edgelat-test-board"

    def __init__(self, root: Path, user_key: Path) -> None:
        self.root, self.user_key = root, user_key
        self.port = free_port()
        self.user = getpass.getuser()
        self.host_key = keygen(root / "host_ed25519")
        self.authorized = root / "authorized_keys"
        self.authorized.write_text(Path(f"{user_key}.pub").read_text())
        self.known_hosts = root / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {Path(f'{self.host_key}.pub').read_text()}")
        self.config = root / "sshd_config"
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {self.authorized}\nPidFile {root / 'sshd.pid'}\nStrictModes no\nUsePAM no\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
            "PermitRootLogin prohibit-password\nMaxStartups 50\nLogLevel VERBOSE\n"
            # A board's account, not this machine's: bash sources ~/.bashrc for every ssh command, and
            # a tester's rc files (pyenv's rehash lock, say) must not slow or hang the board.
            f"SetEnv HOME={root / 'home'}\n")
        (root / "home").mkdir()
        self.client_config = root / "ssh_config"
        self.write_client_config()
        self.proc: subprocess.Popen | None = None
        self.log = root / "sshd.log"

    @property
    def address(self) -> str:
        return f"{self.user}@127.0.0.1:{self.port}"

    def write_client_config(self, key: Path | None = None, known_hosts: Path | None = None) -> None:
        """The user's ~/.ssh/config as the tests see it: one Host alias for this daemon."""
        self.client_config.write_text(
            f"Host {self.alias}\n  HostName 127.0.0.1\n  Port {self.port}\n  User {self.user}\n"
            f"  IdentityFile {key or self.user_key}\n  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {known_hosts or self.known_hosts}\n"
            f"Host *\n  IdentitiesOnly yes\n  IdentityFile {key or self.user_key}\n"
            f"  UserKnownHostsFile {known_hosts or self.known_hosts}\n")

    def start(self) -> None:
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)], stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        wait_listening(self.proc, self.port, self.log, "sshd", 20)

    def kill(self) -> None:
        """SIGKILL the listener and every process under it, as a reboot would: sshd puts each
        connection in a session of its own, so its process group alone would leave them alive."""
        if self.proc is not None and self.proc.poll() is None:
            kill_tree(self.proc, 10)
        self.proc = None


@pytest.fixture(scope="session")
def sshd_installed() -> str:
    """Install openssh-server where it can be (root + apt-get); skip with the reason elsewhere."""
    res = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=900)
    if res.returncode == 77:
        pytest.skip(res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "no sshd here")
    if res.returncode != 0:
        pytest.fail(f"tests/sshd/install.sh failed:\n{res.stderr[-2000:]}")
    pytest.importorskip("paramiko", reason="the ssh extra is not installed (pip install 'edgelat[ssh]')")
    return SSHD


@pytest.fixture(scope="session")
def ssh_user_key(tmp_path_factory) -> Path:
    return keygen(tmp_path_factory.mktemp("sshkey") / "id_ed25519")


@pytest.fixture()
def sshd(sshd_installed, ssh_user_key, tmp_path, monkeypatch) -> Sshd:
    """A running sshd that accepts the test key, and a client config ($EDGELAT_SSH_CONFIG) that knows it."""
    root = tmp_path / "sshd"
    root.mkdir()
    daemon = Sshd(root, ssh_user_key)
    daemon.start()
    monkeypatch.setenv("EDGELAT_SSH_CONFIG", str(daemon.client_config))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)  # the tester's agent must not log us in
    yield daemon
    daemon.kill()


def ssh_board_file(path: Path, address: str, workdir: Path, **extra: object) -> Path:
    """A device file for the loopback sshd as a Linux board (the test venv's python runs the runner)."""
    fields = {"name": "ssh-board", "kind": "edge-cpu", "transport": "ssh", "runtime": "litert",
              "delegate": "xnnpack", "threads": 1, "cpu_mask": "0x1", "address": address,
              "workdir": str(workdir), "python": sys.executable, **extra}
    path.write_text("".join(f"{k} = {_toml(v)}\n" for k, v in fields.items()))
    return path


def _toml(v: object) -> str:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
