"""The fixture sites Slipway's bench publishes: small git repositories that the
build engine clones with the local runner (no install, no build: the files are
already in `public/`), plus the same files on local disk for nginx."""

from __future__ import annotations

import gzip
import os
import random
import shutil
import subprocess
from pathlib import Path

HTML_BYTES = 2048
JS_BYTES = 150 * 1024
JS_NAME = "app.3f9a1c2be07d.js"  # content-hashed name: served as immutable
BIG_BYTES = int(os.environ.get("BENCH_BIG_BYTES", 1 << 30))  # smaller only for smoke tests


def _html() -> bytes:
    head = (
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        "<title>Slipway bench fixture</title>\n"
        f"<script type=\"module\" src=\"/assets/{JS_NAME}\"></script>\n</head>\n<body>\n"
        "<main id=\"app\">\n"
    )
    tail = "</main>\n</body>\n</html>\n"
    rng = random.Random(2)
    words = "static site hosting edge proxy cache bucket build deploy preview rollback".split()
    body = ""
    while len((head + body + tail).encode()) < HTML_BYTES - 80:
        body += "<p>" + " ".join(rng.choice(words) for _ in range(8)) + "</p>\n"
    text = head + body
    text += "<!-- " + "x" * max(0, HTML_BYTES - len((text + tail).encode()) - 9) + " -->\n" + tail
    data = text.encode()
    return data[:HTML_BYTES] if len(data) > HTML_BYTES else data


def _js() -> bytes:
    """150 KiB of plausible minified-ish JavaScript (compresses like real bundles, ~3-4x)."""
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    out = []
    size = 0
    i = 0
    while size < JS_BYTES:
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 6)))
        arg = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3)))
        n = rng.randint(0, 99999)
        line = (
            f"function {name}{i}({arg},e){{if(!{arg})return {n};"
            f"var t={arg}.length|0,r=[];for(var o=0;o<t;o++)r.push(e({arg}[o],o,{n}));"
            f"return r.join(\"{name}\")}}\n"
        )
        out.append(line)
        size += len(line)
        i += 1
    data = "".join(out).encode()[:JS_BYTES]
    return data


# What real sites carry: a dozen header rules and a dozen redirect rules, so
# rule matching is on the measured path. Two header blocks match every page
# (`/*`) and one every asset; nginx's configuration adds the same fields
# (bench.py), so both servers send the same answer.
HEADERS_RULES = """# Security headers for every page
/*
  X-Frame-Options: DENY
  Referrer-Policy: strict-origin-when-cross-origin
/*
  Permissions-Policy: camera=(), microphone=(), geolocation=()
/assets/*
  Cache-Control: public, max-age=31536000, immutable
/fonts/*
  Cache-Control: public, max-age=31536000, immutable
  Access-Control-Allow-Origin: *
/images/*
  Cache-Control: public, max-age=86400
/api-docs/*
  X-Robots-Tag: noindex
/embed/*
  ! X-Frame-Options
/blog/:year/:slug
  Cache-Control: public, max-age=300
/docs/*
  Cache-Control: public, max-age=600
/feed.xml
  Content-Type: application/rss+xml; charset=utf-8
/sitemap.xml
  Cache-Control: public, max-age=3600
/.well-known/*
  Access-Control-Allow-Origin: *
"""

REDIRECTS_RULES = """# Moved pages
/home              /                     301
/index.php         /                     301
/about-us          /about                301
/blog/:year/:month/:slug  /blog/:year/:slug  301
/docs/v1/*         /docs/:splat          302
/old-docs/*        /docs/:splat          301
/news/*            /blog/:splat          301
/careers           https://jobs.example.com/  302
/twitter           https://twitter.com/example  302
/feed              /feed.xml             301
/api/*             /api-docs/:splat      200
/legal/*           /terms                301
"""

# The fields HEADERS_RULES adds to every page and to every asset, for nginx.
PAGE_FIELDS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def _git_repo(path: Path) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@localhost",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@localhost")
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(path), "commit", "-q", "-m", "fixture"], check=True, env=env)


def make(workdir: Path, sites: int) -> dict:
    """Creates the fixture repositories and nginx's copies under `workdir`."""
    html, js = _html(), _js()
    repo = workdir / "repos" / "fixture"
    big_repo = workdir / "repos" / "big"
    for p in (repo, big_repo):
        if p.exists():
            shutil.rmtree(p)
    (repo / "public" / "assets").mkdir(parents=True)
    (repo / "public" / "index.html").write_bytes(html)
    (repo / "public" / "assets" / JS_NAME).write_bytes(js)
    (repo / "public" / "_headers").write_text(HEADERS_RULES)
    (repo / "public" / "_redirects").write_text(REDIRECTS_RULES)
    _git_repo(repo)
    # The 1 GiB object is made by the build command rather than committed.
    big_repo.mkdir(parents=True)
    (big_repo / "README").write_text("1 GiB of random bytes, made at build time\n")
    _git_repo(big_repo)

    # nginx's copy on local disk: the same files, the gzip variant beside the
    # JS (gzip_static), one directory per site for the many-sites scenario.
    www = workdir / "www"
    if www.exists():
        shutil.rmtree(www)
    main = www / "fixture"
    (main / "assets").mkdir(parents=True)
    (main / "index.html").write_bytes(html)
    (main / "assets" / JS_NAME).write_bytes(js)
    (main / "assets" / (JS_NAME + ".gz")).write_bytes(gzip.compress(js, 6))
    for i in range(1, sites + 1):
        d = www / "sites" / f"site-{i:04d}"
        (d / "assets").mkdir(parents=True)
        for rel in ("index.html", f"assets/{JS_NAME}"):
            os.link(main / rel, d / rel)
    big = www / "big"
    big.mkdir()
    with open(big / "big.bin", "wb") as f:
        left = BIG_BYTES
        while left > 0:
            n = min(left, 16 << 20)
            f.write(os.urandom(n))
            left -= n
    return {
        "repo": str(repo),
        "big_repo": str(big_repo),
        "www": str(www),
        "html_bytes": len(html),
        "js_bytes": len(js),
        "js_gzip_bytes": len(gzip.compress(js, 6)),
        "big_build_command": f"mkdir -p public && head -c {BIG_BYTES} /dev/urandom > public/big.bin",
    }
