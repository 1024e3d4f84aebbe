"""The dashboard in a real browser against a real `slipway serve`: sign in,
create a deployment, follow its live log until it is live, open the site,
redeploy and roll back."""

import hashlib
import json
import urllib.request

from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ARTIFACTS

BUILD_TIMEOUT = 120


def wait(driver, seconds=15):
    return WebDriverWait(driver, seconds, poll_frequency=0.2)


def text_of(driver, selector):
    return driver.find_element(By.CSS_SELECTOR, selector).text


def fail_with_page(driver, name, message):
    driver.save_screenshot(str(ARTIFACTS / f"{name}-failure.png"))
    raise AssertionError(f"{message}\n--- page text ---\n{driver.find_element(By.TAG_NAME, 'body').text}")


def until(driver, condition, name, message, seconds=15):
    try:
        return wait(driver, seconds).until(condition)
    except TimeoutException:
        fail_with_page(driver, name, message)


def console_problems(driver):
    """Severe console entries: script errors and Content-Security-Policy
    refusals. The 4xx answers the test provokes on purpose (a wrong token, a
    reserved slug) are network entries and do not count."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and entry.get("source") != "network" and "Failed to load resource" not in entry["message"]
    ]


def api(admin, token, path):
    request = urllib.request.Request(admin + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def test_dashboard_deploys_a_site_end_to_end(slipway, site_repo, browser):
    admin, token = slipway
    driver = browser

    # Sign in: a wrong token is refused with a message, the right one is kept for the tab.
    driver.get(admin + "/")
    field = until(driver, EC.visibility_of_element_located((By.ID, "token")), "sign-in", "no sign-in form")
    assert driver.title.startswith("Sign in")
    field.send_keys("not-the-token")
    driver.find_element(By.ID, "sign-in-submit").click()
    until(driver, EC.visibility_of_element_located((By.ID, "token-error")), "sign-in", "a wrong token was not refused")
    assert "refused" in text_of(driver, "#token-error")
    driver.save_screenshot(str(ARTIFACTS / "dashboard-sign-in.png"))
    field.clear()
    field.send_keys(token)
    driver.find_element(By.ID, "sign-in-submit").click()
    until(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main"), "No deployments yet"), "list", "the empty list did not appear")
    assert token not in driver.current_url
    assert driver.execute_script("return sessionStorage.getItem('slipway.token')") == token
    assert driver.execute_script("return localStorage.length") == 0

    # The create form checks its input, then shows the API's own refusal.
    driver.find_element(By.CSS_SELECTOR, "[data-nav=new]").click()
    until(driver, EC.visibility_of_element_located((By.ID, "create-form")), "new", "no create form")
    driver.find_element(By.ID, "create-submit").click()
    until(driver, EC.visibility_of_element_located((By.ID, "f-repoUrl-error")), "new", "an empty repository was accepted")
    assert driver.find_element(By.ID, "f-repoUrl").get_attribute("aria-invalid") == "true"

    driver.find_element(By.ID, "f-repoUrl").send_keys(str(site_repo))
    driver.find_element(By.ID, "f-slug").send_keys("admin")
    driver.find_element(By.ID, "create-submit").click()
    until(
        driver, EC.text_to_be_present_in_element((By.ID, "form-error"), "reserved"), "new",
        "the API's refusal of a reserved slug was not shown",
    )
    assert "reserved" in text_of(driver, "#f-slug-error")
    driver.save_screenshot(str(ARTIFACTS / "dashboard-new.png"))

    slug = driver.find_element(By.ID, "f-slug")
    slug.clear()
    slug.send_keys("hello")
    driver.find_element(By.ID, "f-branch").send_keys("main")
    driver.find_element(By.ID, "f-installCommand").send_keys("true")
    driver.find_element(By.ID, "f-buildCommand").send_keys("echo building the test site")
    driver.find_element(By.ID, "f-outputDir").send_keys("public")
    driver.find_element(By.CSS_SELECTOR, "#create-form .add-env").click()
    driver.find_element(By.CSS_SELECTOR, ".env-row .env-name").send_keys("API_KEY")
    driver.find_element(By.CSS_SELECTOR, ".env-row .env-value").send_keys("s3cr3t-value")
    driver.find_element(By.CSS_SELECTOR, ".env-row .env-secret").click()
    assert driver.find_element(By.CSS_SELECTOR, ".env-row .env-value").get_attribute("type") == "password"
    driver.find_element(By.ID, "create-submit").click()

    # The deployment page follows the first build's log live until the site is live.
    until(driver, EC.url_contains("#/d/hello/b/"), "deployment", "the new deployment's page did not open")
    until(
        driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#log .line"), "deployment",
        "no log line arrived on the live stream", seconds=BUILD_TIMEOUT,
    )
    until(
        driver, EC.presence_of_element_located((By.CSS_SELECTOR, ".page-head .badge[data-status=live]")), "deployment",
        "the deployment did not become live", seconds=BUILD_TIMEOUT,
    )
    until(driver, EC.text_to_be_present_in_element((By.ID, "log"), "Build succeeded."), "deployment", "the final status event was not shown")
    log_text = text_of(driver, "#log")
    assert "echo building the test site" in log_text or "building the test site" in log_text, log_text
    assert "s3cr3t-value" not in driver.find_element(By.TAG_NAME, "body").text
    assert driver.find_element(By.CSS_SELECTOR, "#builds .badge[data-status=success]")
    assert "API_KEY (secret)" in text_of(driver, ".facts")
    site_url = driver.find_element(By.CSS_SELECTOR, ".page-head a.site-link").get_attribute("href")
    assert site_url.startswith("http://hello.localhost:")
    driver.save_screenshot(str(ARTIFACTS / "dashboard-deployment.png"))

    # The live site serves the repository's page.
    deployment_url = driver.current_url
    driver.get(site_url)
    until(driver, EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Hello from the Slipway browser test"), "site", "the live site did not serve the page")
    driver.get(deployment_url)
    until(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#builds .badge[data-status=success]")), "deployment", "the page did not load again")

    # Redeploy queues build #2; once it succeeds, roll back to #1.
    driver.find_element(By.ID, "redeploy").click()
    until(driver, EC.text_to_be_present_in_element((By.ID, "log-title"), "Build #2"), "redeploy", "the redeploy's log did not open", seconds=30)
    until(
        driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#builds .badge[data-status=success]")) == 2, "redeploy",
        "build #2 did not succeed", seconds=BUILD_TIMEOUT,
    )
    rollback = until(
        driver, EC.element_to_be_clickable((By.XPATH, "//tr[.//text()[contains(., '#1')]]//button[normalize-space()='Roll back to this build']")),
        "rollback", "build #1 offers no roll back once #2 is live", seconds=30,
    )
    rollback.click()
    until(driver, EC.text_to_be_present_in_element((By.ID, "toasts"), "live again"), "rollback", "the roll back was not confirmed")
    deployment = api(admin, token, "/api/deployments/hello")
    builds = api(admin, token, "/api/deployments/hello/builds")["builds"]
    first = next(b for b in builds if b["number"] == 1)
    assert deployment["activeBuildId"] == first["id"]
    until(
        driver, lambda d: "Live" in d.find_element(By.XPATH, "//tr[.//text()[contains(., '#1')]]").text, "rollback",
        "build #1 is not marked live after the roll back",
    )

    # The deployments list shows it live with a link to the site.
    driver.find_element(By.CSS_SELECTOR, "[data-nav=list]").click()
    until(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "tr[data-slug=hello] .badge[data-status=live]")), "list", "the list does not show the deployment live")
    assert driver.find_element(By.CSS_SELECTOR, "tr[data-slug=hello] a.site-link").get_attribute("href") == site_url
    driver.save_screenshot(str(ARTIFACTS / "dashboard-list.png"))

    # Deleting asks first; cancelling keeps the deployment, confirming removes it.
    driver.find_element(By.CSS_SELECTOR, "tr[data-slug=hello] a.primary-text").click()
    delete = until(driver, EC.element_to_be_clickable((By.ID, "delete-deployment")), "delete", "no delete button")
    delete.click()
    until(driver, EC.visibility_of_element_located((By.ID, "confirm-dialog")), "delete", "deleting did not ask first")
    assert "hello" in text_of(driver, "#confirm-title")
    driver.find_element(By.ID, "confirm-cancel").click()
    until(driver, EC.invisibility_of_element_located((By.ID, "confirm-dialog")), "delete", "the dialog did not close")
    assert api(admin, token, "/api/deployments/hello")["slug"] == "hello"
    driver.find_element(By.ID, "delete-deployment").click()
    until(driver, EC.element_to_be_clickable((By.ID, "confirm-ok")), "delete", "the dialog did not open again").click()
    until(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "main"), "No deployments yet"), "delete", "the deployment was not deleted")
    assert api(admin, token, "/api/deployments")["deployments"] == []

    problems = console_problems(driver)
    assert not problems, "the browser console reported errors:\n" + "\n".join(problems)


def api_send(admin, token, method, path, body):
    request = urllib.request.Request(
        admin + path, method=method, data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def sign_in(driver, admin, token):
    driver.get(admin + "/")
    until(driver, lambda d: d.find_elements(By.ID, "token") or d.find_elements(By.ID, "topnav"), "sign-in", "the dashboard did not load")
    if driver.find_elements(By.ID, "token"):
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.ID, "sign-in-submit").click()
        until(driver, EC.visibility_of_element_located((By.ID, "topnav")), "sign-in", "signing in failed")


def replace_text(element, text):
    element.clear()
    element.send_keys(text)


def env_row(driver, name):
    for row in driver.find_elements(By.CSS_SELECTOR, "#settings-form .env-row"):
        if row.find_element(By.CSS_SELECTOR, ".env-name").get_attribute("value") == name:
            return row
    fail_with_page(driver, "settings", f"no build variable named {name}")


def test_dashboard_edits_a_deployments_settings(slipway, site_repo, browser):
    admin, token = slipway
    driver = browser
    api_send(admin, token, "POST", "/api/deployments", {
        "slug": "settings-site", "repoUrl": str(site_repo), "branch": "main", "installCommand": "true",
        "buildCommand": "echo first build", "outputDir": "public",
        "env": [{"name": "GREETING", "value": "hello", "secret": False}, {"name": "API_TOKEN", "value": "t0p-secret", "secret": True}],
    })
    sign_in(driver, admin, token)
    driver.get(admin + "/#/d/settings-site")

    # The form holds the stored settings; a secret shows as stored, never its value.
    build_command = until(driver, EC.visibility_of_element_located((By.ID, "s-buildCommand")), "settings", "no settings form")
    until(driver, lambda d: build_command.get_attribute("value") == "echo first build", "settings", "the form was not filled")
    assert driver.find_element(By.ID, "s-outputDir").get_attribute("value") == "public"
    secret_row = env_row(driver, "API_TOKEN")
    assert "•••• stored" in secret_row.text
    assert not secret_row.find_element(By.CSS_SELECTOR, ".env-value").is_displayed()
    assert "t0p-secret" not in driver.page_source
    assert env_row(driver, "GREETING").find_element(By.CSS_SELECTOR, ".env-value").get_attribute("value") == "hello"

    # Change the build command and a variable, add one, save.
    replace_text(build_command, "echo second build")
    # Port 9 (discard) on loopback: deliveries are attempted and refused, nothing leaves the machine.
    replace_text(driver.find_element(By.ID, "s-notifyUrl"), "http://127.0.0.1:9/slipway-hook")
    replace_text(env_row(driver, "GREETING").find_element(By.CSS_SELECTOR, ".env-value"), "bonjour")
    driver.find_element(By.CSS_SELECTOR, "#settings-form .add-env").click()
    new_row = driver.find_elements(By.CSS_SELECTOR, "#settings-form .env-row")[-1]
    assert driver.switch_to.active_element == new_row.find_element(By.CSS_SELECTOR, ".env-name")
    new_row.find_element(By.CSS_SELECTOR, ".env-name").send_keys("EXTRA")
    new_row.find_element(By.CSS_SELECTOR, ".env-value").send_keys("42")
    driver.execute_script("""
        window.sawSavingDisabled = false;
        const form = document.getElementById('settings-form');
        new MutationObserver(() => {
          if (document.getElementById('settings-save-rebuild').disabled) window.sawSavingDisabled = true;
        }).observe(form, { attributes: true, subtree: true });
    """)
    driver.find_element(By.ID, "settings-save").click()
    until(driver, EC.text_to_be_present_in_element((By.ID, "settings-notice"), "Settings saved"), "settings", "saving was not confirmed")
    assert driver.execute_script("return window.sawSavingDisabled") is True
    assert driver.find_element(By.ID, "settings-save").is_enabled()
    deployment = api(admin, token, "/api/deployments/settings-site")
    assert deployment["buildCommand"] == "echo second build"
    assert deployment["notifyUrl"] == "http://127.0.0.1:9/slipway-hook"
    env = {v["name"]: v for v in deployment["env"]}
    assert env["GREETING"]["value"] == "bonjour" and env["EXTRA"]["value"] == "42"
    assert env["API_TOKEN"]["secret"] is True and "value" not in env["API_TOKEN"]
    assert len(api(admin, token, "/api/deployments/settings-site/builds")["builds"]) == 1, "Save queued a build"
    driver.save_screenshot(str(ARTIFACTS / "dashboard-settings.png"))

    # After a reload the form shows what was saved.
    driver.refresh()
    build_command = until(driver, EC.visibility_of_element_located((By.ID, "s-buildCommand")), "settings", "no settings form after reload")
    until(driver, lambda d: build_command.get_attribute("value") == "echo second build", "settings", "the change did not persist")
    assert env_row(driver, "GREETING").find_element(By.CSS_SELECTOR, ".env-value").get_attribute("value") == "bonjour"

    # The API's refusal shows by the field it names.
    output = driver.find_element(By.ID, "s-outputDir")
    replace_text(output, "../outside")
    driver.find_element(By.ID, "settings-save").click()
    until(driver, EC.visibility_of_element_located((By.ID, "s-outputDir-error")), "settings", "the API's refusal was not shown by the field")
    assert "inside the repository" in text_of(driver, "#s-outputDir-error")
    assert output.get_attribute("aria-invalid") == "true"
    assert "not saved" in text_of(driver, "#settings-error")
    assert driver.switch_to.active_element == output
    assert api(admin, token, "/api/deployments/settings-site")["outputDir"] == "public"
    driver.save_screenshot(str(ARTIFACTS / "dashboard-settings-error.png"))
    replace_text(output, "public")

    # Replace offers a new value; "keep" goes back to the stored one.
    secret_row = env_row(driver, "API_TOKEN")
    secret_row.find_element(By.CSS_SELECTOR, ".env-replace").click()
    secret_value = secret_row.find_element(By.CSS_SELECTOR, ".env-value")
    assert secret_value.is_displayed() and secret_value.get_attribute("type") == "password"
    assert driver.switch_to.active_element == secret_value
    secret_row.find_element(By.CSS_SELECTOR, ".env-keep").click()
    assert "•••• stored" in secret_row.text

    # Save and rebuild: the kept secret and the new variable reach build #2, which shows in the builds list.
    # (The command compares a digest, so the secret itself never appears on the page.)
    digest = hashlib.sha256(b"t0p-secret").hexdigest()[:16]
    replace_text(
        driver.find_element(By.ID, "s-buildCommand"),
        f'test "$(printf %s "$API_TOKEN" | sha256sum | cut -c1-16)" = {digest} && echo "secret kept, greeting $GREETING"',
    )
    driver.find_element(By.ID, "settings-save-rebuild").click()
    until(driver, EC.text_to_be_present_in_element((By.ID, "settings-notice"), "Build #2 is queued"), "settings", "Save and rebuild queued no build", seconds=30)
    assert not driver.find_element(By.ID, "s-outputDir-error").is_displayed()
    until(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#builds tr[data-build]")) == 2, "settings", "build #2 is not in the builds list")
    until(driver, EC.text_to_be_present_in_element((By.ID, "log-title"), "Build #2"), "settings", "build #2's log did not open")
    until(
        driver, EC.text_to_be_present_in_element((By.ID, "log"), "secret kept, greeting bonjour"), "settings",
        "build #2 did not see the kept secret and the new value", seconds=BUILD_TIMEOUT,
    )
    until(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#builds .badge[data-status=success]")) >= 1, "settings", "build #2 did not succeed", seconds=BUILD_TIMEOUT)
    assert "t0p-secret" not in driver.page_source

    problems = console_problems(driver)
    assert not problems, "the browser console reported errors:\n" + "\n".join(problems)
