"""The dashboard's Tokens and Audit log pages in a real browser against a
real `slipway serve`: create a token (its value shown once), use it, revoke
it, and find both changes in the audit log."""

import urllib.error

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select

from conftest import ARTIFACTS
from test_dashboard import api, console_problems, sign_in, text_of, until


def test_dashboard_creates_revokes_and_audits_a_token(slipway, browser):
    admin, token = slipway
    driver = browser
    sign_in(driver, admin, token)

    driver.find_element(By.CSS_SELECTOR, "[data-nav=tokens]").click()
    until(driver, EC.visibility_of_element_located((By.ID, "token-form")), "tokens", "no token form")
    # Nothing given: refused before sending.
    driver.find_element(By.ID, "token-create").click()
    until(driver, EC.visibility_of_element_located((By.ID, "token-form-error")), "tokens", "an empty form was accepted")
    # A scope the API refuses: its message is shown.
    driver.find_element(By.ID, "token-name").send_keys("browser test")
    driver.find_element(By.ID, "token-scope").send_keys("owner")
    driver.find_element(By.ID, "token-create").click()
    until(
        driver, EC.text_to_be_present_in_element((By.ID, "token-form-error"), "deploy:<slug>"), "tokens",
        "the API's refusal of a bad scope was not shown",
    )
    scope = driver.find_element(By.ID, "token-scope")
    scope.clear()
    scope.send_keys("read")
    Select(driver.find_element(By.ID, "token-expiry")).select_by_visible_text("90 days")
    driver.find_element(By.ID, "token-create").click()

    value = until(driver, EC.visibility_of_element_located((By.ID, "token-value")), "tokens", "the new token was not shown")
    secret = value.get_attribute("value")
    assert secret.startswith("slw_"), secret
    assert "not shown again" in text_of(driver, "#token-created")
    row = until(
        driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#tokens-table tbody tr")), "tokens", "no token listed"
    )
    assert "browser test" in row.text and "read" in row.text and "active" in row.text
    driver.save_screenshot(str(ARTIFACTS / "dashboard-tokens.png"))
    # The value works, for reading.
    assert "deployments" in api(admin, secret, "/api/deployments")

    # Revoking asks first, then the token is refused at once.
    row.find_element(By.CSS_SELECTOR, "[data-revoke]").click()
    until(driver, EC.visibility_of_element_located((By.ID, "confirm-ok")), "tokens", "no confirmation")
    driver.find_element(By.ID, "confirm-ok").click()
    until(
        driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#tokens-table tbody"), "revoked"), "tokens",
        "the token was not shown revoked",
    )
    try:
        api(admin, secret, "/api/deployments")
        raise AssertionError("a revoked token was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 401

    # Seen again, the page never shows the value.
    driver.find_element(By.CSS_SELECTOR, "[data-nav=list]").click()
    driver.find_element(By.CSS_SELECTOR, "[data-nav=tokens]").click()
    until(driver, EC.presence_of_element_located((By.CSS_SELECTOR, "#tokens-table tbody tr")), "tokens", "no token listed")
    assert secret not in driver.page_source

    # The audit log shows both changes, made with the bootstrap token from this machine.
    driver.find_element(By.CSS_SELECTOR, "[data-nav=audit]").click()
    until(
        driver, EC.text_to_be_present_in_element((By.ID, "audit-table"), "token.revoke"), "audit",
        "the revocation is not in the audit log",
    )
    table = text_of(driver, "#audit-table")
    assert "token.create" in table and "bootstrap" in table and "127.0.0.1" in table
    Select(driver.find_element(By.ID, "audit-action")).select_by_value("token.revoke")
    until(
        driver, lambda d: "token.create" not in text_of(d, "#audit-table") and "token.revoke" in text_of(d, "#audit-table"),
        "audit", "the action filter did not apply",
    )
    driver.save_screenshot(str(ARTIFACTS / "dashboard-audit.png"))
    assert secret not in driver.page_source
    assert console_problems(driver) == []
