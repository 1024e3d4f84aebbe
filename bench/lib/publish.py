"""Publishing the fixture sites through Slipway's own build engine.

Each site is a deployment of a local git repository, created with the admin
API (`POST /api/deployments`) and built, published and activated by the local
runner; the bench waits on the API until every one is live."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

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


def wait_live(api: AdminAPI, builds: dict[str, str], timeout: float, log) -> dict[str, dict]:
    """Waits until every deployment's first build has ended; returns
    slug -> {site_id, build_id, status, error}, status as the build's."""
    deadline = time.time() + timeout
    last = -1
    while True:
        status, body = api.call("GET", "/api/deployments")
        if status != 200:
            raise RuntimeError(f"listing deployments failed: HTTP {status} {body}")
        state = {}
        for d in body["deployments"]:
            slug = d["slug"]
            if slug not in builds:
                continue
            if d["status"] == "live" and d["activeBuildId"] == builds[slug]:
                state[slug] = {"site_id": d["id"], "build_id": builds[slug], "status": "success", "error": None}
            elif d["status"] == "failed":
                _, build = api.call("GET", f"/api/builds/{builds[slug]}")
                state[slug] = {"site_id": d["id"], "build_id": builds[slug], "status": build.get("status", "failed"),
                               "error": build.get("error")}
        if len(state) != last:
            log(f"  builds finished: {len(state)}/{len(builds)}")
            last = len(state)
        if len(state) == len(builds):
            return state
        if time.time() > deadline:
            raise RuntimeError(f"builds did not finish within {timeout:.0f}s ({len(state)}/{len(builds)} done)")
        time.sleep(1)
