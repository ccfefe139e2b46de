"""Support for the `tokenmill serve` end-to-end tests (no tests here): start a server on
127.0.0.1 with a port the kernel picks (--port 0; the port is read from the startup log, so two
test runs never race for one), wait for /health, talk raw HTTP, and stop it with a deadline.
"""
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

TINY_MODEL_NAME = "tiny"


class ServerProcess:
    def __init__(self, tokenmill_bin, model, *extra_args, served_name=TINY_MODEL_NAME, start_timeout=60):
        self.log = tempfile.NamedTemporaryFile(prefix="tokenmill-serve-", suffix=".log", delete=False)
        args = [tokenmill_bin, "serve", "-m", str(model), "--host", "127.0.0.1", "--port", "0",
                "--served-model-name", served_name, "--threads", "2", *map(str, extra_args)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log)
        self.port = self._wait_for_port(start_timeout)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._wait_healthy(start_timeout)

    def log_text(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def _wait_for_port(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.log_text())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                raise RuntimeError(f"tokenmill serve exited with {self.proc.returncode}:\n{self.log_text()}")
            time.sleep(0.05)
        raise RuntimeError("tokenmill serve did not start listening:\n" + self.log_text())

    def _wait_healthy(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tokenmill serve exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                status, _, _ = self.request("GET", "/health", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("tokenmill serve never became healthy:\n" + self.log_text())

    def request(self, method, path, body=None, headers=None, timeout=30):
        """One HTTP request on a fresh connection: (status, headers dict, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            hdrs = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def metrics(self):
        """The /metrics page as {"name{labels}": value}."""
        status, _, body = self.request("GET", "/metrics")
        assert status == 200
        samples = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples

    def terminate(self, timeout=20):
        """SIGTERM, then wait; SIGKILL if it overstays. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def close(self):
        self.terminate()
        self.log.close()
        os.unlink(self.log.name)


def open_sse_socket(port, path, body, headers=None):
    """Sends a streaming POST over a raw socket and returns it, for clients that vanish midway."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    payload = json.dumps(body).encode()
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            f"Content-Length: {len(payload)}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
    return sock


def read_until(sock, needle, count, limit_bytes=1 << 20):
    """Reads from sock until `needle` was seen `count` times (or the peer closed); returns the bytes."""
    data = b""
    while data.count(needle) < count and len(data) < limit_bytes:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def wait_for(predicate, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)
