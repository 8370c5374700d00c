"""Integration tests of the restic driver and the maintenance lock, against the real restic binary."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from vaults.engine import locks
from vaults.engine.restic import (
    Progress,
    ResticCancelled,
    ResticError,
    ResticRepository,
    check_version,
    restic_binary,
)

pytestmark = pytest.mark.integration

BIG_FILE_BYTES = 52 * 1024 * 1024 + 12345


def _write_random(path: Path, size: int) -> None:
    with open(path, "wb") as handle:
        remaining = size
        while remaining:
            chunk = min(remaining, 4 * 1024 * 1024)
            handle.write(os.urandom(chunk))
            remaining -= chunk


def make_tree(root: Path, *, big: bool = True) -> None:
    """Nested folders, unicode names, empty files and folders, symlinks, modes and (optionally) a >50 MB file."""
    (root / "docs" / "deep" / "deeper").mkdir(parents=True)
    (root / "empty-folder").mkdir()
    (root / "unicode-Ünïcødé 文件").mkdir()
    (root / "unicode-Ünïcødé 文件" / "résumé ✓.txt").write_text("naïve café\n", encoding="utf-8")
    (root / "docs" / "readme.md").write_text("# hello\n")
    (root / "docs" / "deep" / "deeper" / "data.bin").write_bytes(os.urandom(70_000))
    (root / "docs" / "empty.txt").write_bytes(b"")
    script = root / "docs" / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o750)
    secret = root / "docs" / "private.key"
    secret.write_text("not really a key\n")
    secret.chmod(0o600)
    (root / "docs" / "link-to-readme").symlink_to("readme.md")
    (root / "docs" / "link-to-dir").symlink_to("deep/deeper")
    (root / "docs" / "absolute-link").symlink_to("/etc/hostname")
    (root / "docs" / "dangling").symlink_to("does-not-exist")
    os.utime(root / "docs" / "readme.md", (1_600_000_000, 1_600_000_000))
    if big:
        _write_random(root / "big.bin", BIG_FILE_BYTES)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def tree_manifest(root: Path) -> dict[str, tuple]:
    """Every entry below root with its type, mode, content hash / link target and file mtime."""
    manifest: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                manifest[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                manifest[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                manifest[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_size, _sha256(path), int(st.st_mtime))
    return manifest


_TEMPLATE: dict[str, tuple[Path, str]] = {}


def repository_template(factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One initialised repository and its password per session (restic init spends ~3 s deriving keys)."""
    if "repo" not in _TEMPLATE:
        password = "pw-" + secrets.token_hex(16)
        path = factory.mktemp("template") / "repo"
        ResticRepository(str(path), password).init()
        _TEMPLATE["repo"] = (path, password)
    return _TEMPLATE["repo"]


def copy_repository(tmp_path: Path, factory: pytest.TempPathFactory) -> ResticRepository:
    """A fresh, empty repository for one test: a copy of the session template."""
    template, password = repository_template(factory)
    shutil.copytree(template, tmp_path / "repo")
    return ResticRepository(str(tmp_path / "repo"), password, retry_lock="1s", cancel_grace=10)


@pytest.fixture
def repo(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> ResticRepository:
    return copy_repository(tmp_path, tmp_path_factory)


@pytest.fixture
def password(repo: ResticRepository) -> str:
    return repo._password


def test_init_creates_a_repository_and_refuses_a_second_one(tmp_path: Path) -> None:
    repository = ResticRepository(str(tmp_path / "fresh"), "a fresh password")
    assert len(repository.init()) == 64
    assert repository.exists()
    with pytest.raises(ResticError) as caught:
        repository.init()
    assert caught.value.code == "repository_exists"


def _restic_children() -> list[int]:
    """restic processes whose parent is this test process (other children, such as a browser driver started by
    the browser tests of the same session, are not restic's business)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and _command_name(entry) == "restic":
            pids.append(int(entry))
    return pids


def _command_name(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def test_it_refuses_restic_older_than_0_17(tmp_path: Path) -> None:
    fake = tmp_path / "old-restic"
    fake.write_text("#!/bin/sh\necho 'restic 0.14.0 compiled with go1.19 on linux/amd64'\n")
    fake.chmod(0o755)
    with pytest.raises(ResticError) as caught:
        check_version(str(fake))
    assert caught.value.code == "restic_too_old"
    assert "0.17" in caught.value.message
    assert check_version() >= (0, 17, 0)


def test_restic_binary_prefers_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESTIC_BINARY", "/opt/restic")
    assert restic_binary() == "/opt/restic"
    monkeypatch.delenv("RESTIC_BINARY")
    assert os.path.basename(restic_binary()) == "restic"


def test_round_trip_restores_every_byte_mode_and_link_after_an_incremental_backup(
    tmp_path: Path, repo: ResticRepository
) -> None:
    """GIVEN a tree with nested, unicode, empty, linked, mode-carrying and >50 MB entries backed up twice
    WHEN the second snapshot and then the first are restored into alternate folders
    THEN each restored tree equals the source at that time byte for byte, mode for mode and link for link."""
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src)
    first_manifest = tree_manifest(src)
    progress: list[Progress] = []
    first = repo.backup([str(src)], tags=["instance:1", "job:1"], on_progress=progress.append)
    assert len(first.snapshot_id) == 64
    assert first.files_new == len([v for v in first_manifest.values() if v[0] == "file"])
    assert first.total_bytes_processed >= BIG_FILE_BYTES
    assert not first.warnings

    (src / "docs" / "readme.md").write_text("# changed\n")
    (src / "docs" / "new file.txt").write_text("added later\n")
    (src / "docs" / "empty.txt").unlink()
    (src / "docs" / "run.sh").chmod(0o700)
    second = repo.backup([str(src)], tags=["instance:1", "job:2"], on_progress=progress.append)
    assert second.files_changed >= 1 and second.files_new == 1
    assert second.data_added < first.data_added  # the big file is de-duplicated
    second_manifest = tree_manifest(src)

    snapshots = repo.snapshots(tags=["instance:1"])
    assert [s.id for s in snapshots] == [first.snapshot_id, second.snapshot_id]
    assert repo.snapshots(tags=["instance:1", "job:2"])[0].id == second.snapshot_id
    assert snapshots[0].paths == (str(src),)

    restored = repo.restore(second.snapshot_id, str(tmp_path / "alt2"), on_progress=progress.append)
    assert restored.files_restored >= len(second_manifest) and restored.bytes_restored >= BIG_FILE_BYTES
    assert tree_manifest(tmp_path / "alt2" / str(src).lstrip("/")) == second_manifest

    repo.restore(first.snapshot_id, str(tmp_path / "alt1"))
    assert tree_manifest(tmp_path / "alt1" / str(src).lstrip("/")) == first_manifest
    assert all(isinstance(p, Progress) for p in progress)

    nodes = {node.path: node for node in repo.ls(second.snapshot_id)}
    assert nodes[f"{src}/big.bin"].size == BIG_FILE_BYTES
    assert nodes[f"{src}/docs/run.sh"].mode == 0o700
    assert nodes[f"{src}/docs/link-to-readme"].link_target == "readme.md"
    assert nodes[f"{src}/docs/absolute-link"].link_target == "/etc/hostname"
    assert nodes[f"{src}/empty-folder"].type == "dir"

    with repo.dump(second.snapshot_id, f"{src}/docs/readme.md") as stream:
        assert stream.read() == b"# changed\n"
    assert repo.stats().total_size > 0
    assert repo.check().ok


def test_progress_callbacks_are_throttled_to_two_per_second(tmp_path: Path, repo: ResticRepository) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _write_random(src / "big.bin", 120 * 1024 * 1024)
    calls: list[float] = []
    started = time.monotonic()
    repo.backup([str(src)], tags=["t"], on_progress=lambda p: calls.append(time.monotonic()))
    elapsed = time.monotonic() - started
    assert len(calls) <= 2 * elapsed + 1
    assert all(b - a >= 0.45 for a, b in zip(calls, calls[1:], strict=False))


def test_the_password_is_never_in_restic_arguments_or_error_text(
    tmp_path: Path, repo: ResticRepository, password: str
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _write_random(src / "data.bin", 8 * 1024 * 1024)
    seen: list[tuple[bytes, bytes]] = []
    password_files: list[str] = []

    def inspect_children() -> bool:
        for pid in _restic_children():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                environ = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            seen.append((cmdline, environ))
            for item in environ.split(b"\0"):
                if item.startswith(b"RESTIC_PASSWORD_FILE="):
                    path = item.split(b"=", 1)[1].decode()
                    password_files.append(path)
                    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        return False

    repo.backup([str(src)], tags=["t"], cancel=inspect_children)
    assert seen, "the restic process was inspected while it ran"
    for cmdline, environ in seen:
        assert password.encode() not in cmdline
        assert password.encode() not in environ
    assert password_files and not any(os.path.exists(p) for p in password_files)
    assert password not in " ".join(repo.last_command)

    wrong = ResticRepository(repo.url, password + "-wrong", retry_lock="1s")
    with pytest.raises(ResticError) as caught:
        wrong.snapshots()
    assert caught.value.code == "wrong_password"
    assert caught.value.exit_code == 12
    assert password not in str(caught.value) and password not in caught.value.stderr_tail


def test_a_missing_repository_is_reported_as_repository_missing(tmp_path: Path) -> None:
    repo = ResticRepository(str(tmp_path / "nothing-here"), "any password")
    with pytest.raises(ResticError) as caught:
        repo.snapshots()
    assert caught.value.code == "repository_missing"
    assert caught.value.exit_code == 10
    assert repo.exists() is False


def test_an_unusable_storage_location_is_storage_unavailable(tmp_path: Path) -> None:
    password = "storage-" + secrets.token_hex(8)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    repo = ResticRepository(str(blocker / "repo"), password)
    with pytest.raises(ResticError) as caught:
        repo.init()
    assert caught.value.code == "storage_unavailable"
    assert password not in caught.value.message


def test_a_missing_source_path_fails_before_restic_runs(tmp_path: Path, repo: ResticRepository) -> None:
    present = tmp_path / "present"
    present.mkdir()
    with pytest.raises(ResticError) as caught:
        repo.backup([str(present), str(tmp_path / "gone")], tags=["t"])
    assert caught.value.code == "source_missing"
    assert str(tmp_path / "gone") in caught.value.message
    assert repo.snapshots() == []


@pytest.fixture
def restic_without_dac_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run restic without CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH so that root, too, cannot read a 0000 file."""
    if os.geteuid() != 0:
        return
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("setpriv (util-linux) is needed to drop root's file capabilities")
    wrapper = tmp_path / "restic-no-dac"
    wrapper.write_text(
        f'#!/bin/sh\nexec {setpriv} --bounding-set -dac_override,-dac_read_search -- {restic_binary()} "$@"\n'
    )
    wrapper.chmod(0o755)
    probe = subprocess.run([str(wrapper), "version"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("this container does not allow dropping capabilities")
    monkeypatch.setenv("RESTIC_BINARY", str(wrapper))


def test_an_unreadable_file_saves_the_snapshot_with_warnings(
    tmp_path: Path, repo: ResticRepository, restic_without_dac_override: None
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "fine.txt").write_text("readable\n")
    locked = src / "locked.txt"
    locked.write_text("secret\n")
    locked.chmod(0o000)
    summary = repo.backup([str(src)], tags=["t"])
    assert summary.completed_with_warnings
    assert any(w.item == str(locked) and "permission denied" in w.message for w in summary.warnings)
    assert [s.id for s in repo.snapshots()] == [summary.snapshot_id]


def test_cancelling_a_backup_interrupts_restic_and_the_next_backup_succeeds(
    tmp_path: Path, repo: ResticRepository
) -> None:
    """GIVEN a backup of a large tree WHEN the job is cancelled while restic runs
    THEN ResticCancelled is raised, no snapshot or lock is left and the next backup succeeds."""
    src = tmp_path / "src"
    (src / "many").mkdir(parents=True)
    for i in range(40):
        _write_random(src / "many" / f"part-{i:03}.bin", 5 * 1024 * 1024)
    started = time.monotonic()
    progress: list[Progress] = []
    with pytest.raises(ResticCancelled):
        repo.backup(
            [str(src)],
            tags=["t"],
            on_progress=progress.append,
            cancel=lambda: time.monotonic() - started > 0.8,
        )
    assert not _restic_children()
    assert repo.snapshots() == []
    assert repo.list_locks() == []
    shutil.rmtree(src / "many")
    (src / "small.txt").write_text("small\n")
    assert len(repo.backup([str(src)], tags=["t"]).snapshot_id) == 64


def _held_exclusive_lock(repo: ResticRepository, tmp_path: Path) -> subprocess.Popen[bytes]:
    """Start ``restic check --read-data`` and freeze it while it holds its exclusive lock."""
    pwfile = tmp_path / "pw"
    pwfile.write_text(repo._password)
    env = {**os.environ, "RESTIC_REPOSITORY": repo.url, "RESTIC_PASSWORD_FILE": str(pwfile)}
    proc = subprocess.Popen(
        [restic_binary(), "--no-cache", "check", "--read-data"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock_folder = Path(repo.url) / "locks"
    deadline = time.monotonic() + 20
    while not any(lock_folder.iterdir()):
        assert time.monotonic() < deadline and proc.poll() is None, "restic check never took its lock"
        time.sleep(0.005)
    proc.send_signal(signal.SIGSTOP)
    return proc


def test_a_live_lock_fails_the_backup_and_unlock_clears_it_once_its_owner_died(
    tmp_path: Path, repo: ResticRepository
) -> None:
    """GIVEN a running restic holding an exclusive lock WHEN a backup starts THEN it fails with lock_failed;
    GIVEN the owner was killed (a crashed worker) THEN unlock() removes the stale lock and the next run works."""
    src = tmp_path / "src"
    src.mkdir()
    _write_random(src / "data.bin", 60 * 1024 * 1024)
    repo.backup([str(src)], tags=["t"])
    holder = _held_exclusive_lock(repo, tmp_path)
    try:
        with pytest.raises(ResticError) as caught:
            repo.backup([str(src)], tags=["t"])
        assert caught.value.code == "lock_failed"
        assert caught.value.exit_code == 11
    finally:
        holder.kill()
        holder.wait()
    assert len(repo.list_locks()) == 1
    assert repo.unlock() == 1
    assert repo.list_locks() == []
    assert repo.check().ok
    assert len(repo.backup([str(src)], tags=["t"]).snapshot_id) == 64


def test_a_stale_lock_of_a_killed_backup_is_cleared_before_maintenance(tmp_path: Path, repo: ResticRepository) -> None:
    src = tmp_path / "src"
    src.mkdir()
    _write_random(src / "data.bin", 150 * 1024 * 1024)
    thread_error: list[BaseException] = []

    def killer() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if any((Path(repo.url) / "locks").iterdir()):
                for pid in _restic_children():
                    os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        repo.backup([str(src)], tags=["t"])
    except ResticError as exc:
        thread_error.append(exc)
    thread.join()
    assert thread_error and thread_error[0].code == "restic_failed"
    assert len(repo.list_locks()) == 1
    # check() takes an exclusive lock: it meets the stale lock, removes it with unlock and retries once
    assert repo.check().ok
    assert repo.list_locks() == []


def test_a_failing_dump_command_leaves_no_snapshot(repo: ResticRepository) -> None:
    with pytest.raises(ResticError) as caught:
        repo.backup_from_command(
            ["sh", "-c", "echo partial data; echo 'dump: database is gone' >&2; exit 2"],
            stdin_filename="db.dump",
            tags=["job:9"],
        )
    assert caught.value.code == "source_command_failed"
    assert "database is gone" in caught.value.message
    assert repo.snapshots() == []

    summary = repo.backup_from_command(
        ["sh", "-c", "echo complete data"], stdin_filename="db.dump", tags=["job:10"], env={"EXTRA": "1"}
    )
    (snapshot,) = repo.snapshots()
    assert snapshot.id == summary.snapshot_id and snapshot.paths == ("/db.dump",)
    with repo.dump(snapshot.id, "/db.dump") as stream:
        assert stream.read() == b"complete data\n"


def test_forget_and_prune_remove_a_snapshot(tmp_path: Path, repo: ResticRepository) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_text("a")
    first = repo.backup([str(src)], tags=["t"])
    (src / "b").write_text("b")
    second = repo.backup([str(src)], tags=["t"])
    with locks.repository_lock(repo.url, timeout=5):
        repo.forget([first.snapshot_id])
        repo.prune()
    assert [s.id for s in repo.snapshots()] == [second.snapshot_id]
    with pytest.raises(ValueError):
        repo.forget([first.snapshot_id[:8]])


def test_repository_lock_serialises_holders_and_times_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKUPCENTER_LOCK_DIR", str(tmp_path / "locks"))
    key = "s3:https://example.invalid/bucket/vault-1"
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with locks.repository_lock(key, timeout=5):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    started = time.monotonic()
    with pytest.raises(locks.LockTimeout):
        with locks.repository_lock(key, timeout=0.3):
            pass
    assert time.monotonic() - started >= 0.3
    with locks.repository_lock("another repository", timeout=0.1):
        pass
    release.set()
    thread.join()
    with locks.repository_lock(key, timeout=1):
        pass
    assert "example" not in " ".join(os.listdir(tmp_path / "locks"))


def test_repository_lock_is_released_when_its_process_dies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lock_dir = tmp_path / "locks"
    monkeypatch.setenv("BACKUPCENTER_LOCK_DIR", str(lock_dir))
    env = dict(os.environ)
    code = (
        "import time, sys\n"
        "from vaults.engine.locks import repository_lock\n"
        "with repository_lock('repo-x', timeout=5):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.PIPE,
        cwd=str(Path(locks.__file__).resolve().parents[2]),
    )
    assert child.stdout is not None and child.stdout.readline().strip() == b"held"
    with pytest.raises(locks.LockTimeout):
        with locks.repository_lock("repo-x", timeout=0.2):
            pass
    child.kill()
    child.wait()
    with locks.repository_lock("repo-x", timeout=2):
        pass


def test_temporary_password_files_do_not_outlive_a_command(repo: ResticRepository, password: str) -> None:
    before = set(os.listdir(tempfile.gettempdir()))
    repo.snapshots()
    leftovers = [name for name in set(os.listdir(tempfile.gettempdir())) - before if name.startswith("bc-restic-")]
    assert leftovers == []
