"""Drive the real Pulumi CLI against a throw-away local backend, with no network.

Used by our end-to-end tests, ``make demo`` and the benchmarks, and by users who want to test
their own stacks against the Vast.ai emulator: everything Pulumi writes (``PULUMI_HOME``, the
``file://`` state backend) lives under one directory, secrets use a passphrase, and the CLI is
told never to phone home or download plugins.

    with LocalBackend.temporary() as backend:
        stack = backend.stack("examples/quickstart", "dev", config={"vast:apiUrl": url})
        stack.up()
        print(stack.outputs())
        stack.destroy()
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # installed with the Pulumi SDK, which requires it

# Re-exported: programs and tests import them from here (their home is vast_pulumi.errors).
from vast_pulumi.errors import PulumiCommandError as PulumiCommandError
from vast_pulumi.errors import PulumiNotFoundError as PulumiNotFoundError

SETUP_HINT = "run `make setup` (it links or builds the Pulumi CLI into .venv/bin)"


def toolchain_path() -> str:
    """PATH with this interpreter's bin directory first.

    The Python language host we build runs ``python3`` from PATH, and the dynamic provider plugin
    does the same when no virtualenv is configured, so the virtualenv that has vast_pulumi
    installed must come first.
    """
    venv_bin = str(Path(sys.executable).parent)
    return os.pathsep.join([venv_bin, os.environ.get("PATH", "")])


def find_pulumi() -> str:
    """The pulumi executable the tests and demo use, or a clear error naming the fix."""
    found = shutil.which("pulumi", path=toolchain_path())
    if found is None:
        raise PulumiNotFoundError(
            f"the Pulumi CLI was not found next to {sys.executable} or on PATH; {SETUP_HINT}"
        )
    companion = shutil.which("pulumi-resource-pulumi-python", path=toolchain_path())
    if companion is None:
        raise PulumiNotFoundError(f"pulumi-resource-pulumi-python was not found; {SETUP_HINT}")
    return found


class SecretSeals:
    """Ciphertexts ``pulumi config set --secret`` made, for later stacks of the same passphrase.

    Sealing a secret costs the CLI a 1,000,000-round PBKDF2 (~0.36 CPU-s), and the end-to-end tests
    set the same API key on some sixty stacks. A stack's settings file names its salt
    (``encryptionsalt``); a new stack whose file already carries a salt that the passphrase opens
    keeps it (``pulumi stack init``), so the ciphertexts made under that salt are its own. The CLI
    still decrypts each of them on every command: they are not made up, only not made again.

    With a ``directory``, processes share them (pytest-xdist's workers): a salt is written once (the
    first process to write it wins; one that sealed under its own salt before keeps using that one),
    each ciphertext atomically. Files are named by digests, so no passphrase or secret is ever in the
    clear there; they hold only what a stack's settings file holds.
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._lock = threading.Lock()
        self._directory = directory
        # Keyed by digests, so the cache never holds a passphrase or a secret in the clear.
        self._salts: dict[str, str] = {}  # passphrase -> the first salt it sealed under
        self._sealed: dict[tuple[str, str, str], str] = {}  # (passphrase, salt, value) -> ciphertext

    def salt(self, passphrase: str) -> str | None:
        key = _digest(passphrase)
        with self._lock:
            if key not in self._salts and (shared := self._read(f"{key}.salt")):
                self._salts[key] = shared
            return self._salts.get(key)

    def ciphertext(self, passphrase: str, salt: str, value: str) -> str | None:
        key = (_digest(passphrase), salt, _digest(value))
        with self._lock:
            if key not in self._sealed and (shared := self._read(_seal_file(*key))):
                self._sealed[key] = shared
            return self._sealed.get(key)

    def remember(self, passphrase: str, salt: str, value: str, ciphertext: str) -> None:
        key = (_digest(passphrase), salt, _digest(value))
        with self._lock:
            self._salts.setdefault(key[0], salt)
            self._sealed[key] = ciphertext
            if self._directory is not None:
                self._share(self._directory, key, ciphertext)

    @staticmethod
    def _share(directory: Path, key: tuple[str, str, str], ciphertext: str) -> None:
        passphrase, salt, _ = key
        with contextlib.suppress(FileExistsError), open(directory / f"{passphrase}.salt", "x") as first:
            first.write(salt)
        partial = directory / f"{_seal_file(*key)}.{os.getpid()}"
        partial.write_text(ciphertext)
        partial.replace(directory / _seal_file(*key))

    def _read(self, name: str) -> str | None:
        if self._directory is None:
            return None
        try:
            return (self._directory / name).read_text() or None  # empty: a salt being written
        except FileNotFoundError:
            return None


def _seal_file(passphrase: str, salt: str, value: str) -> str:
    return f"{passphrase}-{_digest(salt)}-{value}.seal"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


_SEALS = SecretSeals()


@dataclass
class LocalBackend:
    """An isolated PULUMI_HOME plus a file:// state backend under ``root``."""

    root: Path
    passphrase: str = "vast-pulumi-local"
    extra_env: dict[str, str] = field(default_factory=dict)
    seals: SecretSeals = field(default_factory=lambda: _SEALS)  # this process's, unless shared

    @classmethod
    @contextmanager
    def temporary(cls, **kwargs: Any) -> Iterator[LocalBackend]:
        with tempfile.TemporaryDirectory(prefix="vast-pulumi-") as tmp:
            yield cls(Path(tmp), **kwargs)

    def __post_init__(self) -> None:
        self.pulumi = find_pulumi()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.home_dir.mkdir(parents=True, exist_ok=True)

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def home_dir(self) -> Path:
        return self.root / "home"

    @property
    def url(self) -> str:
        # The file backend (gocloud's fileblob) writes each state file atomically, but its ``.attrs``
        # metadata sidecar in place: a run killed mid-write leaves it empty, and every later command
        # fails with "failed to load checkpoint: EOF". ``metadata=skip`` writes no sidecar.
        return self.state_dir.as_uri() + "?metadata=skip"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            PATH=toolchain_path(),
            PULUMI_HOME=str(self.home_dir),
            PULUMI_BACKEND_URL=self.url,
            PULUMI_CONFIG_PASSPHRASE=self.passphrase,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK="true",
            PYTHONUNBUFFERED="1",
        )
        env.pop("PULUMI_ACCESS_TOKEN", None)
        # Each command is a short-lived Go process (and so are the language hosts and Go plugins it
        # starts) that spends a tenth of a second on package initialisation alone: collecting garbage
        # it is about to exit with costs ~7% of a `pulumi preview`'s CPU. Collect only near 1 GiB
        # instead; the caller's own settings win.
        env.setdefault("GOGC", "off")
        env.setdefault("GOMEMLIMIT", "1GiB")
        env.update(self.extra_env)
        return env

    def stack(
        self,
        project_dir: str | os.PathLike[str],
        name: str = "dev",
        *,
        config: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
    ) -> Stack:
        """Select (creating if needed) stack ``name`` of the project in ``project_dir``."""
        stack = Stack(self, Path(project_dir), name)
        if secrets:
            stack.use_known_salt()
        stack.init()
        for key, value in (config or {}).items():
            stack.set_config(key, value)
        for key, value in (secrets or {}).items():
            stack.set_config(key, value, secret=True)
        return stack

    def state_file(self, project: str, stack: str) -> Path:
        """Where the DIY backend keeps a stack's checkpoint (pkg/backend/diy/store.go)."""
        return self.state_dir / ".pulumi" / "stacks" / project / f"{stack}.json"


class CommandResult(subprocess.CompletedProcess[str]):
    """A finished pulumi command: ``stdout`` and ``stderr`` apart (so ``--json`` output parses
    whatever the CLI warns about), and ``output``, both streams as the lines arrived."""

    def __init__(self, args: Sequence[str], returncode: int, stdout: str, stderr: str, output: str) -> None:
        super().__init__(list(args), returncode, stdout, stderr)
        self.output = output


class _Lines:
    """Collects a command's stdout and stderr lines, apart and interleaved, from two reader threads."""

    def __init__(self, echo: bool) -> None:
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.both: list[str] = []
        self._echo = echo
        self._lock = threading.Lock()

    def pump(self, stream: Iterable[str], into: list[str]) -> None:
        for line in stream:
            with self._lock:
                into.append(line)
                self.both.append(line)
                if self._echo:
                    print(line, end="", flush=True)

    def note(self, line: str) -> None:
        with self._lock:
            self.stderr.append(line)
            self.both.append(line)


@dataclass
class Stack:
    backend: LocalBackend
    project_dir: Path
    name: str

    def run(
        self, *args: str, check: bool = True, echo: bool = False, timeout: float | None = 1800
    ) -> CommandResult:
        """Run ``pulumi ARGS --stack NAME`` in the project directory; stdout and stderr are captured
        apart (and also streamed to our stdout with ``echo``)."""
        argv = [self.backend.pulumi, *args, "--stack", self.name, "--non-interactive"]
        lines = _Lines(echo)
        timed_out = threading.Event()
        with subprocess.Popen(
            argv,
            cwd=self.project_dir,
            env=self.backend.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # so a timeout can stop the command and its children at once
        ) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            # The deadline must hold while we read: waiting after EOF would never end on a hang.
            deadline = threading.Timer(timeout, _time_out, (proc.pid, timed_out)) if timeout else None
            if deadline:
                deadline.start()
            stderr_reader = threading.Thread(target=lines.pump, args=(proc.stderr, lines.stderr), daemon=True)
            stderr_reader.start()
            try:
                lines.pump(proc.stdout, lines.stdout)
                stderr_reader.join()
                returncode = proc.wait()
            except KeyboardInterrupt:
                os.killpg(proc.pid, signal.SIGINT)  # its own session: pass Ctrl-C on, let it stop cleanly
                raise
            finally:
                if deadline:
                    deadline.cancel()
            # Only our timer's kill is a timeout: any other signal is reported as the exit status.
            if timed_out.is_set():
                lines.note(f"\n(killed after the {timeout:g} s timeout)\n")
        result = CommandResult(
            argv, returncode, "".join(lines.stdout), "".join(lines.stderr), "".join(lines.both)
        )
        if check and returncode != 0:
            raise PulumiCommandError(args, returncode, result.output)
        return result

    def init(self) -> None:
        argv = [self.backend.pulumi, "stack", "select", self.name, "--create", "--non-interactive"]
        proc = subprocess.run(
            argv, cwd=self.project_dir, env=self.backend.env(), capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise PulumiCommandError(argv[1:], proc.returncode, proc.stdout + proc.stderr)

    @property
    def config_file(self) -> Path:
        """The stack's settings file, where ``pulumi config set`` writes."""
        return self.project_dir / f"Pulumi.{self.name}.yaml"

    @property
    def project_name(self) -> str:
        """The ``name`` in the project's Pulumi.yaml: the namespace of its unqualified config keys."""
        project_file = self.project_dir / "Pulumi.yaml"
        if not project_file.exists():
            project_file = self.project_dir / "Pulumi.yml"  # the CLI accepts both names
        return str(yaml.safe_load(project_file.read_text())["name"])

    def set_config(self, key: str, value: str, *, secret: bool = False) -> None:
        """``pulumi config set``: plain values are written to the settings file as the CLI writes
        them (each CLI run costs ~0.23 CPU-s: it derives the passphrase key first); a secret is
        sealed by the CLI once per value and salt (see ``SecretSeals``)."""
        key = key if ":" in key else f"{self.project_name}:{key}"  # the CLI's rule for a bare key
        if not secret:
            self._write_config(key, value)
            return
        passphrase = self.backend.passphrase
        salt = self._settings().get("encryptionsalt")
        sealed = self.backend.seals.ciphertext(passphrase, salt, value) if salt else None
        if sealed:
            self._write_config(key, {"secure": sealed})
            return
        self._seal(key, value)
        settings = self._settings()
        if settings.get("encryptionsalt"):  # a passphrase stack (not a cloud KMS one)
            self.backend.seals.remember(
                passphrase, settings["encryptionsalt"], value, settings["config"][key]["secure"]
            )

    def use_known_salt(self) -> None:
        """Start a new settings file with the salt earlier stacks of this passphrase sealed under."""
        salt = self.backend.seals.salt(self.backend.passphrase)
        settings = self._settings()
        if salt and not {"encryptionsalt", "secretsprovider", "encryptedkey"} & settings.keys():
            self.config_file.write_text(yaml.safe_dump({"encryptionsalt": salt, **settings}, sort_keys=False))

    def _seal(self, key: str, value: str) -> None:
        """The CLI encrypts the secret. The value goes through stdin, never argv, so it stays out
        of process listings."""
        argv = [self.backend.pulumi, "config", "set", key, "--secret"]
        argv += ["--stack", self.name, "--non-interactive"]
        proc = subprocess.run(
            argv,
            cwd=self.project_dir,
            env=self.backend.env(),
            input=value,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise PulumiCommandError(argv[1:4], proc.returncode, proc.stdout + proc.stderr)

    def _settings(self) -> dict[str, Any]:
        settings = yaml.safe_load(self.config_file.read_text()) if self.config_file.exists() else None
        return settings or {}

    def _write_config(self, key: str, value: str | dict[str, str]) -> None:
        """What ``pulumi config set`` writes for a ``namespace:key``: a plain value, or a secret's
        ``{"secure": ciphertext}``."""
        settings = self._settings()
        settings.setdefault("config", {})[key] = value
        self.config_file.write_text(yaml.safe_dump(settings, sort_keys=False))

    def up(self, *extra: str, check: bool = True, echo: bool = False) -> CommandResult:
        return self.run("up", "--yes", "--skip-preview", *extra, check=check, echo=echo)

    def preview(self, *extra: str, check: bool = True, echo: bool = False) -> CommandResult:
        return self.run("preview", *extra, check=check, echo=echo)

    def refresh(self, *extra: str, check: bool = True, echo: bool = False) -> CommandResult:
        return self.run("refresh", "--yes", "--skip-preview", *extra, check=check, echo=echo)

    def destroy(self, *extra: str, check: bool = True, echo: bool = False) -> CommandResult:
        return self.run("destroy", "--yes", "--skip-preview", *extra, check=check, echo=echo)

    def preview_steps(self, *extra: str) -> list[dict[str, Any]]:
        """The steps `pulumi preview --json` plans: dicts with ``op`` (same, create, update,
        replace, delete, ...), ``urn`` and, for updates, ``diffReasons``."""
        steps: list[dict[str, Any]] = json.loads(self.run("preview", "--json", *extra).stdout)["steps"]
        return steps

    def up_steps(self, *extra: str) -> list[dict[str, Any]]:
        """``pulumi up`` and the steps it carried out, read from its ``--json`` engine events: dicts
        with ``op`` and ``urn`` as in ``preview_steps`` (one run where a preview and an up are two)."""
        result = self.run("up", "--yes", "--skip-preview", "--json", *extra)
        events = (json.loads(line) for line in result.stdout.splitlines() if line.startswith("{"))
        return [event["resourcePreEvent"]["metadata"] for event in events if "resourcePreEvent" in event]

    def outputs(self, *, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "--json"] + (["--show-secrets"] if show_secrets else [])
        result: dict[str, Any] = json.loads(self.run(*args).stdout)
        return result

    def export(self, *, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "export"] + (["--show-secrets"] if show_secrets else [])
        result: dict[str, Any] = json.loads(self.run(*args).stdout)
        return result

    def resources(self) -> list[dict[str, Any]]:
        """The resources in the stack's last checkpoint: what ``pulumi stack export`` prints as
        ``deployment.resources``, read from the file the backend keeps (a CLI run costs ~0.16 CPU-s)."""
        state_file = self.backend.state_file(self.project_name, self.name)
        if state_file.exists():
            latest = json.loads(state_file.read_text())["checkpoint"].get("latest") or {}
        else:  # compressed (PULUMI_DIY_BACKEND_GZIP) or elsewhere: let the CLI read it
            latest = self.export().get("deployment", {})
        resources: list[dict[str, Any]] = latest.get("resources") or []
        return resources

    def state_outputs(self) -> dict[str, Any]:
        """The stack's outputs as its last checkpoint holds them, read like ``resources()`` (no CLI
        run): a plain value is what ``outputs()`` prints; a secret one is the state's envelope (its
        ``ciphertext``), where ``outputs()`` prints ``[secret]``."""
        for resource in self.resources():
            if resource["type"] == "pulumi:pulumi:Stack":
                outputs: dict[str, Any] = resource.get("outputs") or {}
                return outputs
        return {}

    def remove(self) -> None:
        self.run("stack", "rm", "--yes", "--force")


def _time_out(pid: int, timed_out: threading.Event) -> None:
    timed_out.set()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
