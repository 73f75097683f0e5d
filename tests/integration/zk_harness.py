"""A real ZooKeeper for larder's integration tests.

This file implements start/stop helpers around Debian's ZooKeeper (the
`zookeeper` package: /usr/share/java/zookeeper.jar) run standalone, in the
foreground, as a child of the test:

- ZooKeeper(...).start() writes a config into a fresh temporary directory
  (tickTime=100 so a session can expire in about a second, a free client
  port on 127.0.0.1, the admin server off, minSessionTimeout low enough for
  ~1 s sessions), starts the JVM and waits, bounded, until the server
  answers "ruok" with "imok";
- stop() (SIGTERM, bounded wait, SIGKILL) and start() again reuse the same
  port and data directory, so a test can restart the server under its
  clients; kill() is SIGKILL;
- uri() builds a zk:// membership URI for it.

The process is registered with larder_harness, so the runner kills it even
when a test fails or the time budget runs out. Only the Python 3 standard
library is used. available() says whether ZooKeeper is installed, for
tests that should skip without it.
"""

import os
import shutil
import signal
import socket
import subprocess
import time

import larder_harness as h

ZOOKEEPER_JAR = "/usr/share/java/zookeeper.jar"
ZOOKEEPER_CONF_DIR = "/etc/zookeeper/conf"  # its log4j settings
SERVER_MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"


def available():
    """(True, "") if java and the ZooKeeper jar are installed, else
    (False, why)."""
    if shutil.which("java") is None:
        return False, "java is not installed"
    if not os.path.exists(ZOOKEEPER_JAR):
        return False, "%s is missing (Debian package zookeeper)" % \
            ZOOKEEPER_JAR
    return True, ""


def four_letter(port, word, timeout=1.0):
    """Sends a four-letter command (ruok, srvr...); returns the answer, or
    None if nothing answered."""
    try:
        with socket.create_connection((h.HOST, port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                b = s.recv(4096)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks).decode("utf-8", "replace")
    except OSError:
        return None


class ZooKeeper:
    """One standalone ZooKeeper server on 127.0.0.1."""

    def __init__(self, tick_ms=100, min_session_ms=200,
                 max_session_ms=60000):
        self.tick_ms = tick_ms
        self.min_session_ms = min_session_ms
        self.max_session_ms = max_session_ms
        self.dir = h.tmpdir()
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir)
        self.port = None
        self.proc = None
        self.log_path = os.path.join(self.dir, "zookeeper.log")
        self._log = None

    @property
    def hosts(self):
        return "%s:%d" % (h.HOST, self.port)

    def uri(self, chroot="/larder-it", **options):
        """zk://127.0.0.1:PORT/chroot?k=v&... (options in the given
        order)."""
        query = "&".join("%s=%s" % (k, v) for k, v in options.items())
        return "zk://%s%s%s" % (self.hosts, chroot,
                                "?" + query if query else "")

    def _write_config(self):
        cfg = os.path.join(self.dir, "zoo.cfg")
        with open(cfg, "w") as f:
            f.write("tickTime=%d\n" % self.tick_ms)
            f.write("dataDir=%s\n" % self.data_dir)
            f.write("clientPort=%d\n" % self.port)
            f.write("clientPortAddress=%s\n" % h.HOST)
            f.write("admin.enableServer=false\n")
            f.write("minSessionTimeout=%d\n" % self.min_session_ms)
            f.write("maxSessionTimeout=%d\n" % self.max_session_ms)
            f.write("4lw.commands.whitelist=ruok,srvr\n")
            f.write("maxClientCnxns=0\n")
        return cfg

    def start(self, timeout=30.0):
        """Starts the server (on a new free port the first time, on the same
        port afterwards) and waits until it answers ruok."""
        first = self.port is None
        for attempt in range(3):
            if first:
                self.port = h.free_port()
            cfg = self._write_config()
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(
                ["java", "-Xmx256m", "-XX:+UseSerialGC",
                 "-cp", "%s:%s" % (ZOOKEEPER_CONF_DIR, ZOOKEEPER_JAR),
                 SERVER_MAIN, cfg],
                stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT, cwd=self.dir,
                preexec_fn=h._pdeathsig)
            h._started.append(self.proc)
            if self._wait_ready(timeout):
                return self
            code = self.proc.poll()
            self.stop()
            if code is None or not first or attempt == 2:
                break  # not a lost race for the port: report it
        h.fail("ZooKeeper on port %d did not answer ruok within %.1f s\n"
               "log:\n%s" % (self.port, h.scaled(timeout), self.log_tail()))

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + h.scaled(timeout)
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if four_letter(self.port, "ruok") == "imok":
                return True
            time.sleep(0.1)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """SIGTERM, bounded wait, then SIGKILL; the data stay."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=h.scaled(timeout))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close_log()

    def kill(self):
        """SIGKILL, as a crash; the data stay."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close_log()

    def wait_port_free(self, timeout=10.0):
        """Waits until nothing listens on the port (after stop)."""
        h.wait_until(lambda: h.port_refuses(self.port), timeout,
                     what="ZooKeeper's port %d to close" % self.port)

    def _close_log(self):
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])
