"""The web page in a real headless Chromium, against a real ``nircolor serve`` process.

Chromium is driven by Selenium through the system's ``chromedriver`` (Debian packages
``chromium`` and ``chromium-driver``); the driver path is given explicitly, so Selenium Manager
never runs and nothing is downloaded. Set ``NIRCOLOR_SCREENSHOT=/some/file.png`` to keep a
screenshot of the page showing a result.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nircolor.examples import make_example_nir, synthetic_pair
from nircolor.io import encode_image, read_image

from .helpers import has, requires
from .helpers.training import train_tiny_model

if has("httpx"):
    import httpx

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [  # every test here drives the page in a browser against a real server
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="chromium and chromedriver are not installed "
        "(apt-get install chromium chromium-driver)",
    ),
    requires("fastapi", "uvicorn", "httpx", "selenium"),
]

TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``nircolor serve`` in a subprocess on a free loopback port; yields its base URL."""
    folder = tmp_path_factory.mktemp("serve-browser")
    model = train_tiny_model(folder)
    port = free_port()
    log = open(folder / "server.log", "w+b")
    command = [sys.executable, "-c", "from nircolor.cli import main; main()", "serve"]
    command += ["--model", str(model), "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"the server exited:\n{log.read().decode(errors='replace')}")
            try:
                if httpx.get(url + "health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the server did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    folder = tmp_path_factory.mktemp("chromium")
    downloads = folder / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={folder / 'profile'}",
        "--window-size=1280,1000",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    # an explicit driver path: Selenium Manager is never asked to find or fetch anything
    service = Service(executable_path=CHROMEDRIVER, log_output=str(folder / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver, condition, message: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT, poll_frequency=0.05).until(condition, message)


def upload(driver, path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "file").send_keys(str(path))


def test_upload_compare_and_download(server, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(server)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"), "no models")
    assert browser.title == "nircolor"
    assert "tiny-l3" in browser.find_element(By.ID, "model").text

    nir_path = tmp_path / "landscape_nir.png"
    nir_path.write_bytes(encode_image(make_example_nir(384, 256), ".png"))
    upload(browser, nir_path)

    def result_shown(d):
        link = d.find_element(By.ID, "download")
        return link.is_displayed() and link.get_attribute("href").startswith("blob:")

    wait(browser, result_shown, "no result shown")
    status = browser.find_element(By.ID, "status")
    assert "error" not in (status.get_attribute("class") or ""), status.text
    meta = browser.find_element(By.ID, "meta").text
    assert "landscape_nir.png" in meta and "384 × 256" in meta and "tiny-l3" in meta
    sizes = browser.execute_script(
        "const a = document.getElementById('after'), b = document.getElementById('before');"
        "return [a.naturalWidth, a.naturalHeight, b.naturalWidth, b.naturalHeight];"
    )
    assert sizes == [384, 256, 384, 256]  # both sides of the wipe are loaded

    # the wipe: the slider moves the divide between NIR and colour (keyboard and pointer)
    def position():
        return browser.execute_script(
            "return getComputedStyle(document.getElementById('compare'))"
            ".getPropertyValue('--pos').trim()"
        )

    assert position() == "50%"
    slider = browser.find_element(By.ID, "slider")
    browser.execute_script("arguments[0].focus()", slider)
    slider.send_keys(Keys.END)
    assert position() == "100%"
    compare = browser.find_element(By.ID, "compare")
    from selenium.webdriver.common.action_chains import ActionChains

    width = compare.size["width"]
    ActionChains(browser).move_to_element_with_offset(compare, -width // 4, 0).click().perform()
    assert abs(float(position().rstrip("%")) - 25) < 2
    slider.send_keys(Keys.HOME)
    slider.send_keys(*[Keys.PAGE_UP] * 5)  # back to the middle for the screenshot
    assert position() == "50%"

    screenshot = os.environ.get("NIRCOLOR_SCREENSHOT")
    if screenshot:
        browser.save_screenshot(screenshot)

    browser.find_element(By.ID, "download").click()
    target = browser.downloads / "landscape_rgb.png"  # the pair convention, as the CLI

    def downloaded(_):
        return target.is_file() and not list(browser.downloads.glob("*.crdownload"))

    wait(browser, downloaded, f"nothing downloaded to {browser.downloads}")
    rgb = read_image(target)
    assert rgb.shape == (256, 384, 3)
    spread = rgb.max(axis=2) - rgb.min(axis=2)
    assert np.mean(spread > 0.05) > 0.5  # a colour image, not grey


def test_errors_are_shown(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"), "no models")
    photo = tmp_path / "photo.png"
    photo.write_bytes(encode_image(synthetic_pair(0)[1], ".png"))
    upload(browser, photo)
    status = browser.find_element(By.ID, "status")
    wait(browser, lambda d: "error" in (status.get_attribute("class") or ""), "no error shown")
    assert status.text.startswith("photo.png: this is a colour image")
    assert not browser.find_element(By.ID, "result").is_displayed()

    # a bad guided-filter setting, then a good one, on the same file
    nir = tmp_path / "scene.png"
    nir.write_bytes(encode_image(synthetic_pair(1, 64, 96)[0], ".png"))
    guided = browser.find_element(By.ID, "guided")
    guided.send_keys("5,x")
    upload(browser, nir)
    wait(browser, lambda d: status.text.startswith("guided: invalid"), "no guided error")
    guided.clear()
    guided.send_keys("4,1e-4")
    browser.find_element(By.ID, "run").click()
    wait(browser, lambda d: d.find_element(By.ID, "result").is_displayed(), "no result")
    wait(browser, lambda d: status.text == "", "status not cleared")
    assert "96 × 64" in browser.find_element(By.ID, "meta").text


def test_an_error_clears_the_previous_result(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server)
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"), "no models")
    good = tmp_path / "good_nir.png"
    good.write_bytes(encode_image(synthetic_pair(2, 48, 64)[0], ".png"))
    upload(browser, good)
    wait(browser, lambda d: d.find_element(By.ID, "result").is_displayed(), "no result")

    photo = tmp_path / "photo.png"
    photo.write_bytes(encode_image(synthetic_pair(0)[1], ".png"))
    upload(browser, photo)
    status = browser.find_element(By.ID, "status")
    wait(browser, lambda d: "error" in (status.get_attribute("class") or ""), "no error shown")
    assert status.text.startswith("photo.png: this is a colour image")
    assert not browser.find_element(By.ID, "result").is_displayed()
    assert browser.find_element(By.ID, "download").get_attribute("href") is None
    assert browser.find_element(By.ID, "meta").text == ""
