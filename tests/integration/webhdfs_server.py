#!/usr/bin/env python3
"""A small WebHDFS server for tests: it serves a local directory tree as
HDFS over the WebHDFS REST protocol, the way a NameNode and a DataNode
do, so larder-load's webhdfs:// and hdfs:// inputs can be tested without
Hadoop (which Debian does not package).

NameNode port, GET /webhdfs/v1/<path>?op=...:
  GETFILESTATUS  {"FileStatus": {...}}
  LISTSTATUS     {"FileStatuses": {"FileStatus": [...]}}, sorted by name
                 (a file lists itself, with pathSuffix "")
  OPEN           307 with a Location on the separate DataNode port, which
                 serves the bytes from offset= (and at most length=)
Errors are RemoteException JSON with the status Hadoop gives them: 404
FileNotFoundException, 403 AccessControlException (paths set with
deny()), 401/403 SecurityException (no user.name, or a wrong delegation
token when one is required), 400 IllegalArgumentException.

Fault hooks, for retries and resumption:
  fail_next(n, op=None)        the next n requests (of that op) get a 500
  reset_next_open(n, after, path=None)
                               the next n DataNode transfers (of that
                               path) send their headers and `after` bytes
                               of the body, then reset the connection
Every request is recorded in .requests as (port kind, op, path, query).

Standalone: python3 webhdfs_server.py --root DIR [--port P]
[--datanode-port P] [--token T]; it prints its two ports and serves until
killed.
"""

import argparse
import http.server
import json
import os
import socket
import struct
import sys
import threading
import time
import urllib.parse

HOST = "127.0.0.1"
PREFIX = "/webhdfs/v1"


def remote_exception(exception, java_class, message):
    return {"RemoteException": {"exception": exception,
                                "javaClassName": java_class,
                                "message": message}}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    kind = "namenode"  # or "datanode", set by the subclasses below

    def log_message(self, fmt, *args):  # quiet: tests read .requests
        pass

    # -- replies -------------------------------------------------------------

    def send_json(self, status, doc, extra_headers=()):
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra_headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, exception, java_class, message):
        self.send_json(status, remote_exception(exception, java_class,
                                                message))

    # -- dispatch ------------------------------------------------------------

    def do_GET(self):
        ws = self.server.webhdfs
        url = urllib.parse.urlsplit(self.path)
        q = {k: v[-1] for k, v in urllib.parse.parse_qs(
            url.query, keep_blank_values=True).items()}
        op = q.get("op", "").upper()
        if not url.path.startswith(PREFIX):
            self.error(404, "FileNotFoundException",
                       "java.io.FileNotFoundException",
                       "no such endpoint: " + url.path)
            return
        hpath = urllib.parse.unquote(url.path[len(PREFIX):]) or "/"
        ws.record(self.kind, op, hpath, q)
        if ws.take_failure(op):
            self.error(500, "IOException", "java.io.IOException",
                       "injected failure")
            return
        if not self.authorised(ws, q):
            return
        local = ws.local_path(hpath)
        if local is None:
            self.error(400, "IllegalArgumentException",
                       "java.lang.IllegalArgumentException",
                       "Invalid path name " + hpath)
            return
        if ws.denied(hpath):
            self.error(403, "AccessControlException",
                       "org.apache.hadoop.security.AccessControlException",
                       "Permission denied: user=%s, access=READ, inode=\"%s\""
                       % (q.get("user.name", "?"), hpath))
            return
        if not os.path.exists(local):
            self.error(404, "FileNotFoundException",
                       "java.io.FileNotFoundException",
                       "File does not exist: " + hpath)
            return
        self.serve(ws, op, hpath, local, q)

    def authorised(self, ws, q):
        if ws.token is not None:
            if q.get("delegation") != ws.token:
                self.error(403, "SecurityException",
                           "java.lang.SecurityException",
                           "Failed to obtain user group information: "
                           "org.apache.hadoop.security.token.SecretManager"
                           "$InvalidToken: token is missing or wrong")
                return False
            return True
        if not q.get("user.name"):
            self.error(401, "SecurityException",
                       "java.lang.SecurityException",
                       "Authentication required: no user.name")
            return False
        return True


class _NameNodeHandler(_Handler):
    kind = "namenode"

    def serve(self, ws, op, hpath, local, q):
        if op == "GETFILESTATUS":
            self.send_json(200, {"FileStatus": file_status(local, "")})
        elif op == "LISTSTATUS":
            if os.path.isdir(local):
                entries = [file_status(os.path.join(local, n), n)
                           for n in sorted(os.listdir(local))]
            else:
                entries = [file_status(local, "")]
            self.send_json(200, {"FileStatuses": {"FileStatus": entries}})
        elif op == "OPEN":
            if os.path.isdir(local):
                self.error(404, "FileNotFoundException",
                           "java.io.FileNotFoundException",
                           "Path is not a file: " + hpath)
                return
            query = dict(q)
            query["namenoderpcaddress"] = "%s:%d" % (HOST, ws.nn_port)
            loc = "http://%s:%d%s%s?%s" % (
                HOST, ws.dn_port, PREFIX, urllib.parse.quote(hpath),
                urllib.parse.urlencode(query))
            self.send_response(307)
            self.send_header("Location", loc)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.error(400, "IllegalArgumentException",
                       "java.lang.IllegalArgumentException",
                       "Invalid value for webhdfs parameter \"op\": " + op)


class _DataNodeHandler(_Handler):
    kind = "datanode"

    def serve(self, ws, op, hpath, local, q):
        if op != "OPEN" or not os.path.isfile(local):
            self.error(400, "IllegalArgumentException",
                       "java.lang.IllegalArgumentException",
                       "the datanode only serves OPEN of a file")
            return
        size = os.path.getsize(local)
        try:
            offset = int(q.get("offset", "0"))
            length = int(q["length"]) if "length" in q else size - offset
        except ValueError:
            self.error(400, "IllegalArgumentException",
                       "java.lang.IllegalArgumentException",
                       "bad offset or length")
            return
        if offset < 0 or offset > size or length < 0:
            self.error(403, "IOException", "java.io.IOException",
                       "Offset=%d out of the range [0, %d)" % (offset, size))
            return
        length = min(length, size - offset)
        with open(local, "rb") as f:
            f.seek(offset)
            data = f.read(length)
        cut = ws.take_reset(hpath)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if cut is None or cut >= len(data):
            self.wfile.write(data)
            return
        self.wfile.write(data[:cut])
        self.wfile.flush()
        time.sleep(0.2)  # let the client take the bytes before the RST
        # Reset, not a clean close: SO_LINGER with a zero timeout.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.close_connection = True
        ws.resets_done += 1


def file_status(local, suffix):
    st = os.stat(local)
    is_dir = os.path.isdir(local)
    return {
        "accessTime": int(st.st_atime * 1000),
        "blockSize": 134217728,
        "childrenNum": len(os.listdir(local)) if is_dir else 0,
        "fileId": st.st_ino,
        "group": "supergroup",
        "length": 0 if is_dir else st.st_size,
        "modificationTime": int(st.st_mtime * 1000),
        "owner": "hdfs",
        "pathSuffix": suffix,
        "permission": "755" if is_dir else "644",
        "replication": 0 if is_dir else 3,
        "storagePolicy": 0,
        "type": "DIRECTORY" if is_dir else "FILE",
    }


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class WebHdfsServer:
    """A NameNode port and a DataNode port serving root."""

    def __init__(self, root, port=0, datanode_port=0, token=None):
        self.root = os.path.realpath(root)
        self.token = token
        self.requests = []
        self.resets_done = 0
        self.failures_done = 0
        self._lock = threading.Lock()
        self._failures = []  # [remaining, op or None]
        self._resets = []    # [remaining, after, path or None]
        self._denied = set()
        self._nn = _Server((HOST, port), _NameNodeHandler)
        self._dn = _Server((HOST, datanode_port), _DataNodeHandler)
        self._nn.webhdfs = self._dn.webhdfs = self
        self.nn_port = self._nn.server_address[1]
        self.dn_port = self._dn.server_address[1]
        self._threads = []

    def start(self):
        for s in (self._nn, self._dn):
            t = threading.Thread(target=s.serve_forever, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        for s in (self._nn, self._dn):
            s.shutdown()
            s.server_close()
        for t in self._threads:
            t.join(timeout=10)

    def uri(self, scheme, path):
        return "%s://%s:%d%s" % (scheme, HOST, self.nn_port, path)

    # -- hooks -------------------------------------------------------------

    def fail_next(self, n, op=None):
        with self._lock:
            self._failures.append([n, op.upper() if op else None])

    def reset_next_open(self, n, after, path=None):
        with self._lock:
            self._resets.append([n, after, path])

    def deny(self, path):
        with self._lock:
            self._denied.add(path.rstrip("/") or "/")

    def clear(self):
        with self._lock:
            self._failures.clear()
            self._resets.clear()
            self._denied.clear()
            self.requests.clear()
            self.resets_done = 0
            self.failures_done = 0

    # -- used by the handlers -------------------------------------------

    def record(self, kind, op, path, query):
        with self._lock:
            self.requests.append((kind, op, path, dict(query)))

    def take_failure(self, op):
        with self._lock:
            for f in self._failures:
                if f[0] > 0 and (f[1] is None or f[1] == op):
                    f[0] -= 1
                    self.failures_done += 1
                    return True
        return False

    def take_reset(self, path):
        with self._lock:
            for r in self._resets:
                if r[0] > 0 and (r[2] is None or r[2] == path):
                    r[0] -= 1
                    return r[1]
        return None

    def denied(self, path):
        with self._lock:
            p = path.rstrip("/") or "/"
            while True:
                if p in self._denied:
                    return True
                if p == "/":
                    return False
                p = os.path.dirname(p)

    def local_path(self, hpath):
        """The local file of an HDFS path, or None if it leaves root."""
        if not hpath.startswith("/") or "\x00" in hpath:
            return None
        p = os.path.realpath(os.path.join(self.root, hpath.lstrip("/")))
        if p != self.root and not p.startswith(self.root + os.sep):
            return None
        return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--datanode-port", type=int, default=0)
    ap.add_argument("--token", default=None)
    a = ap.parse_args()
    s = WebHdfsServer(a.root, a.port, a.datanode_port, a.token).start()
    print("namenode %d datanode %d" % (s.nn_port, s.dn_port), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    s.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
