"""The Domains section of a deployment's page in a real browser against a real
`slipway serve`: add an apex and its www, see them pending with the records
to create, be refused a name another deployment holds, check now, see a
change made through the API, and remove the pair after confirming."""

import calendar
import json
import time
import urllib.error
import urllib.request

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from conftest import ARTIFACTS
from test_dashboard import console_problems, sign_in, text_of, until

APEX = "browser-test.example"
WWW = "www." + APEX


def call(admin, token, method, path, body=None):
    """The API's JSON answer (None for 204); a refusal raises HTTPError."""
    request = urllib.request.Request(
        admin + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return None if response.status == 204 else json.load(response)


def refusal(admin, token, method, path, body):
    """The status and error message of a request the API refuses."""
    try:
        call(admin, token, method, path, body)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)["error"]["message"]
    raise AssertionError(f"{method} {path} was accepted")


def press(driver, element):
    """Clicks `element` in the middle of the window, clear of the toasts in its corner."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def hsts_shown(driver, hostname):
    """The HSTS fact of a domain's card; None while the list is being redrawn."""
    try:
        return card(driver, hostname).find_element(By.CSS_SELECTOR, ".domain-hsts").text
    except StaleElementReferenceException:
        return None


def card(driver, hostname):
    return driver.find_element(By.CSS_SELECTOR, f'#domains-list article[data-domain="{hostname}"]')


def records_of(driver, hostname):
    """The DNS records a domain's card lists, as (type, name, value) rows."""
    rows = card(driver, hostname).find_elements(By.CSS_SELECTOR, ".domain-records tbody tr")
    return [tuple(cell.find_element(By.TAG_NAME, "code").text for cell in row.find_elements(By.TAG_NAME, "td")[:3]) for row in rows]


def create_deployment(admin, token, site_repo, slug):
    call(admin, token, "POST", "/api/deployments", {
        "slug": slug, "repoUrl": str(site_repo), "branch": "main", "installCommand": "true",
        "buildCommand": "echo domains test", "outputDir": "public",
    })


def test_dashboard_adds_checks_and_removes_a_custom_domain(slipway, site_repo, browser):
    admin, token = slipway
    driver = browser
    create_deployment(admin, token, site_repo, "domains-one")
    create_deployment(admin, token, site_repo, "domains-two")
    sign_in(driver, admin, token)
    driver.get(admin + "/#/d/domains-one")
    until(driver, EC.text_to_be_present_in_element((By.ID, "domains-list"), "No custom domains yet"), "domains", "no empty domain list")

    # Nothing typed: refused before sending.
    press(driver, driver.find_element(By.ID, "domain-add"))
    until(driver, EC.visibility_of_element_located((By.ID, "domain-form-error")), "domains", "an empty host name was accepted")
    assert driver.find_element(By.ID, "domain-hostname").get_attribute("aria-invalid") == "true"

    # A name the API refuses (422): its message is shown, as text.
    hostname = driver.find_element(By.ID, "domain-hostname")
    hostname.send_keys("<b>bad</b>.example")
    press(driver, driver.find_element(By.ID, "domain-add"))
    until(
        driver, EC.text_to_be_present_in_element((By.ID, "domain-form-error"), "is not a host name"), "domains",
        "the API's refusal of a bad name was not shown",
    )
    assert "<b>bad</b>.example" in text_of(driver, "#domain-form-error")
    assert not driver.find_elements(By.CSS_SELECTOR, "#domain-form-error b")

    # An apex offers its www: add both, the www serving and the apex redirecting to it.
    hostname.clear()
    hostname.send_keys(APEX)
    until(driver, EC.visibility_of_element_located((By.ID, "domain-primary")), "domains", "no primary choice for an apex")
    assert driver.find_element(By.ID, "domain-pair").is_selected()
    Select(driver.find_element(By.ID, "domain-primary")).select_by_value(WWW)
    Select(driver.find_element(By.ID, "domain-hsts")).select_by_visible_text("1 day")
    press(driver, driver.find_element(By.ID, "domain-add"))
    until(
        driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#domains-list article[data-domain]")) == 2, "domains",
        "the pair was not listed",
    )
    assert not driver.find_element(By.ID, "domain-form-error").is_displayed()
    assert driver.find_element(By.ID, "domain-hostname").get_attribute("value") == ""

    listed = {d["hostname"]: d for d in call(admin, token, "GET", "/api/deployments/domains-one/domains")["domains"]}
    assert set(listed) == {APEX, WWW}
    assert listed[APEX]["redirectTo"] == WWW and listed[WWW]["redirectTo"] is None
    assert listed[APEX]["hstsMaxAge"] == 86400
    for name in (APEX, WWW):
        shown = card(driver, name)
        assert shown.find_element(By.CSS_SELECTOR, "[data-domain-status]").get_attribute("data-domain-status") == "pending"
        assert shown.find_element(By.CSS_SELECTOR, "[data-certificate-status]").get_attribute("data-certificate-status") == "none"
        assert "DNS pending" in shown.text and "No certificate" in shown.text
        # The records to create, exactly as the API lists them: ownership TXT, then routing.
        expected = [(r["type"], r["name"], r["value"]) for r in listed[name]["dnsRecords"]]
        assert records_of(driver, name) == expected
    assert ("TXT", f"_slipway-challenge.{APEX}") == records_of(driver, APEX)[0][:2]
    assert records_of(driver, APEX)[0][2].startswith("slipway-verify=")
    assert ("A", APEX, "192.0.2.10") in records_of(driver, APEX)
    assert ("CNAME", WWW, "edge.slipway.test") in records_of(driver, WWW)
    assert WWW in card(driver, APEX).find_element(By.CSS_SELECTOR, ".domain-redirect").text
    assert hsts_shown(driver, WWW) == "max-age 1 day"
    driver.save_screenshot(str(ARTIFACTS / "dashboard-domains.png"))

    # The same name on another deployment: the API's 409 message is shown.
    driver.get(admin + "/#/d/domains-two")
    until(driver, EC.text_to_be_present_in_element((By.ID, "domains-list"), "No custom domains yet"), "domains", "no empty domain list")
    driver.find_element(By.ID, "domain-hostname").send_keys(WWW)
    press(driver, driver.find_element(By.ID, "domain-add"))
    status, message = refusal(admin, token, "POST", "/api/deployments/domains-two/domains", {"hostname": WWW})
    assert status == 409
    until(
        driver, EC.text_to_be_present_in_element((By.ID, "domain-form-error"), message), "domains",
        "the API's 409 message was not shown",
    )
    assert "No custom domains yet" in text_of(driver, "#domains-list")

    # Check now asks for a check at once.
    driver.get(admin + "/#/d/domains-one")
    until(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f'[data-verify="{APEX}"]'), "domains", "the domains were not listed")
    before = time.time()
    press(driver, driver.find_element(By.CSS_SELECTOR, f'[data-verify="{APEX}"]'))
    until(driver, EC.text_to_be_present_in_element((By.ID, "toasts"), f"Checking the DNS records of {APEX}"), "domains", "no check started")
    # The server's checker runs it at once; its resolver here is a loopback
    # port nothing answers, so the check records a DNS problem after the press.
    def checked_since(_):
        problem = call(admin, token, "GET", f"/api/deployments/domains-one/domains/{APEX}")["lastError"]
        if not problem:
            return False
        at = calendar.timegm(time.strptime(problem["at"][:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + problem["at"][19:-1])
        return problem["code"] == "dns_error" and at >= before - 1
    until(driver, checked_since, "domains", "Check now did not lead to a check")
    until(
        driver, EC.text_to_be_present_in_element((By.ID, "domains-list"), "could not read the TXT record"), "domains",
        "the check's problem was not shown",
    )

    # A change made elsewhere reaches the page while the domains are pending.
    call(admin, token, "PATCH", f"/api/deployments/domains-one/domains/{WWW}", {"hstsMaxAge": None})
    until(
        driver, lambda d: hsts_shown(d, WWW) == "Off", "domains",
        "the page did not pick up the HSTS change",
    )

    # Removing asks first, naming both halves of the pair; cancelling keeps them.
    press(driver, driver.find_element(By.CSS_SELECTOR, f'[data-remove="{APEX}"]'))
    until(driver, EC.visibility_of_element_located((By.ID, "confirm-cancel")), "domains", "no confirmation")
    question = text_of(driver, "#confirm-text")
    assert APEX in question and WWW in question and "together" in question
    press(driver, driver.find_element(By.ID, "confirm-cancel"))
    assert len(call(admin, token, "GET", "/api/deployments/domains-one/domains")["domains"]) == 2
    press(driver, driver.find_element(By.CSS_SELECTOR, f'[data-remove="{APEX}"]'))
    until(driver, EC.visibility_of_element_located((By.ID, "confirm-ok")), "domains", "no confirmation")
    assert text_of(driver, "#confirm-ok") == "Remove both"
    press(driver, driver.find_element(By.ID, "confirm-ok"))
    until(driver, EC.text_to_be_present_in_element((By.ID, "domains-list"), "No custom domains yet"), "domains", "the pair is still listed")
    assert call(admin, token, "GET", "/api/deployments/domains-one/domains")["domains"] == []

    problems = console_problems(driver)
    assert not problems, "the browser console reported errors:\n" + "\n".join(problems)
    for slug in ("domains-one", "domains-two"):
        call(admin, token, "DELETE", f"/api/deployments/{slug}")


def test_domain_card_shows_certificate_expiry_warning_and_last_problem(slipway, browser):
    """The states a real certificate brings (the ACME tests reach them; this
    server cannot), drawn by the dashboard's own code from an API-shaped
    domain: the expiry, the warning, the last problem in words, and no DNS
    records once the domain is active."""
    admin, token = slipway
    driver = browser
    sign_in(driver, admin, token)
    day = 86400
    now = time.time()
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
    domain = {
        "hostname": "shop.example", "deployment": "site", "apex": False, "pairedWith": None, "redirectTo": None,
        "status": "active", "certificateStatus": "renewing",
        "lastError": {"code": "acme_rate_limited", "detail": "the CA refused: <script>alert(1)</script> try later", "at": iso(now - 3600)},
        "verifiedAt": iso(now - 80 * day), "nextCheckAt": None,
        "certificate": {"notBefore": iso(now - 80 * day), "notAfter": iso(now + 10 * day + 3600), "renewAt": iso(now - 20 * day), "source": "acme", "sha256": "ab" * 32},
        "httpsRedirect": True, "hstsMaxAge": 31536000,
        "dnsRecords": [{"type": "CNAME", "name": "shop.example", "value": "edge.slipway.test", "purpose": "routes the name to Slipway"}],
        "warning": "the certificate expires in 10 day(s) and its renewal keeps failing: try later",
        "url": "https://shop.example", "createdAt": iso(now - 81 * day), "updatedAt": iso(now - 3600),
    }
    driver.execute_async_script(
        """
        const [domain, done] = arguments;
        import("/dashboard/views/domains.js").then(({ domainCard }) => {
          const main = document.getElementById("main");
          main.replaceChildren(domainCard(domain, { verify() {}, remove() {} }));
          done();
        });
        """,
        domain,
    )
    shown = card_in_main(driver)
    assert shown.find_element(By.CSS_SELECTOR, "[data-domain-status]").text == "Active"
    assert shown.find_element(By.CSS_SELECTOR, "[data-certificate-status]").text == "Certificate renewing"
    assert "Warning: the certificate expires in 10 day(s)" in shown.find_element(By.CSS_SELECTOR, ".domain-warning").text
    assert shown.find_element(By.CSS_SELECTOR, ".domain-expiry").text == "Expires in 10 days"
    assert "max-age 1 year" in shown.find_element(By.CSS_SELECTOR, ".domain-hsts").text
    problem = shown.find_element(By.CSS_SELECTOR, ".domain-problem").text
    assert "1 hour ago" in problem and "<script>alert(1)</script> try later" in problem
    assert not driver.find_elements(By.CSS_SELECTOR, "#main script")
    assert not shown.find_elements(By.CSS_SELECTOR, ".domain-records")
    link = shown.find_element(By.CSS_SELECTOR, "h3 a")
    assert link.get_attribute("href") == "https://shop.example/" and link.get_attribute("rel") == "noopener noreferrer"
    driver.save_screenshot(str(ARTIFACTS / "dashboard-domain-warning.png"))


def card_in_main(driver):
    return until(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#main article[data-domain]")), "domain-card", "the card was not drawn")
