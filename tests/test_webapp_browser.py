"""The web app in a real browser: `o2c serve` on a free loopback port, Playwright driving
Debian's Chromium headless (`/usr/bin/chromium`; browsers are never downloaded).

One server for the module, over a copy of the API tests' trained working folder, with a user
of each role made by `o2c users add --password-stdin`. Each page is screenshotted into a
temporary folder (and into `O2C_SCREENSHOTS` when that names a folder, e.g. docs/screenshots).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from o2c.cli import app
from serving.local import running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
USERS = {"cora": ("collector", "cora-password-1"), "max": ("credit_manager", "max-password-1"),
         "ada": ("admin", "ada-password-1")}
pytestmark = [
    pytest.mark.slow,  # models trained once per session (conftest), then one server start
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed "
                       "(make test installs it)"),
]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The served working folder (made by `site`)."""
    return tmp_path_factory.mktemp("webapp") / "work"


@pytest.fixture(scope="module")
def site(api_workdir: tuple[Path, Path], work: Path) -> Iterator[str]:
    """The service's URL, over a copy of the trained working folder with three users."""
    ledger, trained = api_workdir
    shutil.copytree(trained, work, ignore=shutil.ignore_patterns("workflow.db*",
                                                                 "webapp-secret"))
    env = {"O2C_WORKDIR": str(work), "O2C_LEDGER": str(ledger)}
    for name, (role, password) in USERS.items():
        result = CliRunner().invoke(app, ["users", "add", name, "--role", role,
                                          "--password-stdin"], input=password + "\n", env=env)
        assert result.exit_code == 0, result.output
    try:
        with running_server(work, {}, log=work.parent / "server.log",
                            env={"O2C_LEDGER": str(ledger)}) as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Folders each screenshot goes to."""
    folders = [tmp_path_factory.mktemp("screenshots")]
    if os.environ.get("O2C_SCREENSHOTS"):
        folders.append(Path(os.environ["O2C_SCREENSHOTS"]))
        folders[-1].mkdir(parents=True, exist_ok=True)
    return folders


def _shoot(page, shots: list[Path], name: str) -> None:  # noqa: ANN001
    for folder in shots:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=False)
    assert (shots[0] / f"{name}.png").stat().st_size > 5000


def _sign_in(browser, site: str, name: str):  # noqa: ANN001, ANN202
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.goto(f"{site}/app/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(USERS[name][1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    return page


def test_a_collector_works_the_worklist(browser, site: str, shots: list[Path]) -> None:  # noqa: ANN001
    page = _sign_in(browser, site, "cora")
    assert page.url.endswith("/app/worklist")
    assert page.get_by_role("heading", name=re.compile("My worklist")).is_visible()
    first = page.locator("#worklist table").first.locator("tbody tr").first
    customer = first.get_attribute("id").removeprefix("row-")
    amount = first.locator("td.num").nth(1).inner_text()
    assert re.fullmatch(r"[\d,]+ [A-Z]{3}", amount), amount  # thousands separators, currency
    _shoot(page, shots, "worklist")

    # log a promise inline: the list updates in place, the customer moves to the held ones
    first.locator("summary").click()
    first.get_by_label("What").select_option("promise")
    promised = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    first.get_by_label(re.compile("Promised date")).fill(promised)
    first.get_by_label(re.compile("Amount")).fill("1,500")
    with page.expect_response(lambda r: "/worklist/actions" in r.url) as answer:
        first.get_by_role("button", name="Log").click()
    assert answer.value.status == 200, (answer.value.status, answer.value.text()[:2000])
    held = page.locator(f"#held-{customer}")
    held.wait_for()
    assert page.locator(f"#row-{customer}").count() == 0
    assert "promise to pay 1,500.00" in held.inner_text()
    assert "logged by cora" in held.inner_text()
    assert "Promise to pay 1,500.00" in page.get_by_role("status").inner_text()
    _shoot(page, shots, "worklist-promise-held")

    # a refused action says why, and the list stays as it was
    second = page.locator("#worklist table").first.locator("tbody tr").first
    second.locator("summary").click()
    second.get_by_label("What").select_option("promise")
    second.get_by_label(re.compile("Promised date")).fill("2020-01-02")
    second.get_by_label(re.compile("Amount")).fill("10")
    second.get_by_role("button", name="Log").click()
    page.get_by_text(re.compile("in the past")).wait_for()

    # the customer page shows the promise, who logged it, and the chart
    page.locator(f"#held-{customer} a").click()
    page.wait_for_load_state()
    assert page.url.endswith(f"/app/customers/{customer}")
    assert "promise logged" in page.locator("#promises + table").inner_text()
    assert "cora" in page.locator("#activity + table").inner_text()
    chart = page.get_by_role("img", name=re.compile("open balance"))
    assert chart.evaluate("img => img.complete && img.naturalWidth > 100")
    _shoot(page, shots, "customer")

    # another role's page is refused; the dashboard is not
    response = page.goto(f"{site}/app/limits")
    assert response.status == 403
    assert page.get_by_role("heading", name="Not for your role").is_visible()
    _shoot(page, shots, "refused")
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_load_state()
    assert page.get_by_text("DSO (days)", exact=True).is_visible()
    assert page.get_by_role("img", name=re.compile("aging|age", re.I)).evaluate(
        "img => img.complete && img.naturalWidth > 100")
    _shoot(page, shots, "dashboard")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert page.url.endswith("/app/login")
    assert page.goto(f"{site}/app/worklist").url.split("?")[0].endswith("/app/login")


def test_a_credit_manager_overrides_a_limit(browser, site: str, shots: list[Path]) -> None:  # noqa: ANN001
    page = _sign_in(browser, site, "max")
    assert page.url.endswith("/app/limits")
    row = page.locator("#queue tbody tr").first
    customer = row.get_attribute("id").removeprefix("limit-")
    _shoot(page, shots, "limits")
    row.locator("summary").click()
    row.get_by_label(re.compile("Limit,")).fill("12,345")
    row.get_by_label("Reason").fill("Met the CFO; secured by a bank guarantee")
    with page.expect_response(lambda r: r.url.endswith("/decision")) as answer:
        row.get_by_role("button", name="Override").click()
    assert answer.value.status == 200, (answer.value.request.post_data,
                                        answer.value.text()[:300])
    page.get_by_text(re.compile(f"{customer}: recommendation overridden, limit 12,345")).wait_for()
    assert page.locator(f"#limit-{customer}").count() == 0  # decided: out of the queue
    page.goto(f"{site}/app/limits/{customer}")
    trail = page.locator("#trail + table").inner_text()
    assert "decide_limit" in trail and "max" in trail and "bank guarantee" in trail
    _shoot(page, shots, "limit-audit")
    page.goto(f"{site}/app/worklist")
    assert page.get_by_role("heading", name=re.compile("Worklist")).is_visible()


def test_an_admin_sees_alerts_and_every_page(browser, site: str, shots: list[Path]) -> None:  # noqa: ANN001
    page = _sign_in(browser, site, "ada")
    for path in ("worklist", "limits", "dashboard", "alerts"):
        assert page.goto(f"{site}/app/{path}").status == 200, path
    assert page.get_by_role("heading", name="Alerts").is_visible()
    first = page.locator("table tbody tr").first.locator("td")
    assert first.count() == 4, "no alert at all"  # an admin sees every collector's alerts
    assert first.nth(3).inner_text().strip()
    _shoot(page, shots, "alerts")


def test_the_dashboard_links_the_monitoring_report(browser, site: str, work: Path) -> None:  # noqa: ANN001
    """The verdict of `o2c monitor`'s latest summary, and a link to the Evidently report it
    names (only files the summary names are served)."""
    out = work.parent / "monitoring-run"
    out.mkdir(exist_ok=True)
    (out / "data_drift.html").write_text("<html><body>drift report 42</body></html>")
    (work / "monitoring").mkdir(exist_ok=True)
    summary = {"verdict": "alert", "reasons": [{"message": "score PSI 0.31 over 0.25"}],
               "model": {"name": "late-payment-risk", "version": "1"},
               "reports": {"data_drift": "data_drift.html"}, "out": str(out)}
    (work / "monitoring" / "latest.json").write_text(json.dumps(summary))
    try:
        page = _sign_in(browser, site, "cora")
        page.goto(f"{site}/app/dashboard")
        assert page.locator(".verdict-alert").inner_text() == "alert"
        assert page.get_by_text("score PSI 0.31 over 0.25").is_visible()
        page.get_by_role("link", name=re.compile("data drift report")).click()
        page.wait_for_load_state()
        assert "drift report 42" in page.content()
        assert page.goto(f"{site}/app/monitoring/model_quality").status == 404
        assert page.goto(f"{site}/app/monitoring/..%2Flatest.json").status == 404
    finally:
        (work / "monitoring" / "latest.json").unlink()


def test_sign_in_refusals(browser, site: str) -> None:  # noqa: ANN001
    page = browser.new_page()
    page.goto(f"{site}/app/login")
    page.get_by_label("User name").fill("cora")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong user name or password."
    # keyboard: the user name has the focus, the skip link comes before it, the password after
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    with httpx.Client(base_url=site) as client:  # a form without its CSRF token: refused
        client.get("/app/login")
        refused = client.post("/app/login", data={"username": "cora",
                                                  "password": USERS["cora"][1]})
        assert refused.status_code == 403
        assert "o2c_session" in client.cookies


def test_failed_sign_ins_are_throttled(site: str) -> None:
    """After 5 failures (the default) the user is refused from that address, even with the
    right password, and told when to try again; the session cookie is HttpOnly and Lax."""
    def attempt(client: httpx.Client, password: str) -> httpx.Response:
        form = client.get("/app/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        return client.post("/app/login", data={"username": "ada", "password": password,
                                               "csrf_token": token})

    with httpx.Client(base_url=site) as client:
        cookie = client.get("/app/login").headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/app" in cookie
        assert [attempt(client, "wrong-password").status_code for _ in range(5)] == [401] * 5
        refused = attempt(client, USERS["ada"][1])
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert "Too many failed sign-ins" in refused.text
