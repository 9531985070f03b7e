"""The first run in embedded mode (no DATABASE_URL): quiet (JSON logs only on stderr, no
library warning), and every start, not just the first, says where to open the service and
where the demo logins are."""

from __future__ import annotations

import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.announce import browse_url
from tests.conftest import _free_port
from tests.serve_process import Serve


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Not under pytest's basetemp (0700, reset by any other pytest session): the embedded
    # PostgreSQL runs as its own system user when we are root and must reach its files.
    folder = Path(tempfile.mkdtemp(prefix="fpm-first-run-"))
    folder.chmod(0o755)
    yield folder / "data"
    shutil.rmtree(folder, ignore_errors=True)


async def _start_and_stop(data_dir: Path) -> Serve:
    serve = Serve({"DATA_DIR": str(data_dir)}, data_dir.parent, _free_port())
    serve.start()
    try:
        await serve.ready()
        code, _ = await serve.signal(signal.SIGTERM)
    finally:
        serve.stop()
    assert code == 0, serve.stderr[-3000:]
    return serve


async def test_every_embedded_start_says_where_to_open_and_where_the_logins_are(
    data_dir: Path,
) -> None:
    first = await _start_and_stop(data_dir)
    logins = data_dir / "demo-logins.txt"
    line = f"open http://127.0.0.1:{first.port}/ — demo logins in {logins}"
    printed = first.stdout.splitlines()
    assert printed[0].startswith("Demo organisation 'formula-demo' loaded")
    assert printed[-1] == line
    assert logins.read_text().splitlines() == printed[:-1]
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600
    again = await _start_and_stop(data_dir)
    assert again.stdout.splitlines() == [
        f"open http://127.0.0.1:{again.port}/ — demo logins in {logins}"]
    for run in (first, again):  # no warning of a library (platformdirs), no traceback
        assert all(text.startswith("{") for text in run.stderr.splitlines()), run.stderr


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:5014/"),
    ("0.0.0.0", "http://127.0.0.1:5014/"),
    ("::", "http://[::1]:5014/"),
    ("::1", "http://[::1]:5014/"),
    ("10.1.2.3", "http://10.1.2.3:5014/"),
    ("localhost", "http://localhost:5014/"),
])
def test_the_url_to_open_is_one_a_browser_here_reaches(host: str, url: str) -> None:
    assert browse_url(host, 5014) == url
