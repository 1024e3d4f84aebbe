#!/usr/bin/env python3
"""Slipway's load benchmark: Slipway against nginx serving the same files
from local disk and nginx as a caching reverse proxy in front of the same
bucket. Started by `bench/run`, which builds the release binary and installs
wrk, nginx and matplotlib first; see bench/README.md."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fixture as fixture_mod  # noqa: E402
import publish  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LIB = Path(__file__).resolve().parent


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


# The run's time stamp, in the names of everything it writes under bench/results.
STAMP = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%MZ")

CFG = {
    "rounds": env_int("BENCH_ROUNDS", 3),
    "duration_s": env_int("BENCH_DURATION", 10),
    "connections": env_int("BENCH_CONNECTIONS", 64),
    "sites": env_int("BENCH_SITES", 1000),
    "stream_rounds": env_int("BENCH_STREAM_ROUNDS", 2),
    "slow_rate": os.environ.get("BENCH_SLOW_RATE", "48M"),
    "server_cpu": os.environ.get("BENCH_SERVER_CPU", "0"),
    "client_cpu": os.environ.get("BENCH_CLIENT_CPU", "1"),
    # Names under .localhost resolve to the loopback addresses (nss-myhostname),
    # which wrk needs to send the site's name in the TLS handshake.
    "domain": "bench.localhost",
    "bucket": os.environ.get("BENCH_BUCKET", "slipway-bench"),
    "proxy_port": env_int("BENCH_SLIPWAY_PORT", 28080),
    "admin_port": env_int("BENCH_ADMIN_PORT", 28081),
    "nginx_static_port": env_int("BENCH_NGINX_STATIC_PORT", 28090),
    "nginx_proxy_port": env_int("BENCH_NGINX_PROXY_PORT", 28091),
    "disk_proxy_port": env_int("BENCH_DISK_SLIPWAY_PORT", 28082),
    "disk_admin_port": env_int("BENCH_DISK_ADMIN_PORT", 28083),
    "tls_port": env_int("BENCH_SLIPWAY_TLS_PORT", 28084),
    "nginx_tls_port": env_int("BENCH_NGINX_TLS_PORT", 28092),
    "rgw_port": env_int("BENCH_RGW_PORT", 27480),
    "mon_port": env_int("BENCH_MON_PORT", 26789),
}
WORK = Path(os.environ.get("BENCH_WORKDIR", "/tmp/slipway-bench"))
RESULTS = Path(os.environ.get("BENCH_RESULTS", ROOT / "bench" / "results"))
SLIPWAY_BIN = os.environ.get("SLIPWAY_BIN", str(ROOT / ".build" / "release" / "slipway"))

started: list[tuple[str, subprocess.Popen]] = []
cleanups: list = []


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def wait_port(port: int, timeout: float = 60, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def stop(name: str, proc: subprocess.Popen, grace: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop after {grace:.0f}s; killing it")
            proc.kill()
            proc.wait()
    started[:] = [(n, p) for n, p in started if p is not proc]


def cleanup() -> None:
    for name, proc in reversed(list(started)):
        stop(name, proc)
    for fn in reversed(cleanups):
        try:
            fn()
        except Exception as e:  # keep cleaning up
            log(f"cleanup: {e}")


def pinned(cpu: str, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu] + argv


# ---------------------------------------------------------------- object store

def start_store() -> dict:
    if os.environ.get("BENCH_S3_ENDPOINT"):
        log(f"using the S3 gateway at {os.environ['BENCH_S3_ENDPOINT']}")
        return {"endpoint": os.environ["BENCH_S3_ENDPOINT"], "key": os.environ["AWS_ACCESS_KEY_ID"],
                "secret": os.environ["AWS_SECRET_ACCESS_KEY"], "region": os.environ.get("AWS_REGION", "us-east-1"),
                "started": False}
    ceph_dir = WORK / "ceph"
    env = dict(os.environ, CEPH_DIR=str(ceph_dir), RGW_PORT=str(CFG["rgw_port"]), MON_PORT=str(CFG["mon_port"]),
               MEMSTORE_BYTES=os.environ.get("BENCH_MEMSTORE_BYTES", str(4 << 30)), RGW_TLS="0")
    script = str(ROOT / "scripts" / "ceph-rgw.sh")
    log(f"starting a Ceph RADOS Gateway on 127.0.0.1:{CFG['rgw_port']} ({ceph_dir})")
    cleanups.append(lambda: subprocess.run([script, "clean"], env=env, check=False,
                                           stdout=subprocess.DEVNULL))
    out = subprocess.run([script, "start"], env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    vals = dict(re.findall(r"export (\w+)=(\S+)", out))
    return {"endpoint": vals["S3_ENDPOINT"], "key": vals["AWS_ACCESS_KEY_ID"],
            "secret": vals["AWS_SECRET_ACCESS_KEY"], "region": vals.get("AWS_REGION", "us-east-1"), "started": True}


def s3_client(store: dict):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=store["endpoint"], aws_access_key_id=store["key"],
                        aws_secret_access_key=store["secret"], region_name=store["region"],
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))


def prepare_bucket(s3, bucket: str) -> None:
    try:
        s3.create_bucket(Bucket=bucket)
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass
    # nginx's proxy_cache fetches anonymously (nginx cannot sign S3 requests
    # without a third-party module), so the bench bucket is world-readable.
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
                       "Resource": [f"arn:aws:s3:::{bucket}/*"]}]}))


# ---------------------------------------------------------------- Slipway

def slipway_env(store: dict, cache_bytes: str | None = None, max_entry: str | None = None) -> dict:
    env = dict(os.environ)
    env.update({
        "SLIPWAY_DATA_DIR": str(WORK / "slipway"),
        "SLIPWAY_PROXY_HOST": "127.0.0.1",
        "SLIPWAY_PROXY_PORT": str(CFG["proxy_port"]),
        "SLIPWAY_ADMIN_HOST": "127.0.0.1",
        "SLIPWAY_ADMIN_PORT": str(CFG["admin_port"]),
        "SLIPWAY_APPS_DOMAIN": CFG["domain"],
        "SLIPWAY_STORAGE": "s3",
        "SLIPWAY_S3_ENDPOINT": store["endpoint"],
        "SLIPWAY_S3_BUCKET": CFG["bucket"],
        "SLIPWAY_S3_REGION": store["region"],
        "SLIPWAY_S3_ACCESS_KEY_ID": store["key"],
        "SLIPWAY_S3_SECRET_ACCESS_KEY": store["secret"],
        "SLIPWAY_S3_PATH_STYLE": "true",
        "SLIPWAY_ALLOW_LOCAL_REPOS": "true",
        "SLIPWAY_BUILD_RUNNER": "local",
        "SLIPWAY_BUILD_CONCURRENCY": "2",
        "SLIPWAY_QUEUE_MAX": str(CFG["sites"] + 100),
        "SLIPWAY_STATIC_DIR": str(ROOT / "static"),
        "SLIPWAY_ACCESS_LOG": "false",
        "SLIPWAY_PROXY_MAX_CONNECTIONS": "20000",
        # HTTPS beside the plain listener, with the certificate nginx's HTTPS server has.
        "SLIPWAY_TLS_PORT": str(CFG["tls_port"]),
        "SLIPWAY_TLS_CERT_FILE": str(WORK / "tls" / "fullchain.pem"),
        "SLIPWAY_TLS_KEY_FILE": str(WORK / "tls" / "edge.key"),
        # The plain scenarios measure serving over plain HTTP, as nginx's plain
        # server does, not the redirect to https a production edge sends.
        "SLIPWAY_HTTPS_REDIRECT": "false",
    })
    if cache_bytes:
        env["SLIPWAY_CACHE_BYTES"] = cache_bytes
    if max_entry:
        env["SLIPWAY_CACHE_MAX_ENTRY_BYTES"] = max_entry
    return env


def make_certificate() -> None:
    """A test CA and, signed by it, one ECDSA P-256 certificate for
    `*.<domain>` that Slipway's and nginx's HTTPS listeners both present."""
    d = WORK / "tls"
    d.mkdir(parents=True, exist_ok=True)
    dom = CFG["domain"]
    (d / "leaf.ext").write_text(f"subjectAltName=DNS:*.{dom},DNS:{dom}\nextendedKeyUsage=serverAuth\n"
                                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n")
    steps = [
        ["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"],
        ["openssl", "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=Slipway bench CA", "-days", "2",
         "-out", "ca.pem"],
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "edge.key"],
        ["openssl", "req", "-new", "-key", "edge.key", "-subj", f"/CN=*.{dom}", "-out", "edge.csr"],
        ["openssl", "x509", "-req", "-in", "edge.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-days", "2", "-extfile", "leaf.ext", "-out", "edge.pem"],
    ]
    for step in steps:
        subprocess.run(step, cwd=d, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    (d / "fullchain.pem").write_text((d / "edge.pem").read_text() + (d / "ca.pem").read_text())


def start_slipway(env: dict, label: str) -> subprocess.Popen:
    logf = open(WORK / f"slipway-{label}.log", "ab")
    proc = subprocess.Popen(pinned(CFG["server_cpu"], [SLIPWAY_BIN, "serve"]), env=env,
                            stdout=logf, stderr=subprocess.STDOUT, cwd=str(WORK))
    started.append(("slipway", proc))
    wait_port(int(env["SLIPWAY_PROXY_PORT"]), 60, proc)
    return proc


def disk_slipway_env() -> dict:
    """A second Slipway on the disk store (its own data directory and ports),
    for the stream-disk scenario."""
    env = dict(os.environ)
    for key in [k for k in env if k.startswith("SLIPWAY_S3_")]:
        del env[key]
    env.update({
        "SLIPWAY_DATA_DIR": str(WORK / "slipway-disk"),
        "SLIPWAY_PROXY_HOST": "127.0.0.1",
        "SLIPWAY_PROXY_PORT": str(CFG["disk_proxy_port"]),
        "SLIPWAY_ADMIN_HOST": "127.0.0.1",
        "SLIPWAY_ADMIN_PORT": str(CFG["disk_admin_port"]),
        "SLIPWAY_APPS_DOMAIN": CFG["domain"],
        "SLIPWAY_STORAGE": "disk",
        "SLIPWAY_ALLOW_LOCAL_REPOS": "true",
        "SLIPWAY_BUILD_RUNNER": "local",
        "SLIPWAY_STATIC_DIR": str(ROOT / "static"),
        "SLIPWAY_ACCESS_LOG": "false",
    })
    return env


# ---------------------------------------------------------------- nginx

def nginx_conf(www: Path, sites: dict[str, dict]) -> Path:
    d = WORK / "nginx"
    for sub in ("cache", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    dom = CFG["domain"]
    roots = [f"        fixture.{dom} {www}/fixture;", f"        big.{dom} {www}/big;"]
    prefixes = []
    for slug, s in sites.items():
        if slug.startswith("site-"):
            roots.append(f"        {slug}.{dom} {www}/sites/{slug};")
        prefixes.append(f"        {slug}.{dom} sites/{s['site_id']}/{s['build_id']};")
    user = "user root;\n" if os.geteuid() == 0 else ""
    # The fields the fixture's _headers adds to every answer (add_header in a
    # location replaces the server's, so each location repeats them).
    page_fields = "\n".join(
        f'            add_header {name} "{value}";' for name, value in fixture_mod.PAGE_FIELDS.items())
    static_locations = f"""        root $site_root;
        etag on;
        location / {{
{page_fields}
            try_files $uri $uri/index.html /index.html;
        }}
        location /assets/ {{
            gzip_static on;
            gzip_vary on;
{page_fields}
            add_header Cache-Control "public, max-age=31536000, immutable";
            try_files $uri =404;
        }}"""
    conf = f"""# Generated by bench/lib/bench.py: one worker, keep-alive, no access log.
{user}worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65s;
    keepalive_requests 10000000;
    open_file_cache max=20000 inactive=60s;
    open_file_cache_valid 60s;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    map_hash_max_size 16384;
    map_hash_bucket_size 128;

    map $host $site_root {{
        default {www}/fixture;
{chr(10).join(roots)}
    }}
    map $host $site_prefix {{
        default none;
{chr(10).join(prefixes)}
    }}
    map $http_accept_encoding $gz_prefix {{ default ""; ~*gzip "/.slipway/gzip"; }}
    map $http_accept_encoding $gz_suffix {{ default ""; ~*gzip ".gz"; }}

    # nginx serving the files from local disk: the practical ceiling.
    server {{
        listen 127.0.0.1:{CFG['nginx_static_port']} backlog=4096;
{static_locations}
    }}

    # The same over HTTPS, with the certificate Slipway's HTTPS listener has.
    server {{
        listen 127.0.0.1:{CFG['nginx_tls_port']} ssl http2 backlog=4096;
        ssl_certificate {WORK / "tls" / "fullchain.pem"};
        ssl_certificate_key {WORK / "tls" / "edge.key"};
        ssl_protocols TLSv1.2 TLSv1.3;
{static_locations}
    }}

    # nginx as a caching reverse proxy in front of the same bucket.
    upstream rgw {{ server 127.0.0.1:{CFG['rgw_port']}; keepalive 64; }}
    proxy_cache_path {d}/cache levels=1:2 keys_zone=sites:64m max_size=2g inactive=1h use_temp_path=off;
    server {{
        listen 127.0.0.1:{CFG['nginx_proxy_port']} backlog=4096;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host 127.0.0.1:{CFG['rgw_port']};
        proxy_cache sites;
        proxy_cache_valid 200 1h;
        proxy_cache_lock on;
        proxy_cache_revalidate off;
        proxy_ignore_headers Cache-Control Expires Set-Cookie;
        proxy_hide_header x-amz-request-id;
        proxy_hide_header x-rgw-object-type;
        proxy_hide_header x-amz-meta-slipway-sha256;
        location / {{
            # SPA fallback as Slipway does it: a last segment without a dot
            # (and the root) is the site's index.html.
            set $object $uri;
            if ($uri ~ "/[^./]*$") {{ set $object /index.html; }}
            proxy_cache_key $site_prefix$object;
            proxy_pass http://rgw/{CFG['bucket']}/$site_prefix$object;
{page_fields}
        }}
        location /assets/ {{
            proxy_cache_key $site_prefix$uri$gz_suffix;
            proxy_pass http://rgw/{CFG['bucket']}/$site_prefix$gz_prefix$uri$gz_suffix;
            add_header Vary Accept-Encoding;
{page_fields}
        }}
    }}
}}
"""
    path = d / "nginx.conf"
    path.write_text(conf)
    return path


def manifest(s3, site: dict) -> dict:
    key = f"manifests/{site['site_id']}/{site['build_id']}.json"
    return json.loads(s3.get_object(Bucket=CFG["bucket"], Key=key)["Body"].read())


def blob_key(sha256: str) -> str:
    return f"blobs/{sha256[:2]}/{sha256}"


def object_key(s3, site: dict, path: str) -> str:
    """Where the build stored the file at `path`: its blob (by the digest its manifest gives)."""
    entry = manifest(s3, site)["files"][path]
    return blob_key(entry["sha256"]) if entry.get("sha256") else f"sites/{site['site_id']}/{site['build_id']}/{path}"


def mirror_for_nginx(s3, sites: dict[str, dict]) -> None:
    """Slipway stores files by content (blobs/<aa>/<sha256>), which only its
    manifests map to paths. nginx's proxy_cache needs a path per file, so each
    file (and gzip variant) of the sites it serves is copied, inside the
    bucket, to sites/<siteId>/<buildId>/<path>: the same bytes, the same
    gateway, one request per object for nginx as for Slipway."""
    copied = 0
    for slug, site in sites.items():
        if slug == "big":
            continue  # streamed from Slipway, the gateway and nginx's disk only
        prefix = f"sites/{site['site_id']}/{site['build_id']}/"
        for path, entry in manifest(s3, site)["files"].items():
            # With the headers the objects had when stored per path (what nginx passes on).
            cache = "public, max-age=31536000, immutable" if entry["immutable"] else "public, max-age=0, must-revalidate"
            plain = {"ContentType": entry["contentType"], "CacheControl": cache}
            pairs = [(path, entry.get("sha256"), plain)] + [
                (v["path"], v.get("sha256"), dict(plain, ContentEncoding="gzip")) for v in entry["variants"].values()]
            for target, sha256, headers in pairs:
                if not sha256:
                    continue  # stored under the prefix already
                s3.copy_object(Bucket=CFG["bucket"], Key=prefix + target, MetadataDirective="REPLACE",
                               CopySource={"Bucket": CFG["bucket"], "Key": blob_key(sha256)}, **headers)
                copied += 1
    log(f"copied {copied} objects to per-site paths for nginx's proxy_cache")


def start_nginx(conf: Path) -> subprocess.Popen:
    subprocess.run(["nginx", "-t", "-q", "-c", str(conf), "-p", str(conf.parent)], check=True)
    proc = subprocess.Popen(pinned(CFG["server_cpu"], ["nginx", "-c", str(conf), "-p", str(conf.parent),
                                                       "-g", "daemon off;"]),
                            stdout=open(WORK / "nginx" / "stdout.log", "ab"), stderr=subprocess.STDOUT)
    started.append(("nginx", proc))
    wait_port(CFG["nginx_static_port"], 20, proc)
    wait_port(CFG["nginx_proxy_port"], 20, proc)
    wait_port(CFG["nginx_tls_port"], 20, proc)
    return proc


# ---------------------------------------------------------------- requests

class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1, naming `host` in the handshake (SNI) and checking
    the certificate against the bench's CA."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def fetch(port: int, path: str, host: str, headers: dict | None = None, method: str = "GET", tls: bool = False):
    if tls:
        context = ssl.create_default_context(cafile=str(WORK / "tls" / "ca.pem"))
        c = PinnedHTTPSConnection(host, port, timeout=30, context=context)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, headers=dict({"Host": host}, **(headers or {})))
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def wrk(url: str, headers: dict, duration: int, connections: int, script: str = "wrk_report.lua",
        args: list[str] | None = None) -> dict:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "-s", str(LIB / script)]
    for k, v in headers.items():
        argv += ["-H", f"{k}: {v}"]
    argv.append(url)
    if args:
        argv += ["--"] + args
    out = subprocess.run(pinned(CFG["client_cpu"], argv), check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=duration + 60).stdout
    m = re.search(r"BENCHJSON (\{.*\})", out)
    if not m:
        raise RuntimeError(f"wrk printed no report:\n{out}")
    r = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = sum(r[k] for k in ("errors_connect", "errors_read", "errors_write", "errors_status",
                                      "errors_timeout"))
    return r


def h2load(url: str, headers: dict, duration: int, connections: int, streams: int) -> dict:
    """HTTP/2 load from h2load: `connections` connections with `streams`
    requests in flight on each. h2load reports the mean time per request,
    not percentiles: the mean stands in the p50 column, p99 stays empty."""
    argv = ["h2load", "-t1", f"-c{connections}", f"-m{streams}", f"-D{duration}", "--warm-up-time=1"]
    for k, v in headers.items():
        if k.lower() != "host":  # the URL's host is the request's :authority and SNI
            argv += ["-H", f"{k}: {v}"]
    argv.append(url)
    out = subprocess.run(pinned(CFG["client_cpu"], argv), check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=duration + 60).stdout
    finished = re.search(r"finished in ([\d.]+)s, ([\d.]+) req/s", out)
    counts = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                       r"(\d+) errored, (\d+) timeout", out)
    statuses = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    mean = re.search(r"time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out)
    if not (finished and counts and statuses and mean):
        raise RuntimeError(f"h2load printed no report:\n{out}")
    if "Application protocol: h2" not in out:
        raise RuntimeError(f"h2load did not speak HTTP/2:\n{out}")
    scale = {"us": 1, "ms": 1000, "s": 1_000_000}[mean.group(2)]
    done = int(counts.group(2))
    return {"requests": done, "duration_us": float(finished.group(1)) * 1e6, "rps": float(finished.group(2)),
            "p50_us": float(mean.group(1)) * scale, "p99_us": None,
            "errors": int(counts.group(4)) + int(counts.group(5)) + int(counts.group(6)),
            "status_2xx": int(statuses.group(1)), "status_3xx": int(statuses.group(2)), "streams": streams}


def median_of(runs: list[dict]) -> dict:
    p99 = [r["p99_us"] for r in runs if r.get("p99_us") is not None]
    median = {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
        "p99_ms": statistics.median(p99) / 1000 if p99 else None,
        "errors": sum(r["errors"] for r in runs),
    }
    if all("user_us" in r for r in runs):
        median["user_us"] = statistics.median(r["user_us"] for r in runs)
        median["sys_us"] = statistics.median(r["sys_us"] for r in runs)
    return median


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a server process and its child
    processes (nginx's worker), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        user += int(fields[11]) / tick
        system += int(fields[12]) / tick
    return user, system


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (nginx's master and worker)."""
    found, pending = [], [pid]
    while pending:
        p = pending.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return found


def profile(pid: int, seconds: int, name: str) -> subprocess.Popen | None:
    """Starts `perf record` on a server for `seconds` (BENCH_PROFILE=1), or
    counts its system calls with `strace -c` (BENCH_PROFILE=syscalls)."""
    mode = os.environ.get("BENCH_PROFILE")
    pids = ",".join(str(p) for p in process_tree(pid))
    if mode == "syscalls" and shutil.which("strace"):
        attach = [a for p in pids.split(",") for a in ("-p", p)]
        return subprocess.Popen(["timeout", "-s", "INT", str(seconds), "strace", "-c", "-f", *attach,
                                 "-o", str(WORK / f"strace-{name}.txt")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if mode != "1" or not shutil.which("perf"):
        return None
    data = WORK / f"perf-{name}.data"
    graph = ["-g"] if os.environ.get("BENCH_PROFILE_GRAPH") == "1" else []
    return subprocess.Popen(["perf", "record", "-F", "2999", *graph, "-p", pids, "-o", str(data), "--",
                             "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_report(recorder: subprocess.Popen | None, name: str) -> None:
    """Writes the profile's flat report next to the results."""
    if recorder is None:
        return
    recorder.wait(timeout=120)
    if os.environ.get("BENCH_PROFILE") == "syscalls":
        out = RESULTS / f"syscalls-{STAMP}-{name}.txt"
        out.write_text((WORK / f"strace-{name}.txt").read_text())
        log(f"  system calls written to {out}")
        return
    report = ""
    for sort, limit in (("dso", "0.1"), ("dso,symbol", "0.4")):
        report += subprocess.run(["perf", "report", "--stdio", "--no-children", "--percent-limit", limit,
                                  "--sort", sort, "-i", str(WORK / f"perf-{name}.data")],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    out = RESULTS / f"profile-{STAMP}-{name}.txt"
    out.write_text(report)
    log(f"  profile written to {out}")


# ---------------------------------------------------------------- scenarios

class Bench:
    def __init__(self, store: dict, s3, sites: dict, fixture: dict, slipway: subprocess.Popen):
        self.store, self.s3, self.sites, self.fixture, self.slipway = store, s3, sites, fixture, slipway
        self.nginx: subprocess.Popen | None = None
        self.results: dict = {"scenarios": [], "streaming": {}, "notes": []}
        self.dom = CFG["domain"]

    def presigned(self, slug: str, path: str) -> str:
        s = self.sites[slug]
        return self.s3.generate_presigned_url("get_object", ExpiresIn=6 * 3600, Params={
            "Bucket": CFG["bucket"], "Key": object_key(self.s3, s, path.lstrip("/"))})

    def sides(self, tls: bool = False):
        if tls:
            return {"slipway": ("127.0.0.1", CFG["tls_port"]), "nginx-static": ("127.0.0.1", CFG["nginx_tls_port"])}
        return {
            "slipway": ("127.0.0.1", CFG["proxy_port"]),
            "nginx-static": ("127.0.0.1", CFG["nginx_static_port"]),
            "nginx-proxy_cache": ("127.0.0.1", CFG["nginx_proxy_port"]),
        }

    def check(self, name: str, side: str, port: int, path: str, host: str, headers: dict, want_status: int,
              want: dict | None = None, tls: bool = False) -> None:
        status, h, body = fetch(port, path, host, headers, tls=tls)
        problems = []
        if status != want_status:
            problems.append(f"status {status}, expected {want_status}")
        for k, v in (want or {}).items():
            if k == "length" and len(body) != v:
                problems.append(f"body {len(body)} bytes, expected {v}")
            elif k != "length" and v.lower() not in h.get(k, "").lower():
                problems.append(f"{k}: {h.get(k)!r}, expected {v!r}")
        if problems:
            raise RuntimeError(f"{name} on {side}: " + "; ".join(problems))

    def run_scenario(self, name: str, title: str, path: str, host: str, headers: dict, sides: list[str],
                     want_status: int, want: dict | None = None, connections: int | None = None,
                     script: str = "wrk_report.lua", args: list[str] | None = None,
                     etag: bool = False, tls: bool = False, h2_streams: int = 0) -> None:
        """One scenario with wrk, or with `h2_streams` over HTTP/2 with h2load (`tls` implied)."""
        log(f"scenario {name}: {title}")
        tls = tls or h2_streams > 0
        ports = self.sides(tls)

        def load(port: int, hdrs: dict) -> dict:
            if h2_streams:
                return h2load(url(port), hdrs, CFG["duration_s"], connections or CFG["connections"], h2_streams)
            return wrk(url(port), hdrs, CFG["duration_s"], connections or CFG["connections"], script, args)

        def url(port: int) -> str:
            # Over TLS wrk connects to the site's name (it resolves to the
            # loopback address), so that the handshake names the site.
            return f"https://{host}:{port}{path}" if tls else f"http://127.0.0.1:{port}{path}"

        per_side_headers = {}
        for side in sides:
            hdrs = dict(headers)
            port = ports[side][1]
            if etag:
                st, h, _ = fetch(port, path, host, headers, tls=tls)
                if "etag" not in h:
                    raise RuntimeError(f"{name} on {side}: no ETag to revalidate")
                hdrs["If-None-Match"] = h["etag"]
            # warm the cache and check the answer before measuring
            fetch(port, path, host, hdrs, tls=tls)
            self.check(name, side, port, path, host, hdrs, want_status, want, tls=tls)
            per_side_headers[side] = hdrs
        if script == "wrk_sites.lua" and args:
            self.warm_sites(sides, path, int(args[0]), want_status)
        runs: dict[str, list] = {s: [] for s in sides}
        for r in range(CFG["rounds"]):
            order = sides[r % len(sides):] + sides[:r % len(sides)]
            for side in order:
                port = ports[side][1]
                h = dict(per_side_headers[side], Host=host)
                server = self.slipway if side == "slipway" else self.nginx
                before = cpu_seconds(server.pid) if server else None
                res = load(port, h)
                if before and res["requests"]:
                    after = cpu_seconds(server.pid)
                    res["user_us"] = (after[0] - before[0]) * 1e6 / res["requests"]
                    res["sys_us"] = (after[1] - before[1]) * 1e6 / res["requests"]
                runs[side].append(res)
                cpu = f"  cpu/req user {res['user_us']:.2f} µs sys {res['sys_us']:.2f} µs" if "user_us" in res else ""
                latency = (f"mean {res['p50_us'] / 1000:.3f} ms" if res["p99_us"] is None else
                           f"p50 {res['p50_us'] / 1000:.3f} ms  p99 {res['p99_us'] / 1000:.3f} ms")
                log(f"  round {r + 1} {side:18s} {res['rps']:10.0f} req/s  {latency}  errors {res['errors']}{cpu}")
        # A profile slows the server it samples: taken in an extra run that no median counts.
        for side in sides:
            server = self.slipway if side == "slipway" else self.nginx
            if side == "nginx-proxy_cache" or server is None:
                continue
            recorder = profile(server.pid, CFG["duration_s"], f"{name}-{side}")
            if recorder is None:
                break
            load(ports[side][1], dict(per_side_headers[side], Host=host))
            profile_report(recorder, f"{name}-{side}")
        self.results["scenarios"].append({
            "name": name, "title": title, "path": path, "host": host, "headers": headers,
            "connections": connections or CFG["connections"],
            "sides": {s: {"median": median_of(runs[s]), "runs": runs[s]} for s in sides}})

    def warm_sites(self, sides: list[str], path: str, count: int, want_status: int) -> None:
        """Asks every side for every site once (fills the caches, checks the routing)."""
        for side in sides:
            port = self.sides()[side][1]
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for i in range(1, count + 1):
                c.request("GET", path, headers={"Host": f"site-{i:04d}.{self.dom}"})
                r = c.getresponse()
                r.read()
                if r.status != want_status:
                    raise RuntimeError(f"many-sites on {side}: site-{i:04d} answered {r.status}")
            c.close()

    def run_cold(self, slipway_port: int) -> None:
        name, title = "cold-miss", "2 KB page, cache off: Slipway fetching from the gateway vs fetching it directly"
        log(f"scenario {name}: {title}")
        host = f"fixture.{self.dom}"
        url = self.presigned("fixture", "index.html")
        st, h, body = fetch(slipway_port, "/", host)
        if st != 200 or len(body) != self.fixture["html_bytes"]:
            raise RuntimeError(f"cold miss: Slipway answered {st} with {len(body)} bytes")
        if h.get("x-cache", "").upper() == "HIT":
            raise RuntimeError("cold miss: Slipway still answers from its cache with the cache off")
        runs = {"slipway (cache off)": [], "gateway direct": []}
        for r in range(CFG["rounds"]):
            for side in (list(runs) if r % 2 == 0 else list(reversed(list(runs)))):
                if side == "gateway direct":
                    # A new connection per request: over keep-alive, wrk and
                    # radosgw fall into a ~40 ms delayed-ACK stall per response
                    # (measured here) that no real client of the gateway sees.
                    res = wrk(url, {"Connection": "close"}, CFG["duration_s"], 1)
                else:
                    res = wrk(f"http://127.0.0.1:{slipway_port}/", {"Host": host}, CFG["duration_s"], 1)
                runs[side].append(res)
                log(f"  round {r + 1} {side:20s} {res['rps']:8.0f} req/s  p50 {res['p50_us'] / 1000:.3f} ms"
                    f"  p99 {res['p99_us'] / 1000:.3f} ms  errors {res['errors']}")
        self.results["scenarios"].append({
            "name": name, "title": title, "path": "/", "host": host, "headers": {}, "connections": 1,
            "sides": {s: {"median": median_of(runs[s]), "runs": runs[s]} for s in runs}})

    def curl_download(self, url: str, host: str | None, rate: str | None = None) -> dict:
        argv = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}"]
        if host:
            argv += ["-H", f"Host: {host}"]
        if rate:
            argv += ["--limit-rate", rate]
        argv.append(url)
        out = subprocess.run(pinned(CFG["client_cpu"], argv), check=True, stdout=subprocess.PIPE,
                             text=True, timeout=3600).stdout.split()
        code, size, secs = int(out[0]), int(out[1]), float(out[2])
        return {"status": code, "bytes": size, "seconds": secs, "mib_per_s": size / secs / (1 << 20)}

    def run_disk_streaming(self) -> None:
        """stream-disk: the 1 GiB object from a Slipway on the disk store,
        sent with sendfile, against nginx static's sendfile rate."""
        log("scenario stream-disk: 1 GiB object from the disk store (sendfile) to a fast client")
        big = fixture_mod.BIG_BYTES
        proc = start_slipway(disk_slipway_env(), "disk")
        try:
            wait_port(CFG["disk_admin_port"], 30, proc)
            token = (WORK / "slipway-disk" / "admin-token").read_text().strip()
            api = publish.AdminAPI(f"http://127.0.0.1:{CFG['disk_admin_port']}", token)
            item = [d for d in publish.deployments(self.fixture, 0) if d["slug"] == "big"]
            builds = publish.publish_api(api, item, log)
            state = publish.wait_live(api, builds, timeout=600, log=log)
            if state["big"]["status"] != "success":
                raise RuntimeError(f"stream-disk: the build failed: {state['big']}")
            time.sleep(1)
            host = f"big.{self.dom}"
            sides = {"slipway (disk)": f"http://127.0.0.1:{CFG['disk_proxy_port']}/big.bin",
                     "nginx-static": f"http://127.0.0.1:{CFG['nginx_static_port']}/big.bin"}
            runs: dict[str, list] = {s: [] for s in sides}
            # A transfer takes a third of a second here: more rounds than
            # stream-fast, alternating, so that both sides share the moment.
            for r in range(max(5, CFG["stream_rounds"])):
                for side, url in sides.items():
                    res = self.curl_download(url, host)
                    if res["status"] != 200 or res["bytes"] != big:
                        raise RuntimeError(f"stream-disk on {side}: HTTP {res['status']}, {res['bytes']} bytes")
                    runs[side].append(res)
                    log(f"  round {r + 1} {side:15s} {res['mib_per_s']:8.0f} MiB/s ({res['seconds']:.2f} s)")
        finally:
            stop("slipway-disk", proc)
        self.results["streaming"]["disk"] = {
            s: {"median_mib_per_s": statistics.median(x["mib_per_s"] for x in v), "runs": v} for s, v in runs.items()}

    def run_streaming(self) -> None:
        log("scenario stream-fast: 1 GiB object to a fast client")
        big = fixture_mod.BIG_BYTES
        host = f"big.{self.dom}"
        sides = {
            "slipway": (f"http://127.0.0.1:{CFG['proxy_port']}/big.bin", host),
            "gateway direct": (self.presigned("big", "big.bin"), None),
            "nginx-static": (f"http://127.0.0.1:{CFG['nginx_static_port']}/big.bin", host),
        }
        runs: dict[str, list] = {s: [] for s in sides}
        for r in range(CFG["stream_rounds"]):
            for side, (url, h) in sides.items():
                res = self.curl_download(url, h)
                if res["status"] != 200 or res["bytes"] != big:
                    raise RuntimeError(f"stream-fast on {side}: HTTP {res['status']}, {res['bytes']} bytes")
                runs[side].append(res)
                log(f"  round {r + 1} {side:15s} {res['mib_per_s']:8.0f} MiB/s ({res['seconds']:.2f} s)")
        self.results["streaming"]["fast"] = {
            s: {"median_mib_per_s": statistics.median(x["mib_per_s"] for x in v), "runs": v}
            for s, v in runs.items()}

        self.run_disk_streaming()

        log(f"scenario stream-slow: 1 GiB object to a client reading {CFG['slow_rate']}B/s; Slipway's RSS sampled")
        pid = self.slipway.pid
        samples: list[tuple[float, int]] = []
        stop_flag = threading.Event()

        def rss_kib() -> int:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
            return 0

        def sampler():
            t0 = time.time()
            while not stop_flag.is_set():
                samples.append((time.time() - t0, rss_kib()))
                time.sleep(0.1)

        baseline = rss_kib()
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        res = self.curl_download(sides["slipway"][0], host, CFG["slow_rate"])
        stop_flag.set()
        th.join()
        peak = max(v for _, v in samples)
        self.results["streaming"]["slow"] = {
            "rate": CFG["slow_rate"], "download": res, "rss_baseline_mib": baseline / 1024,
            "rss_peak_mib": peak / 1024, "rss_growth_mib": (peak - baseline) / 1024,
            "samples": [[round(t, 2), round(v / 1024, 1)] for t, v in samples[::5]]}
        log(f"  {res['mib_per_s']:.1f} MiB/s for {res['seconds']:.1f} s; RSS {baseline / 1024:.1f} MiB -> peak "
            f"{peak / 1024:.1f} MiB (+{(peak - baseline) / 1024:.1f} MiB)")
        if res["status"] != 200 or res["bytes"] != big:
            raise RuntimeError(f"stream-slow: HTTP {res['status']}, {res['bytes']} bytes")


# ---------------------------------------------------------------- report

def goals(results: dict) -> list[dict]:
    out = []
    by = {s["name"]: s for s in results["scenarios"]}
    for name in ("html", "js-gzip", "spa", "not-modified", "many-sites", "new-connection", "https-html",
                 "https-js-gzip", "h2-html", "h2-js-gzip"):
        s = by.get(name)
        if not s:
            continue
        sw = s["sides"]["slipway"]["median"]
        if "nginx-static" in s["sides"]:
            ng = s["sides"]["nginx-static"]["median"]
            ratio = sw["rps"] / ng["rps"]
            if sw["p99_ms"] is None or ng["p99_ms"] is None:
                out.append({"goal": f"{name}: ≥ 1.0× nginx static req/s", "value": f"{ratio:.2f}×, mean "
                            f"{sw['p50_ms']:.2f} vs {ng['p50_ms']:.2f} ms", "met": ratio >= 1.0})
                continue
            out.append({"goal": f"{name}: ≥ 1.0× nginx static req/s at ≤ its p99",
                        "value": f"{ratio:.2f}×, p99 {sw['p99_ms']:.2f} vs {ng['p99_ms']:.2f} ms",
                        "met": ratio >= 1.0 and sw["p99_ms"] <= ng["p99_ms"]})
        if "nginx-proxy_cache" in s["sides"] and name != "new-connection":
            ratio = sw["rps"] / s["sides"]["nginx-proxy_cache"]["median"]["rps"]
            out.append({"goal": f"{name}: ≥ 1.25× nginx proxy_cache req/s", "value": f"{ratio:.2f}×",
                        "met": ratio >= 1.25})
    if "cold-miss" in by:
        s = by["cold-miss"]["sides"]
        added = s["slipway (cache off)"]["median"]["p50_ms"] - s["gateway direct"]["median"]["p50_ms"]
        out.append({"goal": "cold miss adds ≤ 1 ms median over the direct fetch", "value": f"{added:+.3f} ms",
                    "met": added <= 1.0})
    disk = results["streaming"].get("disk")
    if disk:
        ratio = disk["slipway (disk)"]["median_mib_per_s"] / disk["nginx-static"]["median_mib_per_s"]
        out.append({"goal": "1 GiB from the disk store ≥ 0.9× nginx static's sendfile rate",
                    "value": f"{ratio:.2f}×", "met": ratio >= 0.9})
    slow = results["streaming"].get("slow")
    if slow:
        out.append({"goal": "RSS grows ≤ 64 MiB while 1 GiB streams to a slow client",
                    "value": f"+{slow['rss_growth_mib']:.1f} MiB", "met": slow["rss_growth_mib"] <= 64})
    return out


def markdown(results: dict) -> str:
    lines = ["| scenario | Slipway req/s | p50 ms | p99 ms | comparison | req/s | p50 ms | p99 ms | ratio |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for s in results["scenarios"]:
        names = list(s["sides"])
        main = names[0]
        m = s["sides"][main]["median"]
        label = s["name"] if main == "slipway" else f"{s['name']} ({main})"
        for other in names[1:]:
            o = s["sides"][other]["median"]

            def ms(value):
                return "—" if value is None else f"{value:.3f}"
            lines.append(f"| {label} | {m['rps']:,.0f} | {ms(m['p50_ms'])} | {ms(m['p99_ms'])} | {other} | "
                         f"{o['rps']:,.0f} | {ms(o['p50_ms'])} | {ms(o['p99_ms'])} | {m['rps'] / o['rps']:.2f}× |")
    fast = results["streaming"].get("fast")
    if fast:
        sw = fast["slipway"]["median_mib_per_s"]
        for other in [k for k in fast if k != "slipway"]:
            o = fast[other]["median_mib_per_s"]
            lines.append(f"| stream-fast 1 GiB (MiB/s) | {sw:,.0f} | | | {other} | {o:,.0f} | | | {sw / o:.2f}× |")
    disk = results["streaming"].get("disk")
    if disk:
        sw = disk["slipway (disk)"]["median_mib_per_s"]
        o = disk["nginx-static"]["median_mib_per_s"]
        lines.append(f"| stream-disk 1 GiB, disk store (MiB/s) | {sw:,.0f} | | | nginx-static | {o:,.0f} | | | "
                     f"{sw / o:.2f}× |")
    text = "\n".join(lines) + "\n"
    slow = results["streaming"].get("slow")
    if slow:
        text += (f"\nSlow client ({slow['rate']}B/s, {slow['download']['seconds']:.1f} s for 1 GiB): Slipway RSS "
                 f"{slow['rss_baseline_mib']:.1f} MiB before, peak {slow['rss_peak_mib']:.1f} MiB "
                 f"(+{slow['rss_growth_mib']:.1f} MiB).\n")
    cpu_rows = []
    for s in results["scenarios"]:
        cells = []
        for side in ("slipway", "nginx-static"):
            m = s["sides"].get(side, {}).get("median", {})
            cells.append(f"{m['user_us']:.2f} | {m['sys_us']:.2f}" if "user_us" in m else " | ")
        cpu_rows.append(f"| {s['name']} | {cells[0]} | {cells[1]} |")
    if cpu_rows:
        text += ("\nCPU time per request (µs, the server process's user and system time over a run, "
                 "divided by its requests; medians):\n\n| scenario | Slipway user | Slipway system | "
                 "nginx-static user | nginx-static system |\n|---|---:|---:|---:|---:|\n" + "\n".join(cpu_rows) + "\n")
    text += "\n| goal | measured | met |\n|---|---|---|\n"
    for g in results.get("goals", []):
        text += f"| {g['goal']} | {g['value']} | {'yes' if g['met'] else 'no'} |\n"
    for n in results.get("notes", []):
        text += f"\n- {n}"
    return text + "\n"


def chart(results: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels, values, colors = [], [], []
    palette = {"nginx-static": "#4c72b0", "nginx-proxy_cache": "#dd8452", "gateway direct": "#55a868"}
    for s in results["scenarios"]:
        names = list(s["sides"])
        m = s["sides"][names[0]]["median"]["rps"]
        for other in names[1:]:
            labels.append(f"{s['name']}\nvs {other}")
            values.append(m / s["sides"][other]["median"]["rps"])
            colors.append(palette.get(other, "#8172b2"))
    fast = results["streaming"].get("fast")
    if fast:
        for other in [k for k in fast if k != "slipway"]:
            labels.append(f"stream-fast\nvs {other}")
            values.append(fast["slipway"]["median_mib_per_s"] / fast[other]["median_mib_per_s"])
            colors.append(palette.get(other, "#8172b2"))
    fig, ax = plt.subplots(figsize=(max(8, 0.75 * len(labels)), 5.5))
    ax.bar(range(len(values)), values, color=colors)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(1.5, color="grey", linewidth=0.8, linestyle="--")
    for i, v in enumerate(values):
        ax.text(i, v, f"{v:.2f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("Slipway / comparison (req/s; MiB/s for streaming)")
    ax.set_title(f"Slipway vs comparisons — {results['machine']['date']} — medians of {CFG['rounds']} rounds")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def machine() -> dict:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ver = lambda argv: subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: E731
                                      text=True).stdout.strip().splitlines()[0]
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE,
                            text=True).stdout.strip()
    return {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "host": platform.node(),
            "kernel": platform.release(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30), 1),
            "load_avg_at_start": os.getloadavg(), "slipway_commit": commit,
            "nginx": ver(["nginx", "-v"]), "wrk": ver(["wrk", "-v"]),
            "server_cpu": CFG["server_cpu"], "client_cpu": CFG["client_cpu"]}


# ---------------------------------------------------------------- main

def main() -> int:
    if not Path(SLIPWAY_BIN).exists():
        log(f"no Slipway binary at {SLIPWAY_BIN}; bench/run builds it")
        return 1
    for p in (CFG["proxy_port"], CFG["admin_port"], CFG["nginx_static_port"], CFG["nginx_proxy_port"],
              CFG["disk_proxy_port"], CFG["disk_admin_port"], CFG["tls_port"], CFG["nginx_tls_port"]):
        if not port_free(p):
            log(f"port {p} is taken; set the BENCH_*_PORT variables")
            return 1
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    log(f"configuration: {CFG}")

    log("making the fixture sites and the certificate for HTTPS")
    fx = fixture_mod.make(WORK, CFG["sites"])
    make_certificate()
    store = start_store()
    s3 = s3_client(store)
    prepare_bucket(s3, CFG["bucket"])

    env = slipway_env(store)
    proc = start_slipway(env, "main")
    items = publish.deployments(fx, CFG["sites"])
    admin = f"http://127.0.0.1:{CFG['admin_port']}"
    t0 = time.time()
    wait_port(CFG["admin_port"], 30, proc)
    api = publish.AdminAPI(admin, (WORK / "slipway" / "admin-token").read_text().strip())
    log(f"publishing {len(items)} deployments through the admin API")
    builds = publish.publish_api(api, items, log)
    method = "admin API (POST /api/deployments), local build runner"
    state = publish.wait_live(api, builds, timeout=float(os.environ.get("BENCH_BUILD_TIMEOUT", 1800)), log=log)
    failed = {k: v for k, v in state.items() if v["status"] != "success"}
    if failed:
        raise RuntimeError(f"{len(failed)} builds failed, e.g. {next(iter(failed.items()))}")
    publish_s = time.time() - t0
    log(f"published {len(items)} deployments in {publish_s:.0f} s")
    time.sleep(2)  # let the proxy's site table pick up the last activations

    mirror_for_nginx(s3, state)
    nginx = start_nginx(nginx_conf(Path(fx["www"]), state))
    bench = Bench(store, s3, state, fx, proc)
    bench.nginx = nginx
    bench.results["notes"].append(f"Fixture published through Slipway's build engine: {method}; "
                                  f"{len(items)} deployments in {publish_s:.0f} s.")
    dom = CFG["domain"]
    all3 = ["slipway", "nginx-static", "nginx-proxy_cache"]
    js = f"/assets/{fixture_mod.JS_NAME}"
    scenarios = [
        ("html", "2 KB HTML page from cache", "/index.html", f"fixture.{dom}", {}, all3, 200,
         {"length": fx["html_bytes"]}, {}),
        ("js-gzip", "150 KB hashed JS from cache, gzip accepted", js, f"fixture.{dom}",
         {"Accept-Encoding": "gzip"}, all3, 200, {"content-encoding": "gzip", "length": fx["js_gzip_bytes"]}, {}),
        ("spa", "SPA deep link (index.html fallback)", "/app/settings/profile", f"fixture.{dom}", {}, all3, 200,
         {"length": fx["html_bytes"]}, {}),
        ("not-modified", "conditional request answered 304", "/index.html", f"fixture.{dom}", {}, all3, 304,
         {}, {"etag": True}),
        ("many-sites", f"{CFG['sites']} sites, requests spread over them", "/index.html", f"site-0001.{dom}", {},
         all3, 200, {"length": fx["html_bytes"]}, {"script": "wrk_sites.lua", "args": [str(CFG["sites"]), dom]}),
        ("new-connection", "2 KB page, a new connection per request (Connection: close)", "/index.html",
         f"fixture.{dom}", {"Connection": "close"}, all3, 200, {"length": fx["html_bytes"]}, {}),
        # HTTPS, HTTP/1.1 with keep-alive: against nginx's HTTPS server on the same files and certificate.
        ("https-html", "2 KB HTML page from cache over HTTPS (HTTP/1.1)", "/index.html", f"fixture.{dom}", {},
         ["slipway", "nginx-static"], 200, {"length": fx["html_bytes"]}, {"tls": True}),
        ("https-js-gzip", "150 KB hashed JS from cache over HTTPS, gzip accepted", js, f"fixture.{dom}",
         {"Accept-Encoding": "gzip"}, ["slipway", "nginx-static"], 200, {"content-encoding": "gzip"},
         {"tls": True}),
        # HTTP/2 with h2load: the same connections, each with 10 requests in flight (h2load's mean
        # time per request stands in the p50 column; it reports no percentiles).
        ("h2-html", "2 KB HTML page from cache over HTTP/2, 10 streams per connection", "/index.html",
         f"fixture.{dom}", {}, ["slipway", "nginx-static"], 200, {"length": fx["html_bytes"]}, {"h2_streams": 10}),
        ("h2-js-gzip", "150 KB hashed JS from cache over HTTP/2, gzip accepted, 10 streams per connection", js,
         f"fixture.{dom}", {"Accept-Encoding": "gzip"}, ["slipway", "nginx-static"], 200,
         {"content-encoding": "gzip"}, {"h2_streams": 10}),
    ]
    only = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
    for name, title, path, host, headers, sides, status, want, extra in scenarios:
        if only and name not in only:
            continue
        if name == "js-gzip":
            want = dict(want)
            want.pop("length")  # nginx's gzip_static file and Slipway's variant differ by a few bytes
        bench.run_scenario(name, title, path, host, headers, sides, status, want, **extra)

    if not only or "stream" in only:
        bench.run_streaming()
    if not only or "cold-miss" in only:
        log("restarting Slipway with its cache off (1-byte budget) for the cold-miss scenario")
        stop("slipway", proc)
        stop("nginx", nginx)
        proc = start_slipway(slipway_env(store, cache_bytes="1", max_entry="1"), "nocache")
        time.sleep(1)
        bench.slipway = proc
        bench.run_cold(CFG["proxy_port"])

    results = bench.results
    results["machine"] = info
    results["config"] = CFG
    results["fixture"] = {k: v for k, v in fx.items() if k.endswith("bytes")}
    results["goals"] = goals(results)
    table = markdown(results)
    stamp = STAMP
    (RESULTS / f"results-{stamp}.json").write_text(json.dumps(results, indent=2) + "\n")
    head = (f"# Slipway bench — {info['date']}\n\nMachine: {info['cpu']}, {info['cores']} cores, "
            f"{info['memory_gib']} GiB, kernel {info['kernel']}; load average at start "
            f"{', '.join(f'{x:.2f}' for x in info['load_avg_at_start'])} (shared machine). Server on CPU "
            f"{info['server_cpu']}, wrk/curl on CPU {info['client_cpu']}; {CFG['rounds']} rounds × "
            f"{CFG['duration_s']} s per side, {CFG['connections']} connections, medians. "
            f"Slipway {info['slipway_commit']}, {info['nginx']}, {info['wrk']}.\n\n")
    (RESULTS / f"results-{stamp}.md").write_text(head + table)
    try:
        chart(results, RESULTS / f"ratios-{stamp}.png")
    except Exception as e:
        log(f"no chart: {e}")
    for suffix in ("json", "md", "png"):
        src = RESULTS / (f"results-{stamp}.{suffix}" if suffix != "png" else f"ratios-{stamp}.png")
        if src.exists():
            shutil.copyfile(src, RESULTS / (f"latest.{suffix}" if suffix != "png" else "latest-ratios.png"))
    print(head + table)
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        code = main()
    except KeyboardInterrupt:
        code = 130
    except Exception as e:
        log(f"FAILED: {e}")
        code = 1
    finally:
        cleanup()
    sys.exit(code)
