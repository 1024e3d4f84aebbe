"""Publishing the fixture sites through Slipway's own build engine.

With the admin API (`POST /api/deployments`), each site is a deployment of a
local git repository built by the local runner. A Slipway without the admin
API yet gets the same deployments as queued builds written into its catalog
before it starts; its build workers then claim, build, publish and activate
them exactly as they would API-created ones."""

from __future__ import annotations

import json
import os
import sqlite3
import time
import urllib.error
import urllib.request

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _opaque_id(now_ms: int) -> str:
    t, chars = now_ms, []
    for _ in range(10):
        chars.append(_ALPHABET[t % 32])
        t //= 32
    rnd = os.urandom(16)
    return "".join(reversed(chars)) + "".join(_ALPHABET[b % 32] for b in rnd)


class AdminAPI:
    def __init__(self, base: str, token: str):
        self.base, self.token = base.rstrip("/"), token

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else {})
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, {"raw": raw.decode(errors="replace")}

    @staticmethod
    def available(base: str) -> bool:
        try:
            with urllib.request.urlopen(base.rstrip("/") + "/healthz", timeout=2) as r:
                return r.status == 200
        except Exception:
            return False


def deployments(fixture: dict, sites: int) -> list[dict]:
    """What to publish: the main fixture, the 1 GiB object, and `sites` copies."""
    common = {"branch": "main", "installCommand": "true", "outputDir": "public", "spa": "auto"}
    out = [dict(common, slug="fixture", repoUrl=fixture["repo"], buildCommand="true"),
           dict(common, slug="big", repoUrl=fixture["big_repo"], buildCommand=fixture["big_build_command"])]
    for i in range(1, sites + 1):
        out.append(dict(common, slug=f"site-{i:04d}", repoUrl=fixture["repo"], buildCommand="true"))
    return out


def publish_api(api: AdminAPI, items: list[dict], log) -> dict[str, str]:
    """Creates the deployments; returns slug -> build id."""
    builds = {}
    for n, item in enumerate(items, 1):
        while True:
            status, body = api.call("POST", "/api/deployments", item)
            if status == 429:  # queue full: let the workers catch up
                time.sleep(1)
                continue
            break
        if status != 201:
            raise RuntimeError(f"creating deployment {item['slug']} failed: HTTP {status} {body}")
        builds[item["slug"]] = body["build"]["id"]
        if n % 100 == 0:
            log(f"  {n}/{len(items)} deployments created")
    return builds


def seed_catalog(db_path: str, items: list[dict]) -> dict[str, str]:
    """Writes the deployments and their first queued build into a stopped
    Slipway's catalog (schema created by Slipway itself at its first start)."""
    con = sqlite3.connect(db_path, timeout=30)
    builds = {}
    now = int(time.time() * 1000)
    with con:
        for item in items:
            site_id, build_id = _opaque_id(now), _opaque_id(now)
            con.execute(
                "INSERT INTO site (id, slug, repo_url, branch, root_dir, install_command, build_command, output_dir,"
                " spa, env, active_build_id, build_counter, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, '[]', NULL, 1, ?, ?)",
                (site_id, item["slug"], item["repoUrl"], item["branch"], item["installCommand"],
                 item["buildCommand"], item["outputDir"], item["spa"], now, now))
            con.execute(
                "INSERT INTO build (id, site_id, number, status, priority, trigger, attempt, queued_at, not_before)"
                " VALUES (?, ?, 1, 'queued', 0, 'bench', 1, ?, ?)",
                (build_id, site_id, now, now))
            builds[item["slug"]] = build_id
    con.close()
    return builds


def wait_builds(db_path: str, builds: dict[str, str], timeout: float, log) -> dict[str, dict]:
    """Waits until every build is final; returns slug -> {site_id, build_id, status, error}.
    Reads the catalog (read-only, WAL) so that it works with or without the API."""
    deadline = time.time() + timeout
    wanted = set(builds.values())
    last = -1
    while True:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=30)
        rows = con.execute(
            "SELECT s.slug, s.id, b.id, b.status, b.error FROM build b JOIN site s ON s.id = b.site_id").fetchall()
        con.close()
        state = {slug: {"site_id": sid, "build_id": bid, "status": st, "error": err}
                 for slug, sid, bid, st, err in rows if bid in wanted}
        done = [s for s in state.values() if s["status"] in ("success", "failed", "canceled")]
        if len(done) != last:
            log(f"  builds finished: {len(done)}/{len(wanted)}")
            last = len(done)
        if len(done) == len(wanted):
            return state
        if time.time() > deadline:
            raise RuntimeError(f"builds did not finish within {timeout:.0f}s ({len(done)}/{len(wanted)} done)")
        time.sleep(1)
