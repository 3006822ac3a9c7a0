"""Batches on a Dask cluster (``--cluster`` / ``--workers``); skipped without dask.distributed."""

import numpy as np
import pytest

from nircolor import cluster as cluster_module
from nircolor.batch import DONE, FAILED, Options, plan, run_batch
from nircolor.io import write_image

from .helpers import has, requires
from .helpers.cli import run_cli as run

if has("distributed"):
    import distributed

pytestmark = requires("distributed")  # every test here runs a Dask cluster


@pytest.fixture(scope="module")
def scheduler():
    """A LocalCluster of 2 worker processes, one thread each, shared by this module."""
    with cluster_module.start_local_cluster(2) as local, distributed.Client(local) as client:
        client.wait_for_workers(2, timeout=60)
        yield local.scheduler_address


@pytest.fixture
def inputs(tmp_path):
    """Six small NIR images in two folders and one broken file."""
    root = tmp_path / "in"
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c", "sub/d", "sub/e", "sub/f"):
        write_image(root / f"{name}.png", rng.random((20, 28)).astype(np.float32))
    (root / "sub" / "broken.png").write_text("not an image")
    return root


def files(folder):
    return {
        p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def summary_line(err):
    return next(line for line in err.splitlines() if " done, " in line)


def test_cluster_outputs_are_byte_identical_to_a_local_run(
    monkeypatch, capsys, scheduler, inputs, tiny_model, tmp_path
):
    local, remote = tmp_path / "local", tmp_path / "remote"
    code, _, local_err = run(monkeypatch, capsys, "colorize", inputs, "-o", local, "-m", tiny_model)
    assert code == 1
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        inputs,
        "-o",
        remote,
        "-m",
        tiny_model,
        "--cluster",
        scheduler,
    )
    assert code == 1
    assert summary_line(err) == summary_line(local_err) == "6 done, 0 skipped, 1 failed"
    assert "broken.png: not an image" in err and "Traceback" not in err
    local_files, remote_files = files(local), files(remote)
    assert sorted(remote_files) == [
        "a.png",
        "b.png",
        "c.png",
        "sub/d.png",
        "sub/e.png",
        "sub/f.png",
    ]
    assert {k: v[1] for k, v in remote_files.items()} == {k: v[1] for k, v in local_files.items()}

    # Resume on the cluster: nothing is recomputed.
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        inputs,
        "-o",
        remote,
        "-m",
        tiny_model,
        "--cluster",
        scheduler,
        "--skip-existing",
    )
    assert code == 1
    assert summary_line(err) == "0 done, 6 skipped, 1 failed"
    assert files(remote) == remote_files


def test_loaded_model_object_and_workers_option(scheduler, inputs, tiny_model, tmp_path):
    from nircolor.api import get_model

    jobs = plan([inputs], tmp_path / "local")
    local = run_batch(jobs, str(tiny_model), Options())
    # A model object is sent to the workers (no path needed on their side).
    remote_jobs = plan([inputs], tmp_path / "remote")
    seen = []
    remote = run_batch(
        remote_jobs, get_model(tiny_model), Options(), on_result=seen.append, cluster=scheduler
    )
    assert [o.status for o in remote.outcomes] == [o.status for o in local.outcomes]
    assert sorted(o.job.source for o in seen) == sorted(j.source for j in remote_jobs)
    assert remote.line() == local.line() == "6 done, 0 skipped, 1 failed"
    for a, b in zip(local.outcomes, remote.outcomes, strict=True):
        if a.status == DONE:
            assert a.job.target.read_bytes() == b.job.target.read_bytes()
        else:
            assert a.status == b.status == FAILED


def test_local_workers_from_the_command_line(monkeypatch, capsys, inputs, tiny_model, tmp_path):
    out = tmp_path / "out"
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        inputs / "sub",
        "-o",
        out,
        "-m",
        tiny_model,
        "--workers",
        "2",
    )
    assert code == 1
    assert summary_line(err) == "3 done, 0 skipped, 1 failed"
    assert sorted(files(out)) == ["d.png", "e.png", "f.png"]


def test_cluster_errors_are_one_line(monkeypatch, capsys, inputs, tiny_model, tmp_path):
    out = tmp_path / "out"
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        inputs,
        "-o",
        out,
        "-m",
        tmp_path / "nope",
        "--workers",
        "2",
    )
    assert code == 1 and "unknown model" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        inputs,
        "-o",
        out,
        "-m",
        tiny_model,
        "--workers",
        "2",
        "--cluster",
        "tcp://127.0.0.1:1",
    )
    assert code == 1 and "exclude each other" in err
    monkeypatch.setattr(cluster_module, "CONNECT_TIMEOUT", "1s")
    code, _, err = run(
        monkeypatch,
        capsys,
        "colorize",
        inputs,
        "-o",
        out,
        "-m",
        tiny_model,
        "--cluster",
        "tcp://127.0.0.1:1",
    )
    assert code == 1 and "cannot reach the Dask scheduler" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--cluster", "garbage", "not a Dask scheduler address"),
        ("--cluster", "", "not a Dask scheduler address"),
        ("--cluster", "http://h:1", "not a Dask scheduler address"),
        ("--cluster", "tcp://h:99999", "not a Dask scheduler address"),
        ("--workers", "100000", "--workers must be 1 to 64"),
    ],
)
def test_bad_cluster_options_fail_on_one_line_before_any_work(
    monkeypatch, capsys, inputs, tmp_path, option, value, message
):
    out = tmp_path / "out"
    code, _, err = run(monkeypatch, capsys, "colorize", inputs, "-o", out, option, value)
    assert code == 1 and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_local_workers_log_nothing_below_critical(monkeypatch):
    # A worker's heartbeat meeting the closed scheduler at shutdown logged a CommClosedError
    # traceback (an ERROR) on stderr after a successful run.
    import logging

    made = {}
    monkeypatch.setattr(distributed, "LocalCluster", lambda **kwargs: made.update(kwargs))
    cluster_module.start_local_cluster(2)
    assert made["silence_logs"] == logging.CRITICAL and made["n_workers"] == 2
