"""The review page in a real browser: headless Chromium, driven by the keyboard through the
DevTools protocol (over a pipe: no extra package), against the app on 127.0.0.1. Skipped when
Chromium is not installed (Debian package ``chromium``)."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_review import TRANSCRIPT, open_session

from nlp_coder.review.app import serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"]
TOKEN = "browser-test-token"
SHOTS = Path(os.environ.get("NLP_CODER_SCREENSHOTS", "")) if os.environ.get("NLP_CODER_SCREENSHOTS") else None

pytestmark = pytest.mark.skipif(CHROMIUM is None,
                                reason="headless Chromium is not installed (Debian package 'chromium')")


class Browser:
    """Chromium with the DevTools protocol on file descriptors 3 and 4 (``--remote-debugging-pipe``)."""

    def __init__(self, profile: Path, width: int = 1280, height: int = 800) -> None:
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        os.set_inheritable(to_chrome_r, True)
        os.set_inheritable(from_chrome_w, True)

        def fds() -> None:  # in the child: the protocol's ends on 3 (commands in) and 4 (replies out)
            read_end = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "--remote-debugging-pipe", "about:blank"],
            preexec_fn=fds, pass_fds=(3, 4), stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._id = 0
        self.events: list[dict[str, Any]] = []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def call(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.time() + 60
        while time.time() < deadline:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_chrome, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed the pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise TimeoutError(method)

    def run(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def wait(self, expression: str, timeout: float = 20) -> Any:
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = self.run(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(expression)

    def key(self, key: str, code: str | None = None, modifiers: int = 0) -> None:
        """Press and release one key, as a keyboard does."""
        text = key if len(key) == 1 else "\r" if key == "Enter" else ""
        code = code or (f"Key{key.upper()}" if key.isalpha() and len(key) == 1 else key)
        virtual = {"Enter": 13, "Escape": 27, "ArrowDown": 40, "ArrowUp": 38, "Tab": 9}.get(key, ord(key.upper()[0]))
        for kind in ("keyDown", "keyUp"):
            params: dict[str, Any] = {"type": kind, "key": key, "code": code, "modifiers": modifiers,
                                      "windowsVirtualKeyCode": virtual}
            if kind == "keyDown" and text and not modifiers & 2:
                params["text"] = text
            self.call("Input.dispatchKeyEvent", session=True, **params)

    def type(self, text: str) -> None:
        for char in text:
            self.key(char, code=f"Key{char.upper()}" if char.isalpha() else "Minus")

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(self.call("Page.captureScreenshot", session=True, format="png")["data"])
        path.write_bytes(data)
        return data

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._to_chrome)
        os.close(self._from_chrome)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path, codebook_file: Path):  # type: ignore[no-untyped-def]
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text(TRANSCRIPT, encoding="utf-8")
    (folder / "b.txt").write_text(TRANSCRIPT.replace("Mother", "Father"), encoding="utf-8")
    session = open_session(folder, codebook_file, tmp_path / "store.db", reviewer="alice")
    port = free_port()
    threading.Thread(target=serve, args=(session,), daemon=True,
                     kwargs={"port": port, "open_browser": False, "token": TOKEN, "announce": lambda url: None}).start()
    url = f"http://127.0.0.1:{port}/?token={TOKEN}"
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/progress?token={TOKEN}", timeout=2).close()
            break
        except OSError:
            time.sleep(0.2)
    browser = Browser(tmp_path / "profile")
    yield session, browser, url
    browser.close()
    session.store.close()


def decided(session) -> int:  # type: ignore[no-untyped-def]
    return session.progress().decided


def test_the_page_is_driven_by_the_keyboard(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    session, browser, url = served
    browser.call("Page.navigate", session=True, url=url)
    browser.wait("document.querySelector('#context .turn') !== null && document.getElementById('overall-text')"
                 ".textContent.includes('decided')")
    first = session.next()
    assert browser.run("document.querySelector('#context mark').textContent") == first.text
    assert browser.run("document.activeElement.id") == "accept"  # keyboard focus starts on the main action

    browser.key("a")  # accept
    browser.wait("document.getElementById('status').textContent.startsWith('Accepted')")
    assert decided(session) == 1 and session.view(first.key).decision.action == "accept"

    second = session.next()
    browser.key("r")  # reject
    browser.wait("document.getElementById('status').textContent.startsWith('Rejected')")
    assert session.view(second.key).decision.action == "reject"

    third = session.next()
    browser.key("c")  # recode: type to search, Enter adds, Ctrl+Enter saves
    browser.wait("!document.getElementById('recode-panel').hidden")
    browser.type("listen")
    browser.wait("document.querySelectorAll('#code-options li').length === 1")
    browser.key("Enter")
    browser.type("warm")
    browser.key("Enter")
    assert browser.run("document.getElementById('chosen-codes').textContent") == "listening, warmth"
    browser.key("Enter", modifiers=2)
    browser.wait("document.getElementById('status').textContent.startsWith('Recoded')")
    assert session.view(third.key).decision.codes == ("listening", "warmth")
    assert decided(session) == 3

    browser.key("u")  # undo: the recoded fragment is open again
    browser.wait("document.getElementById('status').textContent.startsWith('Undone')")
    assert decided(session) == 2 and session.view(third.key).decision is None
    assert browser.run("document.querySelector('#context mark').textContent") == third.text

    browser.key("f")  # the filters, by keyboard: status "uncoded", show, accept the list
    assert browser.run("document.activeElement.id") == "filter-status"
    browser.run("document.getElementById('filter-document').value = 'b.txt'")
    browser.run("document.getElementById('filters').requestSubmit()")
    browser.wait("document.querySelectorAll('#list li').length > 0")
    listed = browser.run("document.querySelectorAll('#list li').length")
    pending_b = session.select(document="b.txt")[1]
    assert listed == pending_b
    browser.run("document.getElementById('batch-accept').focus()")
    browser.key("Enter", code="Enter")
    browser.wait("document.getElementById('status').textContent.startsWith('Accepted ')")
    assert session.select(document="b.txt")[1] == 0 and decided(session) == 2 + pending_b

    browser.wait(f"document.getElementById('overall-text').textContent.startsWith('{decided(session)} of')")
    shot = tmp_path / "review.png"
    data = browser.screenshot(shot)
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        (SHOTS / "review.png").write_bytes(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 800)
    assert len(data) > 30_000  # a rendered page, not a blank one
    # Usable at 1280x800: the fragment, its actions and the sidebar fit side by side without scrolling sideways.
    assert browser.run("document.documentElement.scrollWidth <= 1280")
    assert browser.run("document.getElementById('accept').getBoundingClientRect().bottom <= 800")


def test_every_control_has_a_label(served) -> None:  # type: ignore[no-untyped-def]
    session, browser, url = served
    browser.call("Page.navigate", session=True, url=url)
    browser.wait("document.querySelector('#context .turn') !== null")
    unlabelled = browser.run("""
        [...document.querySelectorAll('input, select, button')].filter((e) => {
            const label = e.labels && e.labels.length ? e.labels[0].textContent : '';
            return !(label.trim() || e.getAttribute('aria-label') || e.textContent.trim());
        }).map((e) => e.id || e.name)""")
    assert unlabelled == []
    assert browser.run("document.documentElement.lang") == "en"


def test_the_span_widens_to_the_next_sentence_by_keyboard(served) -> None:  # type: ignore[no-untyped-def]
    session, browser, url = served
    browser.call("Page.navigate", session=True, url=url)
    browser.wait("document.querySelector('#context mark') !== null")
    first = session.next()
    browser.key("]", code="BracketRight")
    if first.sentence_after is None:
        browser.wait("document.getElementById('status').textContent.includes('no sentence after')")
        return
    browser.wait(f"document.querySelector('#context mark').textContent.length > {len(first.text)}")
    browser.key("r")
    browser.wait("document.getElementById('status').textContent.startsWith('Rejected')")
    row = session.view(first.key).decision
    assert (row.start, row.end) == (first.start, first.sentence_after[1])
