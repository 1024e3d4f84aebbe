"""Fixtures for the dashboard's browser test: a real `slipway serve`, a local
Git repository to deploy, and headless Chromium driven by Selenium."""

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CI = os.environ.get("CI", "").lower() == "true"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def missing(reason):
    """Skips the test, or fails it under CI=true, where nothing may be skipped."""
    if CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def workdir():
    path = Path(tempfile.mkdtemp(prefix="slipway-browser-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def site_repo(workdir):
    """A Git repository whose `public/index.html` is the site."""
    repo = workdir / "site"
    (repo / "public").mkdir(parents=True)
    (repo / "public" / "index.html").write_text(
        "<!doctype html><title>Browser test site</title><h1>Hello from the Slipway browser test</h1>\n"
    )
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Slipway Test",
        "GIT_AUTHOR_EMAIL": "test@slipway.invalid",
        "GIT_COMMITTER_NAME": "Slipway Test",
        "GIT_COMMITTER_EMAIL": "test@slipway.invalid",
    }
    for command in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "First version of the test site"],
    ):
        subprocess.run(command, cwd=repo, env=env, check=True)
    return repo


@pytest.fixture(scope="session")
def slipway(workdir):
    """`slipway serve` on free loopback ports; yields (admin URL, token).
    The binary is `.build/debug/slipway`, or the one SLIPWAY_BINARY names."""
    override = os.environ.get("SLIPWAY_BINARY")
    binary = Path(override) if override else REPO / ".build" / "debug" / "slipway"
    if not binary.exists():
        hint = "check SLIPWAY_BINARY" if override else "run `swift build --product slipway` first"
        pytest.fail(f"{binary} is missing; {hint}")
    token = secrets.token_hex(24)
    admin_port, proxy_port = free_port(), free_port()
    env = {
        **os.environ,
        "SLIPWAY_ADMIN_HOST": "127.0.0.1",
        "SLIPWAY_ADMIN_PORT": str(admin_port),
        "SLIPWAY_PROXY_HOST": "127.0.0.1",
        "SLIPWAY_PROXY_PORT": str(proxy_port),
        "SLIPWAY_APPS_DOMAIN": "localhost",
        "SLIPWAY_ADMIN_TOKEN": token,
        "SLIPWAY_BUILD_RUNNER": "local",
        "SLIPWAY_ALLOW_LOCAL_REPOS": "true",
        "SLIPWAY_STATIC_DIR": str(REPO / "static"),
        "SLIPWAY_STORAGE": "disk",
        # Where custom domains point: the records the Domains section lists.
        "SLIPWAY_DOMAIN_TARGET": "edge.slipway.test",
        "SLIPWAY_DOMAIN_ADDRESSES": "192.0.2.10",
        # Domain checks ask a loopback port nothing answers, never a real
        # resolver; no certificate is requested.
        "SLIPWAY_DNS_RESOLVERS": "127.0.0.1:9",
        "SLIPWAY_ACME_DIRECTORY": "off",
    }
    for name in ("SLIPWAY_CONFIG", "SLIPWAY_DATABASE_URL", "SLIPWAY_DATA_DIR"):
        env.pop(name, None)
    log_path = workdir / "slipway.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(binary), "serve", "--data-dir", str(workdir / "data")],
            cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    admin = f"http://127.0.0.1:{admin_port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            pytest.fail(f"slipway serve exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(admin + "/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"slipway serve did not answer within 60s:\n{log_path.read_text()[-4000:]}")
        time.sleep(0.25)
    yield admin, token
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("selenium is not installed (pip install selenium pytest)")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not chromium or not chromedriver:
        missing("chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()
