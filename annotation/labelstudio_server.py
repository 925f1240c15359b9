"""Run a local Label Studio for hotich: its own virtual environment, SQLite data, a preset admin and API token.

``make labelstudio`` runs this file; the tests start servers through :class:`LabelStudioServer`. It needs only
the standard library, so any Python can run it: Label Studio itself runs from ``.venv-ls`` (it pins numpy and
Django versions of its own, which must not meet the project's ``.venv``).

What it sets up, and why:

* **Credentials**: an admin user and a legacy API token (``Authorization: Token …``, the kind scripts and the ML
  backend use), made once per data directory and kept in ``<data-dir>/hotich-credentials.json`` (mode 0600);
  ``HOTICH_LS_USERNAME`` / ``HOTICH_LS_PASSWORD`` / ``HOTICH_LS_TOKEN`` override them.
* **Environment**: Label Studio also reads the bare names ``HOST``, ``PORT``, ``USERNAME`` and ``PASSWORD``
  (shells and containers set them for other reasons: ``USERNAME`` would become the admin's e-mail, ``HOST`` the
  public URL), so they are removed. Sentry, analytics and the PyPI version check are off (the last also saves a
  10 s timeout offline). ``ML_BLOCK_LOCAL_IP=false`` lets it reach an ML backend on 127.0.0.1, and loopback is
  taken off its SSRF ban list so that the ML backend's webhook reaches it too.
* **Listening**: always ``--internal-host 127.0.0.1``. A busy port is an error here: Label Studio would quietly
  move to the next free port and the printed URL would be wrong.
* **Database template**: a fresh database needs ~25-90 s of migrations. They run once into
  ``.cache/labelstudio-template/<version>/`` and every new data directory starts from a copy.

Usage::

    python annotation/labelstudio_server.py --port 8080 --data-dir .labelstudio
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABEL_STUDIO_VERSION = "1.23.2"
DEFAULT_VENV = ROOT / ".venv-ls"
DEFAULT_DATA_DIR = ROOT / ".labelstudio"
DEFAULT_PORT = 8080
DB_NAME = "label_studio.sqlite3"
CREDENTIALS_FILE = "hotich-credentials.json"
# Fallback names Label Studio reads without its LABEL_STUDIO_ / HEARTEX_ prefix (core.utils.params.get_env).
CLEARED_NAMES = ("HOST", "PORT", "USERNAME", "PASSWORD")
# Label Studio 1.23's default banned subnets (core.utils.io.validate_ip) without 127.0.0.0/8 and ::1/128.
BANNED_SUBNETS_BUT_LOOPBACK = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
    "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "233.252.0.0/24", "240.0.0.0/4", "255.255.255.255/32", "::/128", "::ffff:0:0/96",
    "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001:0000::/32", "2001:20::/28",
    "2001:db8::/32", "2002::/16", "fc00::/7", "fe80::/10", "ff00::/8")


class LabelStudioSetupError(RuntimeError):
    """Label Studio cannot be started: missing environment, busy port, failed migrations or start."""


def template_dir() -> Path:
    cache = Path(os.environ.get("HOTICH_CACHE", ROOT / ".cache")).expanduser()
    return cache / "labelstudio-template"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    token: str


def load_credentials(data_dir: str | os.PathLike) -> Credentials:
    """The admin of ``data_dir``: read from its credentials file, made (random) and saved on first use.

    ``HOTICH_LS_USERNAME`` / ``HOTICH_LS_PASSWORD`` / ``HOTICH_LS_TOKEN`` take precedence and are saved too.
    """
    data_dir = Path(data_dir)
    path = data_dir / CREDENTIALS_FILE
    saved = json.loads(path.read_text()) if path.is_file() else {}
    values = {
        "username": os.environ.get("HOTICH_LS_USERNAME") or saved.get("username") or "admin@hotich.local",
        "password": os.environ.get("HOTICH_LS_PASSWORD") or saved.get("password") or secrets.token_urlsafe(12),
        # DRF tokens are 40 characters; Label Studio ignores preset tokens of 5 characters or fewer.
        "token": os.environ.get("HOTICH_LS_TOKEN") or saved.get("token") or secrets.token_hex(20),
    }
    if len(values["token"]) <= 5 or len(values["token"]) > 40:
        raise LabelStudioSetupError("HOTICH_LS_TOKEN must have 6 to 40 characters")
    if values != saved:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle, indent=2)
    return Credentials(**values)


def labelstudio_env(data_dir: str | os.PathLike, credentials: Credentials, base: dict | None = None) -> dict:
    """The environment Label Studio runs in (see the module docstring for each choice)."""
    env = dict(os.environ if base is None else base)
    for name in CLEARED_NAMES:
        for prefix in ("", "LABEL_STUDIO_", "HEARTEX_"):
            env.pop(prefix + name, None)
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(Path(data_dir).resolve()),
        "LABEL_STUDIO_USERNAME": credentials.username,
        "LABEL_STUDIO_PASSWORD": credentials.password,
        "LABEL_STUDIO_USER_TOKEN": credentials.token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        "COLLECT_ANALYTICS": "false",
        "LATEST_VERSION_CHECK": "false",
        "ML_BLOCK_LOCAL_IP": "false",
        # Webhooks (Label Studio registers one per ML backend) go through its SSRF guard, which bans loopback
        # by default: lift the ban for loopback only and keep every other reserved range banned.
        "USE_DEFAULT_BANNED_SUBNETS": "false",
        "USER_ADDITIONAL_BANNED_SUBNETS": ",".join(BANNED_SUBNETS_BUT_LOOPBACK),
        # Images are uploaded to Label Studio, not served from the local disk: keep that door closed.
        "LOCAL_FILES_SERVING_ENABLED": "false",
        "LOCAL_FILES_DOCUMENT_ROOT": str(Path(data_dir).resolve()),
        "LOG_LEVEL": env.get("HOTICH_LS_LOG_LEVEL", "WARNING"),
        "PYTHONUNBUFFERED": "1",
    })
    env.pop("DATABASE_NAME", None)
    env.pop("DJANGO_DB", None)
    return env


def installed_version(venv: str | os.PathLike = DEFAULT_VENV) -> str:
    """The Label Studio version installed in ``venv``; raises :class:`LabelStudioSetupError` when absent."""
    venv = Path(venv)
    found = sorted(venv.glob("lib/python*/site-packages/label_studio-*.dist-info"))
    if not (venv / "bin" / "label-studio").is_file() or not found:
        raise LabelStudioSetupError(f"Label Studio is not installed in {venv}; run `make labelstudio-setup`")
    return found[-1].name.removeprefix("label_studio-").removesuffix(".dist-info")


@contextlib.contextmanager
def _locked(path: Path):
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_template(venv: str | os.PathLike = DEFAULT_VENV, quiet: bool = False) -> Path:
    """A migrated, empty Label Studio database for the installed version, built once (niced) and cached.

    Concurrent callers (parallel test runs) wait on a lock instead of migrating twice.
    """
    venv = Path(venv).resolve()  # the migration runs in a scratch directory
    version = installed_version(venv)
    target = template_dir() / version / DB_NAME
    if target.is_file():
        return target
    with _locked(template_dir() / f"{version}.lock"):
        if target.is_file():
            return target
        if not quiet:
            print(f"Migrating a Label Studio {version} database template once (about a minute)...", flush=True)
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="hotich-ls-template-") as scratch:
            env = labelstudio_env(scratch, Credentials("template@hotich.local", "unused", "unused-token"))
            code = ("from label_studio.server import _setup_env, _apply_database_migrations; "
                    "_setup_env(); _apply_database_migrations()")
            result = subprocess.run(["nice", "-n", "10", str(Path(venv) / "bin" / "python"), "-c", code],
                                    env=env, cwd=scratch, capture_output=True, text=True, check=False)
            if result.returncode != 0 or not (Path(scratch) / DB_NAME).is_file():
                raise LabelStudioSetupError(f"Label Studio migrations failed:\n{result.stdout}\n{result.stderr}")
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            shutil.copyfile(Path(scratch) / DB_NAME, partial)
            partial.replace(target)
        if not quiet:
            print(f"Template ready in {time.monotonic() - started:.0f} s: {target}", flush=True)
    return target


def prepare_data_dir(data_dir: str | os.PathLike, venv: str | os.PathLike = DEFAULT_VENV,
                     quiet: bool = False) -> Path:
    """Create ``data_dir`` from the template when it has no database yet; an existing database is kept."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    if not (data_dir / DB_NAME).is_file():
        shutil.copyfile(ensure_template(venv, quiet=quiet), data_dir / DB_NAME)
    return data_dir


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        # As the server will bind: connections of a stopped server lingering in TIME_WAIT do not block it.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def labelstudio_command(venv: Path, port: int, data_dir: Path) -> list[str]:
    return [str(venv / "bin" / "label-studio"), "start", "--no-browser", "--internal-host", "127.0.0.1",
            "--port", str(port), "--data-dir", str(data_dir), "--enable-legacy-api-token"]


class LabelStudioServer:
    """A Label Studio process on 127.0.0.1, from a prepared data directory.

    Args:
        data_dir: SQLite database and uploaded media (copied from the template when new).
        port: TCP port on 127.0.0.1; must be free.
        venv: the virtual environment holding Label Studio.
        log_path: where its output goes (default ``<data_dir>/labelstudio.log``).
    """

    def __init__(self, data_dir: str | os.PathLike = DEFAULT_DATA_DIR, port: int = DEFAULT_PORT,
                 venv: str | os.PathLike = DEFAULT_VENV, log_path: str | os.PathLike | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.venv = Path(venv).resolve()
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = Path(log_path) if log_path else self.data_dir / "labelstudio.log"
        self.process: subprocess.Popen | None = None
        self.credentials: Credentials | None = None

    def start(self, timeout: float = 120.0, quiet: bool = True) -> "LabelStudioServer":
        if not port_is_free(self.port):
            raise LabelStudioSetupError(f"port {self.port} on 127.0.0.1 is in use; choose another (PORT=...)")
        prepare_data_dir(self.data_dir, self.venv, quiet=quiet)
        self.credentials = load_credentials(self.data_dir)
        env = labelstudio_env(self.data_dir, self.credentials)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(labelstudio_command(self.venv, self.port, self.data_dir), env=env,
                                        cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LabelStudioSetupError(f"Label Studio exited with {self.process.returncode}:\n{self.log()}")
            if _http_ok(self.url + "/health"):
                return self
            time.sleep(0.3)
        self.stop()
        raise LabelStudioSetupError(f"Label Studio did not answer on {self.url} within {timeout:.0f} s:\n{self.log()}")

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.is_file() else ""

    def stop(self, timeout: float = 15.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # Its own session: the signal reaches Django's runserver and anything it started, and nothing else.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def __enter__(self) -> "LabelStudioServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start Label Studio for hotich on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--data-dir", default=str(DEFAULT_DATA_DIR), help="SQLite + media (default .labelstudio)")
    parser.add_argument("--venv", default=str(DEFAULT_VENV), help="where Label Studio is installed")
    parser.add_argument("--template-only", action="store_true", help="build the database template and exit")
    args = parser.parse_args(argv)
    try:
        if args.template_only:
            print(ensure_template(args.venv))
            return 0
        server = LabelStudioServer(args.data_dir, args.port, args.venv)
        server.start(quiet=False)
    except LabelStudioSetupError as exc:
        print(f"labelstudio: error: {exc}", file=sys.stderr)
        return 2
    creds = server.credentials
    print(f"\nLabel Studio {installed_version(args.venv)} is running at {server.url}\n"
          f"  log in as   {creds.username} / {creds.password}\n"
          f"  API token   {creds.token}   (Authorization: Token ...; also in "
          f"{server.data_dir / CREDENTIALS_FILE})\n"
          f"  data        {server.data_dir}\n"
          f"  log         {server.log_path}\n"
          f"  hotich      LABEL_STUDIO_URL={server.url} hotich annotate push ...\n"
          "Press Ctrl-C to stop.", flush=True)
    # Label Studio runs in a session of its own, so Ctrl-C, a closed terminal or a kill reach only this process:
    # each of them stops it here (explicit handlers: a shell's background job starts with SIGINT ignored).
    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stopping.append(True))
    while not stopping and server.process is not None and server.process.poll() is None:
        time.sleep(0.5)
    code = server.process.returncode if server.process is not None and server.process.poll() is not None else 0
    server.stop()
    if code:
        print(f"labelstudio: Label Studio exited with {code}; see {server.log_path}", file=sys.stderr)
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
