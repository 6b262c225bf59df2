"""ensure_odoo (scripts/lib.sh) fetches Odoo 18.0 with git when ODOO_PATH holds none.

Each test sources lib.sh in bash with ODOO_PATH in a temporary folder and ODOO_GIT_URL on a
small fake "Odoo" repository built here (odoo-bin, odoo/addons/base, odoo/release.py,
requirements.txt; a branch 18.0 and a branch 17.0), then calls ensure_odoo and check_odoo
only: no virtualenv, no PostgreSQL. Run: python -m pytest -p no:odoo scripts/tests
"""
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

LIB = pathlib.Path(__file__).resolve().parents[1] / "lib.sh"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}


def git(*args, cwd=None):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, **GIT_ENV})


def write_odoo_tree(root, major):
    (root / "odoo" / "addons" / "base").mkdir(parents=True, exist_ok=True)
    (root / "odoo" / "addons" / "base" / "__init__.py").write_text("")
    (root / "odoo-bin").write_text("#!/usr/bin/env python3\n")
    (root / "odoo" / "release.py").write_text(
        f"FINAL = 'final'\nversion_info = ({major}, 0, 0, FINAL, 0, '')\n")
    (root / "requirements.txt").write_text("psycopg2==2.9.9\n")


@pytest.fixture(scope="module")
def fake_repo(tmp_path_factory):
    """A git repository shaped like Odoo: branch 18.0 (two commits, so a shallow clone is
    visibly shallow) and branch 17.0."""
    repo = tmp_path_factory.mktemp("fake-odoo") / "odoo.git-src"
    repo.mkdir()
    git("init", "-q", "-b", "18.0", cwd=repo)
    write_odoo_tree(repo, 18)
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "first", cwd=repo)
    (repo / "README.md").write_text("fake odoo\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "second", cwd=repo)
    git("checkout", "-q", "-b", "17.0", cwd=repo)
    write_odoo_tree(repo, 17)
    git("commit", "-q", "-am", "seventeen", cwd=repo)
    git("checkout", "-q", "18.0", cwd=repo)
    return repo


def run_lib(script, env=None, state_dir=None, **kw):
    """Source lib.sh in bash and run script; only the variables given (plus PATH, HOME) reach it."""
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C"}
    if state_dir is not None:
        base["SALESJET_STATE_DIR"] = str(state_dir)
    return subprocess.run(
        ["bash", "-c", f'source "$1"\n{script}', "bash", str(LIB)],
        env={**base, **(env or {})}, capture_output=True, text=True, timeout=120, **kw)


def ensure(odoo_path, url, tmp_path, ref=None, extra=None):
    env = {"ODOO_PATH": str(odoo_path), "ODOO_GIT_URL": str(url), **(extra or {})}
    if ref:
        env["ODOO_GIT_REF"] = ref
    return run_lib('ensure_odoo\ncheck_odoo\necho "ODOO_PATH=$ODOO_PATH"', env,
                   state_dir=tmp_path / "state")


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("as_url", [False, True], ids=["plain-path", "file-url"])
def test_clone_when_missing(fake_repo, tmp_path, as_url):
    target = tmp_path / "odoo18"
    url = f"file://{fake_repo}" if as_url else fake_repo
    result = ensure(target, url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (target / "odoo-bin").is_file()
    assert (target / "odoo" / "addons" / "base" / "__init__.py").is_file()
    assert (target / "requirements.txt").is_file()
    assert "version_info = (18, 0" in (target / "odoo" / "release.py").read_text()
    # the message says where Odoo was put
    assert f"into {target}" in result.stderr
    assert f"now in {target}" in result.stderr
    assert f"ODOO_PATH={target}" in result.stdout
    # shallow, one branch, even from a plain local path (git ignores --depth there without file://)
    shallow = subprocess.run(["git", "-C", str(target), "rev-parse", "--is-shallow-repository"],
                             capture_output=True, text=True).stdout.strip()
    assert shallow == "true"
    branches = subprocess.run(["git", "-C", str(target), "branch", "-r"],
                              capture_output=True, text=True).stdout
    assert "17.0" not in branches
    # no temporary folder left next to it
    assert leftovers(tmp_path) == ["odoo18", "state"] or leftovers(tmp_path) == ["odoo18"]


def test_clone_into_empty_folder(fake_repo, tmp_path):
    target = tmp_path / "odoo18"
    target.mkdir()
    result = ensure(target, fake_repo, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (target / "odoo-bin").is_file()


def test_relative_path_made_absolute(fake_repo, tmp_path):
    env = {"ODOO_PATH": "rel/odoo18", "ODOO_GIT_URL": str(fake_repo)}
    result = run_lib('ensure_odoo\ncheck_odoo\necho "ODOO_PATH=$ODOO_PATH"', env,
                     state_dir=tmp_path / "state", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"ODOO_PATH={tmp_path}/rel/odoo18" in result.stdout


def test_no_clone_when_present(tmp_path):
    target = tmp_path / "odoo18"
    write_odoo_tree(target, 18)
    # an unreachable URL: any clone attempt would fail
    result = ensure(target, tmp_path / "no-such-repo", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "fetching" not in result.stderr
    assert not (target / ".git").exists()


def test_refuses_non_odoo_folder(fake_repo, tmp_path):
    target = tmp_path / "odoo18"
    target.mkdir()
    (target / "notes.txt").write_text("mine\n")
    result = ensure(target, fake_repo, tmp_path)
    assert result.returncode != 0
    assert "is not empty and holds no Odoo" in result.stderr
    assert leftovers(target) == ["notes.txt"]
    assert "fetching" not in result.stderr


def test_refuses_present_17_tree(tmp_path):
    target = tmp_path / "odoo17"
    write_odoo_tree(target, 17)
    result = ensure(target, tmp_path / "no-such-repo", tmp_path)
    assert result.returncode != 0
    assert "is not 18.0" in result.stderr


def test_refuses_fetched_17(fake_repo, tmp_path):
    target = tmp_path / "odoo18"
    result = ensure(target, fake_repo, tmp_path, ref="17.0")
    assert result.returncode != 0
    assert "is not an Odoo 18.0 source tree" in result.stderr
    # the wrong tree is not put in place
    assert not target.exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("url", ["{tmp}/no-such-repo", "file://{tmp}/no-such-repo.git",
                                 "http://127.0.0.1:9/odoo.git"])
def test_unreachable_url(tmp_path, url):
    url = url.format(tmp=tmp_path)
    target = tmp_path / "odoo18"
    result = ensure(target, url, tmp_path)
    assert result.returncode != 0
    ours = [line for line in result.stderr.splitlines() if "[salesjet]" in line]
    assert len(ours) == 2  # "fetching ..." then the one sentence
    sentence = ours[-1]
    assert "Could not fetch Odoo" in sentence
    assert "ODOO_PATH" in sentence and "ODOO_GIT_URL" in sentence
    # apart from ours, only git's own short message (no trace of the script's lines)
    others = [line for line in result.stderr.splitlines() if line.strip() and "[salesjet]" not in line]
    git_advice = {"Please make sure you have the correct access rights", "and the repository exists."}
    assert others and all(line.startswith("fatal: ") or line in git_advice for line in others), result.stderr
    assert len(others) <= 4, result.stderr
    assert not target.exists()
    assert leftovers(tmp_path) == []


def test_unknown_branch(fake_repo, tmp_path):
    target = tmp_path / "odoo18"
    result = ensure(target, fake_repo, tmp_path, ref="16.0")
    assert result.returncode != 0
    assert "Could not fetch Odoo 16.0" in result.stderr
    assert not target.exists()


def fake_git(tmp_path, body):
    """A `git` first on PATH that writes half an Odoo tree into the clone target, then `body`."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "git"
    script.write_text(textwrap.dedent(f"""\
        #!/usr/bin/env bash
        dest="${{@: -1}}"
        mkdir -p "$dest/odoo/addons/base"
        touch "$dest/odoo-bin"
        touch {tmp_path}/started
        {body}
        """))
    script.chmod(0o755)
    return {"PATH": f"{bindir}:{os.environ['PATH']}"}


def test_killed_clone_leaves_no_odoo_path(fake_repo, tmp_path):
    """git killed hard half-way (no cleanup of its own): ODOO_PATH stays absent."""
    work = tmp_path / "work"
    work.mkdir()
    target = work / "odoo18"
    extra = fake_git(tmp_path, "kill -9 $$")
    result = ensure(target, fake_repo, tmp_path, extra=extra)
    assert result.returncode != 0
    assert "Could not fetch Odoo" in result.stderr
    assert not target.exists()
    assert leftovers(work) == []


def test_stale_partial_clone_is_replaced(fake_repo, tmp_path):
    """What a run killed with SIGKILL left beside ODOO_PATH goes on the next run."""
    target = tmp_path / "odoo18"
    stale = tmp_path / ".odoo18.partial"
    (stale / "odoo").mkdir(parents=True)
    (stale / "junk").write_text("")
    result = ensure(target, fake_repo, tmp_path)
    assert result.returncode == 0, result.stderr
    assert (target / "odoo-bin").is_file()
    assert not (target / "junk").exists()
    assert not stale.exists()


def _default_signals():
    # a shell cannot trap a signal ignored when it starts, and a suite started in the background
    # (``cmd &`` in a script) ignores SIGINT: the interrupted shell is given the terminal's defaults
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_clone_leaves_no_odoo_path(fake_repo, tmp_path, sig):
    """Ctrl+C (or a TERM) during the clone: no ODOO_PATH, no half tree beside it."""
    work = tmp_path / "work"
    work.mkdir()
    target = work / "odoo18"
    # the process that will take the signal says it is ready itself: a signal sent while the fake
    # git's bash was still between its commands (before an exec) raced with it under load
    ready = tmp_path / "ready"
    waiter = f"exec {sys.executable} -c 'import pathlib, time; pathlib.Path(\"{ready}\").touch(); time.sleep(60)'"
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
           "SALESJET_STATE_DIR": str(tmp_path / "state"),
           "ODOO_PATH": str(target), "ODOO_GIT_URL": str(fake_repo),
           **fake_git(tmp_path, waiter)}
    proc = subprocess.Popen(["bash", "-c", 'source "$1"; ensure_odoo; check_odoo', "bash", str(LIB)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_default_signals)
    deadline = time.time() + 120
    while not ready.exists():
        assert time.time() < deadline and proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    assert (work / ".odoo18.partial" / "odoo-bin").exists()
    os.killpg(proc.pid, sig)  # as a terminal does: the whole process group
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not target.exists()
    assert leftovers(work) == []


def test_default_not_writable_falls_back_to_state_dir(fake_repo, tmp_path):
    """ODOO_PATH unset and its default out of reach: Odoo goes to $STATE_DIR/odoo, and says so;
    the next run finds it there without fetching again."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    state = tmp_path / "state"
    # the default is /opt/odoo18; here one that cannot be created (its parent is a file)
    script = f'ODOO_PATH={blocker}/odoo18\nensure_odoo\ncheck_odoo\necho "ODOO_PATH=$ODOO_PATH"'
    result = run_lib(script, {"ODOO_GIT_URL": str(fake_repo)}, state_dir=state)
    assert result.returncode == 0, result.stderr
    assert f"goes to {state}/odoo instead" in result.stderr
    assert f"ODOO_PATH={state}/odoo" in result.stdout
    assert (state / "odoo" / "odoo-bin").is_file()
    again = run_lib(script, {"ODOO_GIT_URL": str(tmp_path / "no-such-repo")}, state_dir=state)
    assert again.returncode == 0, again.stderr
    assert "fetching" not in again.stderr
    assert f"using the Odoo fetched earlier in {state}/odoo" in again.stderr


def test_user_path_not_writable_is_refused(fake_repo, tmp_path):
    """ODOO_PATH set by the user is never replaced by the fallback."""
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = ensure(blocker / "odoo18", fake_repo, tmp_path)
    assert result.returncode != 0
    assert "Cannot create ODOO_PATH" in result.stderr
    assert not (tmp_path / "state" / "odoo").exists()
