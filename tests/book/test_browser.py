"""The test-built website in a real browser: headless Chromium (Debian's ``chromium`` and ``chromium-driver``,
driven by Selenium), with every request outside 127.0.0.1 blocked.

It runs after ``test_book.py``, whose site test builds ``$DLBOOK_TEST_OUT/site/_build/html`` from the notebooks
nbval executed. A small HTTP server thread serves that folder on 127.0.0.1; each page is opened at a desktop
size (1366 × 900) and a phone size (390 × 844) and checked for what a reader would see: equations typeset by
the site's own MathJax, a sidebar toggle that works, solutions collapsed and labelled as solutions, the right
Colab link, images that load and have alt text, no stderr block or build-machine path, nothing fetched from
elsewhere, and a console without errors. Screenshots of one chapter at both sizes are saved in
``$DLBOOK_TEST_OUT`` (``browser-*.png``) for people to look at.

``.ci/run`` installs the browser; elsewhere: ``apt-get install chromium chromium-driver`` (Debian/Ubuntu), or
point ``DLBOOK_CHROMIUM`` and ``DLBOOK_CHROMEDRIVER`` at a Chrome/Chromium and its matching chromedriver.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, repository_url

OUT = Path(os.environ.get("DLBOOK_TEST_OUT", ROOT / "_build" / "test"))
if not OUT.is_absolute():
    OUT = ROOT / OUT
SITE = OUT / "site" / "_build" / "html"


def _book_pages() -> list[str]:
    """Every page of the book, from _toc.yml (the site is built after collection, so it cannot be listed)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part.get("chapters", [])]
    return [f"{Path(f).name}.html" for f in files]


PAGES = _book_pages()
CHAPTER_PAGE = re.compile(r"^\d\d_")
SCREENSHOT_PAGE = "07_convolutional_networks.html"
DESKTOP = {"width": 1366, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
LOCAL_PATH = re.compile(r"/work/|site-packages|/root/|/home/|/tmp/|/Users/|[A-Z]:\\Users")


# --- the server and the browser ---------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the name http.server uses
        pass


@pytest.fixture(scope="module")
def site() -> str:
    """The built site served on 127.0.0.1 (a free port) by a thread; yields its base URL."""
    assert (SITE / "chapters").is_dir(), (
        f"{SITE} is missing: the site test (tests/book/test_book.py) builds it first; run `make test`")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(SITE)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _find(env: str, names: tuple[str, ...]) -> str | None:
    if os.environ.get(env):
        return os.environ[env]
    return next((path for path in map(shutil.which, names) if path), None)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is pinned in .ci/requirements.txt")
    from selenium.webdriver.chrome.service import Service

    chromium = _find("DLBOOK_CHROMIUM", ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"))
    driver_path = _find("DLBOOK_CHROMEDRIVER", ("chromedriver",))
    assert chromium and driver_path, (
        "the browser test needs Chromium and its chromedriver: `apt-get install chromium chromium-driver` "
        "(.ci/run does this), or set DLBOOK_CHROMIUM and DLBOOK_CHROMEDRIVER")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--hide-scrollbars", "--no-first-run", "--disable-extensions", "--disable-background-networking",
                # the network is off: every request that is not for 127.0.0.1 goes to a closed port, and no
                # host name resolves
                "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    options.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _open(browser, url: str, metrics: dict) -> None:
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    browser.get(url)
    browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const ready = () => document.readyState === "complete";
        (function wait() { ready() ? done(true) : setTimeout(wait, 20); })();""")


def _external_requests(browser) -> list[str]:
    """URLs outside 127.0.0.1 that the page tried to load since the last call (from the performance log)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
            if not re.match(r"^(http://127\.0\.0\.1[:/]|data:|blob:|about:)", url):
                urls.append(url)
    return urls


def _console_errors(browser) -> list[str]:
    return [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]


# --- what a page shows ------------------------------------------------------------------------------------

# One pass over the page in the browser. MathJax loads with `defer`: wait for its first typesetting.
PAGE_REPORT = r"""
const done = arguments[arguments.length - 1];
const mathjax = window.MathJax && window.MathJax.startup ? window.MathJax.startup.promise : Promise.resolve();
// a file MathJax loads on demand that is missing leaves it waiting for ever: give up after 15 s
const late = new Promise(resolve => setTimeout(() => resolve("late"), 15000));
Promise.race([mathjax.then(() => "done", error => `failed: ${error && error.message}`), late]).then(mathjaxState => {
  const article = document.querySelector("article.bd-article") || document.body;
  const maths = [...article.querySelectorAll(".math")];
  // text outside code and typeset maths that still holds TeX delimiters
  const raw = [];
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT, {acceptNode: (n) =>
      n.parentElement.closest("pre, code, script, style, mjx-container, .highlight")
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
  while (walker.nextNode()) {
    const m = walker.currentNode.nodeValue.match(/\\\(|\\\)|\\\[|\\\]|\$\$/);
    if (m) raw.push(walker.currentNode.nodeValue.trim().slice(0, 80));
  }
  const fonts = performance.getEntriesByType("resource").map(e => e.name).filter(n => /MathJax_.*\.woff/.test(n));
  const clone = document.body.cloneNode(true);
  clone.querySelectorAll("script, style").forEach(e => e.remove());
  const images = [...document.images].map(img => {
      const r = img.getBoundingClientRect();
      return {src: img.getAttribute("src"), complete: img.complete, width: img.naturalWidth,
              hasAlt: img.hasAttribute("alt"), alt: img.getAttribute("alt") || "", inArticle: article.contains(img),
              // how much the shown proportions differ from the image's own (0 unless it is squeezed)
              distortion: r.width && r.height && img.naturalHeight
                ? Math.abs((r.width / r.height) / (img.naturalWidth / img.naturalHeight) - 1) : 0,
              overflow: r.width > 0 && img.closest("div.cell_output") ? r.right - article.getBoundingClientRect().right : 0};
  });
  const codeSolutions = [...article.querySelectorAll("div.cell.tag_solution details")].map(d => ({
      open: d.open, label: d.querySelector("summary").innerText.trim(),
      codeVisible: d.querySelector(".cell_input") ? d.querySelector(".cell_input").checkVisibility() : null,
      title: d.textContent.includes("#@title")}));
  const writtenSolutions = [...article.querySelectorAll("details:not(.hide)")].map(d => ({
      open: d.open, label: (d.querySelector("summary") || {innerText: ""}).innerText.trim()}));
  const colab = [...document.querySelectorAll(".dropdown-launch-buttons a")].map(a => a.href)
      .filter(h => h.includes("colab"));
  const script = document.querySelector("script[src*='mathjax']");
  done({
    mathjaxState,
    mathjaxScript: script ? script.src : null,
    mathjaxVersion: window.MathJax && window.MathJax.version,
    maths: maths.length,
    typeset: maths.filter(e => e.querySelector("mjx-container")).length,
    errors: article.querySelectorAll("mjx-merror, [data-mjx-error]").length,
    raw, fonts, images, codeSolutions, writtenSolutions, colab,
    badge: document.querySelectorAll("img[src*='colab-badge']").length,
    stderr: article.querySelectorAll(".output.stderr, .stderr").length,
    localPath: (clone.textContent.match(new RegExp(arguments[0])) || [null])[0],
    brandTitles: [...document.querySelectorAll("#pst-primary-sidebar *")]
      .filter(e => e.children.length === 0 && e.textContent.trim() === document.querySelector(".logo__title")?.textContent.trim()).length,
    overflow: document.documentElement.scrollWidth - window.innerWidth,
  });
});
"""

SIDEBAR = """
const s = document.getElementById("pst-primary-sidebar"), r = s.getBoundingClientRect();
const modal = document.getElementById("pst-primary-sidebar-modal");
const link = (modal && modal.open ? modal : s).querySelector(".bd-docs-nav a.reference");
const l = link ? link.getBoundingClientRect() : {x: -1, right: -1, width: 0};
return {onScreen: r.width > 0 && r.right > 1 && r.x >= -1, drawer: !!(modal && modal.open),
        linkOnScreen: l.width > 0 && l.x >= 0 && l.right <= window.innerWidth};
"""


def _visible_toggle(browser):
    from selenium.webdriver.common.by import By

    toggles = [b for b in browser.find_elements(By.CSS_SELECTOR, ".primary-toggle") if b.is_displayed()]
    assert len(toggles) == 1, f"{len(toggles)} visible sidebar toggles, expected exactly one"
    # The header slides while the sidebar opens or closes; a reader clicks once it stands still, and so do we
    # (a click during the slide can land on the header instead of the button).
    where, deadline = None, time.monotonic() + 3.0
    while time.monotonic() < deadline:
        now = browser.execute_script("const r = arguments[0].getBoundingClientRect(); return [r.x, r.y]", toggles[0])
        if now == where:
            break
        where = now
        time.sleep(0.1)
    return toggles[0]


def _sidebar(browser, until=lambda state: True, timeout: float = 3.0) -> dict:
    """The sidebar's state, once ``until(state)`` holds (or when ``timeout`` seconds have passed)."""
    deadline = time.monotonic() + timeout
    while True:
        state = browser.execute_script(SIDEBAR)
        if until(state) or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def _check_page(report: dict) -> list[str]:
    """Everything wrong with one page, from PAGE_REPORT (empty when it is right)."""
    problems = []
    if report["maths"]:
        if not (report["mathjaxScript"] or "").startswith("http://127.0.0.1") \
                or "/_static/mathjax/" not in report["mathjaxScript"]:
            problems.append(f"MathJax does not come from the site's _static: {report['mathjaxScript']}")
        if not str(report["mathjaxVersion"]).startswith("3."):
            problems.append(f"MathJax 3 did not start (version {report['mathjaxVersion']})")
        if report["mathjaxState"] != "done":
            problems.append(f"MathJax did not finish typesetting: {report['mathjaxState']} (after 15 s at most)")
        if report["typeset"] != report["maths"]:
            problems.append(f"{report['maths'] - report['typeset']} of {report['maths']} equations not typeset")
        if not report["fonts"] or not all(f.startswith("http://127.0.0.1") for f in report["fonts"]):
            problems.append(f"MathJax fonts not loaded from the site: {report['fonts']}")
    if report["raw"]:
        problems.append(f"raw TeX left on the page: {report['raw'][:3]}")
    if report["errors"]:
        problems.append(f"{report['errors']} equations show a MathJax error")
    for img in report["images"]:
        if not (img["complete"] and img["width"] > 0):
            problems.append(f"image does not load: {img['src']}")
        if not img["hasAlt"] or (img["inArticle"] and not img["alt"].strip()):
            problems.append(f"image without alt text: {img['src']}")
        if img["distortion"] > 0.03 or img["overflow"] > 1:
            problems.append(f"image squeezed ({img['distortion']:.0%}) or wider than the column: {img['src']}")
    if report["badge"]:
        problems.append("the external Colab badge image is on the page")
    if report["stderr"]:
        problems.append(f"{report['stderr']} stderr output blocks on the page")
    if report["localPath"]:
        problems.append(f"a local path shows on the page: {report['localPath']!r}")
    if report["brandTitles"] != 1:
        problems.append(f"the book's title appears {report['brandTitles']} times in the sidebar")
    if report["overflow"] > 1:
        problems.append(f"the page is {report['overflow']} px wider than the window")
    return problems


@pytest.mark.parametrize("page", PAGES)
def test_website_page_in_the_browser(site, browser, page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    assert (SITE / "chapters" / page).is_file(), f"{page} is not in the built site"
    url = f"{site}/chapters/{page}"
    browser.get_log("browser")  # start with empty logs
    browser.get_log("performance")
    chapter = bool(CHAPTER_PAGE.match(page))

    # desktop: what the page shows, then the sidebar toggle hides and shows the table of contents
    _open(browser, url, DESKTOP)
    report = browser.execute_async_script(PAGE_REPORT, LOCAL_PATH.pattern)
    problems = _check_page(report)
    if page == SCREENSHOT_PAGE:
        browser.save_screenshot(str(OUT / "browser-desktop.png"))
    if chapter:
        notebook = page.replace(".html", ".ipynb")
        expected = f"https://colab.research.google.com/github/{repository_url().split('github.com/')[1]}" \
                   f"/blob/main/chapters/{notebook}"
        if report["colab"] != [expected]:
            problems.append(f"the launch menu's Colab link is {report['colab']}, expected [{expected}]")
        code, written = report["codeSolutions"], report["writtenSolutions"]
        if not code and not written:
            problems.append("no solutions on a chapter page")
        for s in code:
            if s["open"] or s["codeVisible"] or not re.fullmatch(r"Show solution \d\d\.\d+", s["label"]) or s["title"]:
                problems.append(f"code solution not collapsed, labelled 'Show solution NN.k' and without #@title: {s}")
        for s in written:
            if s["open"] or not re.fullmatch(r"Solution \d\d\.\d+", s["label"]):
                problems.append(f"written solution not collapsed and labelled 'Solution NN.k': {s}")
        # a reader's click opens one of each kind
        for selector in ("div.cell.tag_solution details > summary", "article details:not(.hide) > summary"):
            summaries = browser.find_elements(By.CSS_SELECTOR, selector)
            if summaries:
                summaries[0].click()
                opened = browser.execute_script(
                    "const d = arguments[0].parentElement, body = d.querySelector(':scope > :not(summary)');"
                    "return [d.open, arguments[0].innerText.trim(), !!body && body.checkVisibility()]", summaries[0])
                if not (opened[0] and opened[2]) or (selector.startswith("div") and not opened[1].startswith("Hide solution")):
                    problems.append(f"clicking {selector} did not show the solution: {opened}")
        if page == SCREENSHOT_PAGE:
            browser.execute_script("document.querySelector('#exercises, section[id*=exercise]')?.scrollIntoView()")
            browser.save_screenshot(str(OUT / "browser-desktop-exercises.png"))
    browser.execute_script("window.scrollTo(0, 0)")
    shown = lambda state: state["onScreen"] and state["linkOnScreen"]  # noqa: E731
    if not shown(_sidebar(browser, shown)):
        problems.append("desktop: the sidebar is not shown at first")
    _visible_toggle(browser).click()
    if shown(_sidebar(browser, lambda state: not state["onScreen"])):
        problems.append("desktop: the sidebar toggle does not hide the sidebar")
    _visible_toggle(browser).click()
    if not shown(_sidebar(browser, shown)):
        problems.append("desktop: the sidebar toggle does not show the sidebar again")

    # phone (the same page, the window made phone-sized): it fits, and the toggle opens the table of contents
    # as a drawer over the page, which Escape closes
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    browser.execute_script("window.scrollTo(0, 0)")
    phone = browser.execute_async_script(PAGE_REPORT, LOCAL_PATH.pattern)
    if phone["overflow"] > 1:
        problems.append(f"phone: the page is {phone['overflow']} px wider than the screen")
    problems += [f"phone: {p}" for p in _check_page(phone) if p.startswith("image squeezed")]
    if page == SCREENSHOT_PAGE:
        browser.save_screenshot(str(OUT / "browser-phone.png"))
    if _sidebar(browser, lambda state: not state["linkOnScreen"])["linkOnScreen"]:
        problems.append("phone: the sidebar covers the page before the toggle is pressed")
    _visible_toggle(browser).click()
    state = _sidebar(browser, lambda state: state["drawer"] and state["linkOnScreen"])
    if not (state["drawer"] and state["linkOnScreen"]):
        problems.append(f"phone: the sidebar toggle does not open the table of contents: {state}")
    elif page == SCREENSHOT_PAGE:
        browser.save_screenshot(str(OUT / "browser-phone-sidebar.png"))
    ActionChains(browser).send_keys(Keys.ESCAPE).perform()
    if _sidebar(browser, lambda state: not state["drawer"])["drawer"]:
        problems.append("phone: Escape does not close the table of contents")

    external = _external_requests(browser)
    if external:
        problems.append(f"the page fetches from outside the site: {sorted(set(external))[:5]}")
    errors = _console_errors(browser)
    if errors:
        problems.append(f"console errors: {errors[:3]}")
    assert not problems, f"{page}:\n- " + "\n- ".join(problems)


def test_website_favicon_search_page_and_no_source_maps(site, browser):
    """The favicon is served (no 404 on every page), the search page has one search box and finds a chapter,
    and no source map is deployed."""
    from selenium.webdriver.common.by import By

    _open(browser, f"{site}/chapters/{SCREENSHOT_PAGE}", DESKTOP)
    icon = browser.find_element(By.CSS_SELECTOR, "link[rel='icon']").get_attribute("href")
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(icon, timeout=10) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("image/")
    _open(browser, f"{site}/search.html?q=convolution", DESKTOP)
    boxes = [e for e in browser.find_elements(By.CSS_SELECTOR, "input[type='search'], input[name='q']")
             if e.is_displayed()]
    assert len(boxes) == 1, f"the search page shows {len(boxes)} search boxes"
    deadline = time.monotonic() + 15
    while not (found := browser.execute_script(
            "return [...document.querySelectorAll('#search-results a')]"
            ".some(a => a.href.includes('07_convolutional_networks'))")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert found, "searching for 'convolution' does not find chapter 07"
    assert not list(SITE.rglob("*.map")), "source maps are deployed"
    assert not _console_errors(browser), "console errors on the search page"


# A 1 × 1 PNG: the figure an interactive widget's output holds
_PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def _widget_page() -> str:
    """A page like the ones myst-nb writes for a chapter with saved widgets (a slider over an output that holds a
    figure), loading the scripts the way ``nb_ipywidgets_js`` in _config.yml tells it to."""
    import html

    import ipywidgets as widgets
    from ipywidgets.embed import embed_data

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    scripts = config["sphinx"]["config"]["nb_ipywidgets_js"]
    slider = widgets.FloatSlider(value=1.0, min=-3, max=3, description="w1")
    output = widgets.Output()
    output.outputs = ({"output_type": "display_data", "metadata": {},
                       "data": {"text/plain": "<Figure>", "image/png": _PIXEL}},)
    data = embed_data(views=[widgets.VBox([slider, output])])
    tags = "\n".join(f'<script src="../_static/{html.escape(path)}"></script>' for path in scripts)
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>widgets</title><link rel="icon" href="data:,">\n'
            f'<script type="application/vnd.jupyter.widget-state+json">{json.dumps(data["manager_state"])}</script>\n'
            f'{tags}\n</head><body><article class="bd-article">\n'
            # the theme's icons use the class that the manager's icon font is for: the page then loads that font
            '<i class="fa fa-bars"></i>\n'
            f'<script type="application/vnd.jupyter.widget-view+json">{json.dumps(data["view_specs"][0])}</script>\n'
            '</article></body></html>\n')


def test_saved_widgets_are_drawn_by_the_sites_own_scripts_with_the_network_off(site, browser):
    """Widget pages (chapters 01, 02, 03, 05, 06 in a full build) show their sliders and the figure inside them
    from the site's own copy of the widget scripts (dlbook_utils.widgetjs), with nothing fetched elsewhere."""
    page = SITE / "chapters" / "_widget_check.html"
    page.write_text(_widget_page(), encoding="utf8")
    try:
        browser.get_log("browser")
        browser.get_log("performance")
        _open(browser, f"{site}/chapters/{page.name}", DESKTOP)
        deadline, state = time.monotonic() + 20, {}
        while time.monotonic() < deadline:
            state = browser.execute_script("""
                return {slider: document.querySelectorAll('.widget-slider, .jupyter-widget-slider').length,
                        label: [...document.querySelectorAll('.widget-label, .widget-label-basic')]
                                 .map(e => e.textContent.trim()).join(' '),
                        figure: [...document.querySelectorAll('.widget-output img, .jupyter-widgets-output-area img')]
                                 .filter(i => i.complete && i.naturalWidth > 0).length};""")
            if state["slider"] and state["figure"]:
                break
            time.sleep(0.1)
        assert state.get("slider") == 1 and "w1" in state.get("label", ""), f"the slider is not drawn: {state}"
        assert state.get("figure") == 1, f"the figure inside the widget's output is not drawn: {state}"
        assert not _external_requests(browser), "the widget scripts fetch from outside the site"
        assert not _console_errors(browser), _console_errors(browser)
    finally:
        page.unlink()
