"""A fault-injecting HTTP proxy for S3 integration tests.

This file implements FaultProxy: a small HTTP/1.1 server on 127.0.0.1 that
forwards every request to an S3 server (moto) and, when a rule matches the
request, answers in its place or spoils the answer:

- ("status", code, s3_code): an S3 error document with that status and
  Code (500 InternalError, 503 SlowDown, 429, 403 InvalidAccessKeyId, 404
  NoSuchKey...), without contacting the server;
- ("reset",): forwards, sends the headers and half the body, then resets
  the connection (SO_LINGER 0), as a connection dropped mid-object;
- ("corrupt",): forwards and flips one byte in the middle of a 200 body,
  the length unchanged;
- ("stall", seconds): forwards, sends the headers and half the body, then
  sends nothing more for that long before closing, as a server or network
  that hangs mid-object (the client's stall timeout must fire);
- ("delay", seconds): waits that long, then forwards; max_delayed counts
  how many such requests were waiting at once (a client's concurrency).

Each rule matches a method and a regular expression searched in the path,
and fires `times` times (None: always). Every request is recorded (method,
path, Range header, whether a rule fired), so a test can count attempts
and see resumed reads. Standard library only; the server runs in daemon
threads of the test process and close() stops it.
"""

import http.client
import re
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOST = "127.0.0.1"

# Response headers not copied from the server: the proxy sets its own.
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding",
                "content-length", "date", "server"}
# Request headers not forwarded: http.client sets Host, the proxy closes.
_SKIP_REQUEST = {"host", "connection", "expect", "keep-alive"}

_S3_MESSAGES = {
    "InternalError": "We encountered an internal error. Please try again.",
    "SlowDown": "Please reduce your request rate.",
    "AccessDenied": "Access Denied",
    "InvalidAccessKeyId": "The AWS Access Key Id you provided does not "
                          "exist in our records.",
    "NoSuchKey": "The specified key does not exist.",
}


class Rule:
    def __init__(self, method, path_re, action, times):
        self.method = method
        self.path_re = re.compile(path_re)
        self.action = action
        self.times = times
        self.fired = 0

    def matches(self, method, path):
        return (self.method in (None, method) and
                self.path_re.search(path) is not None and
                (self.times is None or self.fired < self.times))


class Request:
    def __init__(self, method, path, range_header, fault):
        self.method = method
        self.path = path
        self.range = range_header
        self.fault = fault  # the action that fired, or None

    def __repr__(self):
        return "%s %s%s%s" % (self.method, self.path,
                              " Range=" + self.range if self.range else "",
                              " [%s]" % self.fault if self.fault else "")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A connection the proxy reset on purpose is not an error.
        pass


class FaultProxy:
    """Forwards 127.0.0.1:port to 127.0.0.1:upstream_port, with faults."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.lock = threading.Lock()
        self.rules = []
        self.requests = []
        self.injected = 0
        self.delayed = 0      # "delay" requests waiting now
        self.max_delayed = 0  # ... and the most at once
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_GET(self):
                proxy._handle(self)

            do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

        self.server = _Server((HOST, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    # ---- rules and records -----------------------------------------------

    def add(self, method, path_re, action, times=1):
        """Adds a rule; action is a tuple as in the module docstring."""
        with self.lock:
            self.rules.append(Rule(method, path_re, action, times))

    def clear(self):
        with self.lock:
            self.rules = []

    def reset_records(self):
        with self.lock:
            self.requests = []
            self.injected = 0
            self.max_delayed = 0

    def seen(self, method=None, path_re=None):
        """The requests recorded, filtered by method and path regex."""
        with self.lock:
            reqs = list(self.requests)
        return [r for r in reqs
                if (method is None or r.method == method) and
                (path_re is None or re.search(path_re, r.path))]

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def _take(self, method, path, range_header):
        with self.lock:
            rule = next((r for r in self.rules if r.matches(method, path)),
                        None)
            if rule is not None:
                rule.fired += 1
                self.injected += 1
            self.requests.append(Request(method, path, range_header,
                                         rule.action[0] if rule else None))
            return rule

    # ---- one request -------------------------------------------------------

    def _handle(self, h):
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length > 0 else b""
        path = urlsplit(h.path).path
        rule = self._take(h.command, path, h.headers.get("Range"))
        action = rule.action if rule is not None else ("forward",)
        h.close_connection = True
        if action[0] == "status":
            self._send_error(h, action[1], action[2], path)
            return
        if action[0] == "delay":
            with self.lock:
                self.delayed += 1
                self.max_delayed = max(self.max_delayed, self.delayed)
            time.sleep(action[1])
            with self.lock:
                self.delayed -= 1
        conn = http.client.HTTPConnection(HOST, self.upstream_port,
                                          timeout=30)
        try:
            headers = {k: v for k, v in h.headers.items()
                       if k.lower() not in _SKIP_REQUEST}
            conn.request(h.command, h.path, body=body if length > 0 else None,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            resp_headers = resp.getheaders()
            status = resp.status
        finally:
            conn.close()
        if action[0] == "corrupt" and status == 200 and data:
            mid = len(data) // 2
            data = data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:]
        h.send_response(status)
        for k, v in resp_headers:
            if k.lower() not in _HOP_HEADERS:
                h.send_header(k, v)
        if h.command == "HEAD":
            cl = resp.getheader("Content-Length")
            h.send_header("Content-Length", cl if cl is not None else "0")
        else:
            h.send_header("Content-Length", str(len(data)))
        h.send_header("Connection", "close")
        h.end_headers()
        if h.command == "HEAD":
            return
        if action[0] == "stall" and len(data) > 1:
            h.wfile.write(data[:len(data) // 2])
            h.wfile.flush()
            time.sleep(action[1])
            return
        if action[0] == "reset" and len(data) > 1:
            h.wfile.write(data[:len(data) // 2])
            h.wfile.flush()
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
            h.connection.close()
            return
        h.wfile.write(data)

    def _send_error(self, h, status, code, path):
        doc = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s"
               "</Code><Message>%s</Message><Resource>%s</Resource>"
               "<RequestId>fault-proxy</RequestId></Error>"
               % (code, _S3_MESSAGES.get(code, code), path)).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/xml")
        if h.command == "HEAD":
            h.send_header("Content-Length", "0")
        else:
            h.send_header("Content-Length", str(len(doc)))
        if status in (429, 503):
            h.send_header("Retry-After", "0")
        h.send_header("Connection", "close")
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(doc)
