#!/usr/bin/env python3
"""The AWS credential chain (common/aws_credentials.h) end to end, through
tests/tools/aws_creds_probe, against servers on 127.0.0.1:

- STS AssumeRoleWithWebIdentity against moto_server (skipped, saying so,
  when moto_server is not installed), and against a stand-in in this file
  that checks the request form and answers with an STS ErrorResponse;
- the ECS container endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI, with the
  Authorization token from the variable or from the token file) and EC2
  IMDSv2 (PUT /latest/api/token, then the role list and the role's
  credentials, 401 without the session token), both implemented here on
  http.server as AWS documents them;
- the order of the chain (environment, then shared files, then web
  identity, then container, then IMDS, a later source never asked when an
  earlier one answers), IMDS disabled, an IMDS that never answers failing
  within a bound, and no secret ever in the probe's output.

The probe is found in the build tree of --larderd: BUILD/tests/tools/.
Real AWS STS, ECS and EC2 IMDS are not reached: docs/s3.md says so.
"""

import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import larder_harness as h  # noqa: E402
from larder_harness import eq, check  # noqa: E402

SECRET = "k9Qz7Xw2Lm4Np6Rt8Vb0Cd1Ef3Gh5Jk7Lm9No1Pq"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE+session/token=="
EXPIRATION = "2031-05-04T03:02:01Z"
EXPIRATION_MS = 1935630121000
IMDS_SESSION = "AQAEAExampleImdsSessionToken=="
ECS_AUTH = "Basic ecs-auth-value"
WEB_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl"
ROLE = "larder-node-role"

# Short backoffs for the STS retries (http_client.h reads these).
RETRY_ENV = {"LARDER_HTTP_RETRY_ATTEMPTS": "2",
             "LARDER_HTTP_RETRY_BASE_MS": "20",
             "LARDER_HTTP_RETRY_MAX_MS": "100"}


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest()


def creds_doc(key_id, extra=None):
    doc = {"AccessKeyId": key_id, "SecretAccessKey": SECRET,
           "Token": TOKEN, "Expiration": EXPIRATION}
    doc.update(extra or {})
    return json.dumps(doc).encode()


# ---------------------------------------------------------------------------
# The stand-in: IMDSv2, the ECS container endpoint and STS on one port
# ---------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: tests read .requests
        pass

    def reply(self, status, body, ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def record(self, body=b""):
        srv = self.server.owner
        with srv.lock:
            srv.requests.append((self.command, self.path,
                                 {k.lower(): v for k, v in
                                  self.headers.items()}, body))

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_PUT(self):
        body = self.read_body()
        self.record(body)
        srv = self.server.owner
        if self.path != "/latest/api/token":
            return self.reply(404, b"not found")
        if srv.stall_imds:
            srv.stall.wait(30)  # never answers; stop() ends the wait
            return
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.reply(400, b"missing or bad token TTL")
        self.reply(200, IMDS_SESSION.encode())

    def do_GET(self):
        self.record()
        srv = self.server.owner
        path = self.path
        if path.startswith("/latest/"):
            if self.headers.get("X-aws-ec2-metadata-token") != IMDS_SESSION:
                return self.reply(401, b"")
            base = "/latest/meta-data/iam/security-credentials/"
            if path == base:
                if srv.imds_role is None:
                    return self.reply(404, b"not found")
                return self.reply(200, (srv.imds_role + "\n").encode())
            if path == base + ROLE:
                return self.reply(200, creds_doc(
                    "ASIAIMDSSTANDIN",
                    {"Code": "Success", "Type": "AWS-HMAC",
                     "LastUpdated": "2031-05-04T00:00:00Z"}),
                    "application/json")
            return self.reply(404, b"not found")
        if path == "/v2/credentials/task":
            if srv.ecs_auth is not None and \
                    self.headers.get("Authorization") != srv.ecs_auth:
                return self.reply(401, b'{"message":"unauthorized"}',
                                  "application/json")
            return self.reply(200, creds_doc("ASIAECSSTANDIN"),
                              "application/json")
        self.reply(404, b"not found")

    def do_POST(self):
        body = self.read_body()
        self.record(body)
        srv = self.server.owner
        if self.path != "/":
            return self.reply(404, b"not found")
        if srv.sts_error is not None:
            code, message = srv.sts_error
            xml = ("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/"
                   "2011-06-15/\"><Error><Type>Sender</Type><Code>%s</Code>"
                   "<Message>%s</Message></Error><RequestId>r</RequestId>"
                   "</ErrorResponse>" % (code, message))
            return self.reply(400, xml.encode(), "text/xml")
        xml = ("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts."
               "amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentity"
               "Result><Credentials><AccessKeyId>ASIASTSSTANDIN</AccessKeyId>"
               "<SecretAccessKey>%s</SecretAccessKey><SessionToken>%s"
               "</SessionToken><Expiration>%s</Expiration></Credentials>"
               "</AssumeRoleWithWebIdentityResult>"
               "</AssumeRoleWithWebIdentityResponse>"
               % (SECRET, TOKEN, EXPIRATION))
        self.reply(200, xml.encode(), "text/xml")


class StandIn:
    """IMDSv2, the ECS container endpoint and an STS stand-in on one
    port; every request is kept in .requests as (method, path, headers
    with lower-case names, body)."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.stall = threading.Event()
        self.stall_imds = False      # PUT /latest/api/token never answers
        self.imds_role = ROLE        # None: the role list is a 404
        self.ecs_auth = ECS_AUTH     # None: no Authorization needed
        self.sts_error = None        # (code, message): STS answers 400
        self.httpd = http.server.ThreadingHTTPServer((h.HOST, 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.url = "http://%s:%d" % (h.HOST, self.port)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.stall.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)

    def seen(self, method=None, prefix=""):
        with self.lock:
            return [r for r in self.requests
                    if (method is None or r[0] == method)
                    and r[1].startswith(prefix)]


def with_standin(fn):
    def test(ctx):
        s = StandIn()
        try:
            fn(ctx, s)
        finally:
            s.stop()
    test.__name__ = fn.__name__
    return test


# ---------------------------------------------------------------------------
# The probe
# ---------------------------------------------------------------------------

def probe_path(ctx):
    build = os.path.dirname(os.path.dirname(os.path.abspath(
        ctx.opts.larderd)))
    path = os.path.join(build, "tests", "tools", "aws_creds_probe")
    check(os.access(path, os.X_OK),
          "%s not built (tests/tools is added by tests/CMakeLists.txt)"
          % path)
    return path


class Probe:
    """One run of aws_creds_probe: .rc, .fields (name=value lines),
    .out, .err, .seconds."""

    def __init__(self, rc, out, err, seconds):
        self.rc, self.out, self.err, self.seconds = rc, out, err, seconds
        self.fields = dict(line.split("=", 1) for line in out.splitlines()
                           if "=" in line)


def probe(ctx, env, profile=None, timeout=30.0, home=None):
    """Runs the probe with only the AWS_* variables in env (all others
    of the test's environment removed), HOME an empty directory unless
    given, and IMDS disabled unless env says otherwise."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e["HOME"] = home or h.tmpdir()
    e["AWS_EC2_METADATA_DISABLED"] = "true"
    e.update(RETRY_ENV)
    e.update({k: v for k, v in env.items() if v is not None})
    for k, v in env.items():
        if v is None:
            e.pop(k, None)
    cmd = [probe_path(ctx)] + (["--profile", profile] if profile else [])
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=e, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=e["HOME"])
    try:
        out, err = p.communicate(timeout=h.scaled(timeout))
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        h.fail("aws_creds_probe did not finish within %.0f s"
               % h.scaled(timeout))
    r = Probe(p.returncode, out.decode("utf-8", "replace"),
              err.decode("utf-8", "replace"), time.monotonic() - t0)
    for secret in (SECRET, TOKEN, IMDS_SESSION, WEB_TOKEN, ECS_AUTH):
        check(secret not in r.out and secret not in r.err,
              "a secret was printed: %r %r" % (r.out, r.err))
    return r


def expect_ok(r, source, key_id=None):
    check(r.rc == 0, "probe failed (exit %d): %s" % (r.rc, r.err.strip()))
    eq(r.fields.get("source"), source, "source")
    if key_id is not None:
        eq(r.fields.get("access_key_id"), key_id, "access key id")


def expect_fail(r, *needles):
    check(r.rc == 1, "probe should have failed; exit %d, out %r"
          % (r.rc, r.out))
    for n in needles:
        check(n in r.err, "%r not in the error: %s" % (n, r.err.strip()))


def expect_standin_secret(r):
    """The secret and token served by the stand-ins came through whole."""
    eq(r.fields.get("secret_access_key_sha256"), sha256(SECRET),
       "secret's SHA-256")
    eq(r.fields.get("session_token_sha256"), sha256(TOKEN),
       "session token's SHA-256")
    eq(r.fields.get("expires_ms"), str(EXPIRATION_MS), "expires_ms")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


# ---------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------

@with_standin
def test_order_env_then_files_then_network(ctx, s):
    """Each source answers only when those before it are not configured;
    the ones after it are never asked."""
    d = h.tmpdir()
    os.makedirs(os.path.join(d, ".aws"))
    write(os.path.join(d, ".aws", "credentials"),
          "[default]\naws_access_key_id = AKIDPROFILE\n"
          "aws_secret_access_key = %s\n" % SECRET)
    write(os.path.join(d, ".aws", "config"),
          "[default]\nregion = eu-north-1\n")
    token_file = write(os.path.join(d, "token"), WEB_TOKEN + "\n")
    network = {
        "AWS_WEB_IDENTITY_TOKEN_FILE": token_file,
        "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/web",
        "AWS_ENDPOINT_URL_STS": s.url,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": s.url + "/v2/credentials/task",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": ECS_AUTH,
        "AWS_EC2_METADATA_DISABLED": "false",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": s.url,
    }
    env_keys = {"AWS_ACCESS_KEY_ID": "AKIDENV",
                "AWS_SECRET_ACCESS_KEY": SECRET,
                "AWS_REGION": "ap-northeast-2"}
    r = probe(ctx, dict(network, **env_keys), home=d)
    expect_ok(r, "env", "AKIDENV")
    eq(r.fields["region"], "ap-northeast-2", "region from AWS_REGION")
    eq(r.fields["session_token_length"], "0", "no session token")
    eq(r.fields["expires_ms"], "0", "env keys do not expire")
    r = probe(ctx, network, home=d)
    expect_ok(r, "profile", "AKIDPROFILE")
    eq(r.fields["region"], "eu-north-1", "region from the config file")
    eq(s.requests, [], "requests made while env or profile answered")

    empty = h.tmpdir()
    r = probe(ctx, network, home=empty)
    expect_ok(r, "web-identity", "ASIASTSSTANDIN")
    eq(len(s.seen()), 1, "requests for web identity (one STS call)")
    del network["AWS_WEB_IDENTITY_TOKEN_FILE"], network["AWS_ROLE_ARN"]
    r = probe(ctx, network, home=empty)
    expect_ok(r, "ecs", "ASIAECSSTANDIN")
    eq(len(s.seen(prefix="/latest/")), 0, "IMDS requests while ECS answers")
    del network["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    r = probe(ctx, network, home=empty)
    expect_ok(r, "imds", "ASIAIMDSSTANDIN")
    eq(r.fields["region"], "us-east-1", "default region")


def test_profile_argument_and_files(ctx):
    """--profile picks a [profile NAME] of AWS_CONFIG_FILE, with its
    region; AWS_SHARED_CREDENTIALS_FILE is read before it."""
    d = h.tmpdir()
    conf = write(os.path.join(d, "conf"),
                 "[profile batch]\nregion = us-west-2\n"
                 "aws_access_key_id = AKIDCONF\n"
                 "aws_secret_access_key = %s\n" % SECRET)
    creds = write(os.path.join(d, "creds"), "[other]\n"
                  "aws_access_key_id = AKIDOTHER\n"
                  "aws_secret_access_key = %s\n" % SECRET)
    env = {"AWS_CONFIG_FILE": conf, "AWS_SHARED_CREDENTIALS_FILE": creds}
    r = probe(ctx, env, profile="batch")
    expect_ok(r, "profile", "AKIDCONF")
    eq(r.fields["region"], "us-west-2", "region of [profile batch]")
    eq(r.fields["secret_access_key_sha256"], sha256(SECRET), "secret")
    r = probe(ctx, dict(env, AWS_PROFILE="batch"), profile="other")
    expect_ok(r, "profile", "AKIDOTHER")
    r = probe(ctx, env, profile="missing")
    expect_fail(r, "profile failed: profile 'missing' not found",
                "no [missing]", "no [profile missing]")


def test_nothing_configured(ctx):
    r = probe(ctx, {})
    expect_fail(r, "no AWS credentials found; tried env", "profile 'default'",
                "web-identity (", "ecs (",
                "imds (disabled by AWS_EC2_METADATA_DISABLED)")


def test_web_identity_moto(ctx):
    """AssumeRoleWithWebIdentity against moto's STS: the credentials moto
    issues come back with their expiry, through AWS_ENDPOINT_URL_STS and
    through AWS_ENDPOINT_URL."""
    moto = shutil.which("moto_server")
    if moto is None:
        h.unavailable("moto_server is not installed: web identity is covered "
                     "only by the STS stand-in test")
    port = h.free_port()
    log = open(os.path.join(h.tmpdir(), "moto.log"), "wb")
    p = subprocess.Popen([moto, "-H", h.HOST, "-p", str(port)],
                         stdin=subprocess.DEVNULL, stdout=log,
                         stderr=subprocess.STDOUT, preexec_fn=h._pdeathsig)
    try:
        def up():
            check(p.poll() is None, "moto_server exited (code %s)"
                  % p.poll())
            try:
                socket.create_connection((h.HOST, port), timeout=1).close()
                return True
            except OSError:
                return False
        h.wait_until(up, h.scaled(30), interval=0.1,
                     what="moto_server listening")
        token_file = write(os.path.join(h.tmpdir(), "token"), WEB_TOKEN)
        url = "http://%s:%d" % (h.HOST, port)
        base = {"AWS_WEB_IDENTITY_TOKEN_FILE": token_file,
                "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/larder",
                "AWS_ROLE_SESSION_NAME": "larder-it",
                "AWS_REGION": "eu-west-1"}
        for var in ("AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"):
            r = probe(ctx, dict(base, **{var: url + "/"}))
            expect_ok(r, "web-identity")
            key = r.fields["access_key_id"]
            check(key.startswith("ASIA") and len(key) >= 16,
                  "moto's key id looks like a temporary one: %r" % key)
            eq(r.fields["secret_access_key_length"], "40", "secret length")
            check(int(r.fields["session_token_length"]) > 100,
                  "a session token came back")
            exp = int(r.fields["expires_ms"])
            now = time.time() * 1000
            check(now < exp < now + 2 * 86400 * 1000,
                  "expiry %d within two days of now" % exp)
            eq(r.fields["region"], "eu-west-1", "region")
    finally:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        log.close()


@with_standin
def test_web_identity_request_and_error(ctx, s):
    """The STS call is an unsigned form POST with the token file's
    content; an STS ErrorResponse stops the chain with its code."""
    d = h.tmpdir()
    token_file = write(os.path.join(d, "token"), "  " + WEB_TOKEN + "\n")
    env = {"AWS_WEB_IDENTITY_TOKEN_FILE": token_file,
           "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/web+x",
           "AWS_ENDPOINT_URL": s.url,
           # IMDS and ECS must not be asked after a web identity failure.
           "AWS_EC2_METADATA_DISABLED": "false",
           "AWS_EC2_METADATA_SERVICE_ENDPOINT": s.url}
    r = probe(ctx, env)
    expect_ok(r, "web-identity", "ASIASTSSTANDIN")
    expect_standin_secret(r)
    (method, path, headers, body), = s.seen()
    eq((method, path), ("POST", "/"), "STS request line")
    check(headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"), "form content type: %r"
        % headers.get("content-type"))
    check("authorization" not in headers, "the STS call is unsigned")
    form = urllib.parse.parse_qs(body.decode(), strict_parsing=True)
    eq(form.get("Action"), ["AssumeRoleWithWebIdentity"], "Action")
    eq(form.get("Version"), ["2011-06-15"], "Version")
    eq(form.get("RoleArn"), ["arn:aws:iam::123456789012:role/web+x"],
       "RoleArn")
    eq(form.get("WebIdentityToken"), [WEB_TOKEN], "WebIdentityToken")
    check(form.get("RoleSessionName", [""])[0].startswith("larder-"),
          "default session name: %r" % form.get("RoleSessionName"))

    s.sts_error = ("InvalidIdentityToken", "Incorrect token audience")
    r = probe(ctx, dict(env, AWS_ROLE_SESSION_NAME="job-42"))
    expect_fail(r, "web-identity failed", "HTTP 400",
                "STS error InvalidIdentityToken: Incorrect token audience",
                "arn:aws:iam::123456789012:role/web+x")
    form = urllib.parse.parse_qs(s.seen()[-1][3].decode())
    eq(form.get("RoleSessionName"), ["job-42"], "AWS_ROLE_SESSION_NAME")
    eq(s.seen(prefix="/latest/"), [], "IMDS asked after STS failed")


@with_standin
def test_ecs_full_uri(ctx, s):
    """The container endpoint with its Authorization header; the token
    file wins over the variable; a refused token is a clear failure."""
    d = h.tmpdir()
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI":
           s.url + "/v2/credentials/task",
           "AWS_CONTAINER_AUTHORIZATION_TOKEN": ECS_AUTH}
    r = probe(ctx, env)
    expect_ok(r, "ecs", "ASIAECSSTANDIN")
    expect_standin_secret(r)
    (method, path, headers, _), = s.seen()
    eq((method, path), ("GET", "/v2/credentials/task"), "ECS request")
    eq(headers.get("authorization"), ECS_AUTH, "Authorization header")

    auth_file = write(os.path.join(d, "auth"), ECS_AUTH + "\n")
    r = probe(ctx, dict(env, AWS_CONTAINER_AUTHORIZATION_TOKEN="stale",
                        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=auth_file))
    expect_ok(r, "ecs", "ASIAECSSTANDIN")

    r = probe(ctx, dict(env, AWS_CONTAINER_AUTHORIZATION_TOKEN="wrong",
                        AWS_EC2_METADATA_DISABLED="false",
                        AWS_EC2_METADATA_SERVICE_ENDPOINT=s.url))
    expect_fail(r, "ecs failed", "HTTP 401", "AWS_CONTAINER_AUTHORIZATION")
    eq(s.seen(prefix="/latest/"), [], "IMDS asked after ECS failed")

    n = len(s.requests)
    r = probe(ctx, {"AWS_CONTAINER_CREDENTIALS_FULL_URI":
                    "http://192.0.2.1/v2/credentials/task"})
    expect_fail(r, "ecs failed", "not allowed over plain http")
    eq(len(s.requests), n, "requests for a refused URI")


@with_standin
def test_imds_v2(ctx, s):
    """IMDSv2: a session token first, then the role and its credentials,
    each GET carrying the token (the stand-in answers 401 without it)."""
    req = urllib.request.Request(
        s.url + "/latest/meta-data/iam/security-credentials/")
    try:
        urllib.request.urlopen(req, timeout=h.scaled(5))
        h.fail("the IMDS stand-in answered without a session token")
    except urllib.error.HTTPError as e:
        eq(e.code, 401, "IMDS stand-in without a token")
    del s.requests[:]

    env = {"AWS_EC2_METADATA_DISABLED": None,
           "AWS_EC2_METADATA_SERVICE_ENDPOINT": s.url + "/",
           "AWS_DEFAULT_REGION": "eu-west-3"}
    r = probe(ctx, env)
    expect_ok(r, "imds", "ASIAIMDSSTANDIN")
    expect_standin_secret(r)
    eq(r.fields["region"], "eu-west-3", "region from AWS_DEFAULT_REGION")
    seen = s.seen()
    eq([(m, p) for m, p, _, _ in seen],
       [("PUT", "/latest/api/token"),
        ("GET", "/latest/meta-data/iam/security-credentials/"),
        ("GET", "/latest/meta-data/iam/security-credentials/" + ROLE)],
       "IMDS requests")
    ttl = seen[0][2].get("x-aws-ec2-metadata-token-ttl-seconds", "")
    check(ttl.isdigit() and 1 <= int(ttl) <= 21600, "token TTL %r" % ttl)
    for _, _, headers, _ in seen[1:]:
        eq(headers.get("x-aws-ec2-metadata-token"), IMDS_SESSION,
           "session token on the GETs")

    s.imds_role = None
    r = probe(ctx, env)
    expect_fail(r, "imds failed", "HTTP 404", "no IAM role attached")


@with_standin
def test_imds_disabled_and_unanswered(ctx, s):
    """AWS_EC2_METADATA_DISABLED=true asks nothing; an IMDS that accepts
    the connection and never answers fails within a bound (the 1 s
    timeouts, not the HTTP client's 30 s defaults)."""
    env = {"AWS_EC2_METADATA_DISABLED": "TRUE",
           "AWS_EC2_METADATA_SERVICE_ENDPOINT": s.url}
    r = probe(ctx, env)
    expect_fail(r, "imds (disabled by AWS_EC2_METADATA_DISABLED)")
    eq(s.requests, [], "requests while IMDS is disabled")

    s.stall_imds = True
    r = probe(ctx, dict(env, AWS_EC2_METADATA_DISABLED=None), timeout=60)
    expect_fail(r, "imds failed: no IMDSv2 session token",
                "AWS_EC2_METADATA_DISABLED=true")
    check(r.seconds < h.scaled(10),
          "an unanswered IMDS took %.1f s to give up" % r.seconds)
    eq(len(s.seen("PUT")), 1, "token requests (IMDS is tried once)")


if __name__ == "__main__":
    h.main([test_order_env_then_files_then_network,
            test_profile_argument_and_files,
            test_nothing_configured,
            test_web_identity_moto,
            test_web_identity_request_and_error,
            test_ecs_full_uri,
            test_imds_v2,
            test_imds_disabled_and_unanswered], budget=180)
