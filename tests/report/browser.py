"""Headless Chromium (Debian's `chromium` package) for the report tests, and a PNG reader in plain
Python (zlib and the PNG row filters) to tell a real screenshot from a blank one."""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars")
TIMEOUT = 120


def find_chromium() -> str | None:
    for name in CANDIDATES:
        if path := shutil.which(name):
            return path
    return None


def _run(browser: str, args: list[str]) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="iam-foundry-chromium-") as profile:
        return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)


def dump_dom(browser: str, page: Path) -> str:
    """The DOM after load, as Chromium serializes it."""
    result = _run(browser, ["--dump-dom", page.resolve().as_uri()])
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def screenshot(browser: str, page: Path, png: Path, size: str = "1280,2000") -> None:
    result = _run(browser, [f"--screenshot={png}", f"--window-size={size}", page.resolve().as_uri()])
    assert result.returncode == 0 and png.is_file(), result.stderr[-2000:]


@dataclass(frozen=True)
class Image:
    width: int
    height: int
    rows: list[bytes]       # unfiltered scanlines
    channels: int

    def pixels(self) -> set[bytes]:
        step = self.channels
        return {row[i:i + step] for row in self.rows for i in range(0, len(row), step)}

    def uniform_rows(self) -> int:
        return sum(1 for row in self.rows if row == row[:self.channels] * self.width)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def read_png(path: Path) -> Image:
    """8-bit RGB or RGBA PNG (what Chromium writes), decoded by hand."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, idat, header = 8, b"", None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        chunk = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unsupported PNG (depth {depth}, colour type {colour})"
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            upleft = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, upleft)) & 0xFF
        rows.append(bytes(line))
        previous = line
    return Image(width, height, rows, channels)


class Browser:
    """One headless Chromium for many pages, driven over the DevTools protocol on a pipe
    (--remote-debugging-pipe: JSON messages ending in NUL, commands on fd 3, replies on fd 4), so
    opening every report costs one browser start."""

    def __init__(self, binary: str, width: int = 1280, height: int = 2000):
        import os

        self.width, self.height = width, height
        self._profile = tempfile.TemporaryDirectory(prefix="iam-foundry-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire() -> None:  # in the child, before exec: the pipe ends Chromium expects on fds 3 and 4
            import fcntl

            # Move both ends above 4 first, so putting one on 3 or 4 cannot close the other; dup2
            # onto 3 and 4 then leaves them open across exec.
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_browser_r, from_browser_w)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={self._profile.name}", "--remote-debugging-pipe", "about:blank"],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        preexec_fn=wire, close_fds=False)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next = 0

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        import json
        import os
        import select

        self._next += 1
        message: dict = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                ready, _, _ = select.select([self._from_browser], [], [], TIMEOUT)
                assert ready, f"Chromium did not answer {method} within {TIMEOUT} s"
                chunk = os.read(self._from_browser, 1 << 20)
                assert chunk, "Chromium closed the DevTools pipe"
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next:
                assert "error" not in reply, f"{method}: {reply['error']}"
                return reply.get("result", {})

    def open(self, page: Path, png: Path | None = None, clip: str | None = None, scale: float = 1.0) -> str:
        """Load a page; return its DOM after load (and write a screenshot of the viewport, or of the
        element the CSS selector `clip` names)."""
        import base64
        import time

        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self._send("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                                                          "mobile": False}, session)
        self._send("Page.navigate", {"url": page.resolve().as_uri()}, session)
        deadline = time.monotonic() + TIMEOUT
        while self._send("Runtime.evaluate", {"expression": "document.readyState", "returnByValue": True},
                         session)["result"].get("value") != "complete":
            assert time.monotonic() < deadline, f"{page} did not finish loading"
            time.sleep(0.05)
        dom = self._send("Runtime.evaluate", {"expression": "document.documentElement.outerHTML", "returnByValue": True},
                         session)["result"]["value"]
        if png is not None:
            params: dict = {"format": "png"}
            if clip is not None:
                box = self._send("Runtime.evaluate", {"expression": f"JSON.stringify(document.querySelector({clip!r}).getBoundingClientRect())",
                                                      "returnByValue": True}, session)["result"]["value"]
                import json

                rect = json.loads(box)
                params["clip"] = {"x": rect["x"], "y": rect["y"], "width": rect["width"], "height": rect["height"], "scale": scale}
                params["captureBeyondViewport"] = True
            png.write_bytes(base64.b64decode(self._send("Page.captureScreenshot", params, session)["data"]))
        self._send("Target.closeTarget", {"targetId": target})
        return "<!DOCTYPE html>\n" + dom

    def close(self) -> None:
        import os

        try:
            self._send("Browser.close")
        except (AssertionError, OSError):
            pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._profile.cleanup()
