"""What a long-lived kernel holds survives an edit: a pandas frame loaded at import time, a
numpy model trained once, closures made by a factory with their cells, a thread calling
module functions while edits land, a logger's handlers and ``atexit`` registrations.

The scenario model is in ``scenarios.py``; the marks are as in ``test_app_frameworks.py``.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
from collections.abc import Callable

# Imported before any test: numpy's extension cannot be loaded twice in one process.
import numpy as np
import pandas as pd
import pytest

from tests.conftest import Project
from tests.realworld.scenarios import (
    Mods,
    Scenario,
    apply_edit,
    check_fresh_import,
    edited,
    modes,
    reload_with,
    start,
)

pytestmark = pytest.mark.slow

SCENARIOS: dict[str, Scenario] = {}


# -- pandas and numpy: data loaded once, models trained once ----------------------------------

COUNTERS = """
CALLS = []
"""
PIPELINE = """
import numpy as np
import pandas as pd

import counters


def load():
    counters.CALLS.append("load")  # stands for a minute of reading files
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"city": rng.choice(["north", "south", "east"], 500), "sales": rng.integers(0, 100, 500)}
    )


RAW = load()


def clean(df):
    return df[df.sales > 10]


def summarize(df):
    return clean(df).groupby("city").sales.sum()


REPORT = summarize(RAW)
"""


def _expect_pipeline(m: Mods) -> None:
    pipeline = m["pipeline"]
    raw = pipeline.RAW
    pd.testing.assert_series_equal(pipeline.REPORT, raw[raw.sales > 50].groupby("city").sales.sum())
    assert m["counters"].CALLS == ["load"]


SCENARIOS["pandas_pipeline"] = Scenario(
    {"counters.py": COUNTERS, "pipeline.py": PIPELINE},
    {"pipeline.py": edited(PIPELINE, ("df.sales > 10", "df.sales > 50"))},
    "pipeline",
    _expect_pipeline,
)


@modes(
    module_cannot="a whole re-execution runs `RAW = load()` again (that is what re-running "
    "the module means)"
)
def test_pandas_pipeline_transform_edited_without_reloading_the_data(
    project: Project, mode: str
) -> None:
    sc = SCENARIOS["pandas_pipeline"]
    m = start(project, sc)
    raw, summarize = m.RAW, m.summarize
    raw.loc[0, "sales"] = 99  # the user fixed a row in the kernel
    apply_edit(project, mode, sc)
    sc.expect(sys.modules)
    assert m.RAW is raw and m.RAW.loc[0, "sales"] == 99
    assert summarize(raw).equals(raw[raw.sales > 50].groupby("city").sales.sum())


MODEL = """
import numpy as np

import counters


class LinearModel:
    def __init__(self):
        self.coef_ = None

    def fit(self, X, y):
        counters.CALLS.append("fit")  # stands for an hour of training
        self.coef_, *_ = np.linalg.lstsq(X, y, rcond=None)
        return self

    def predict(self, X):
        return X @ self.coef_


def train():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 3))
    return LinearModel().fit(X, X @ np.array([1.0, -2.0, 0.5]))


TRAINED = train()
"""
_PROBE = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.1, 0.1, 0.1]])


def _expect_model(m: Mods) -> None:
    model = m["model"].TRAINED
    np.testing.assert_allclose(model.coef_, [1.0, -2.0, 0.5], atol=1e-9)
    np.testing.assert_allclose(model.predict(_PROBE), [1.0, -1.0, -0.05], atol=1e-9)
    assert m["counters"].CALLS == ["fit"]


SCENARIOS["numpy_model"] = Scenario(
    {"counters.py": COUNTERS, "model.py": MODEL},
    {"model.py": edited(MODEL, ("return X @ self.coef_", "return np.clip(X @ self.coef_, -1, 1)"))},
    "model",
    _expect_model,
)


@modes(
    module_cannot="a whole re-execution runs `TRAINED = train()` again (that is what "
    "re-running the module means)",
)
def test_numpy_model_keeps_its_trained_state_and_runs_the_new_method(
    project: Project, mode: str
) -> None:
    sc = SCENARIOS["numpy_model"]
    m = start(project, sc)
    trained, Model = m.TRAINED, m.LinearModel
    mine = Model().fit(_PROBE, np.array([30.0, 30.0, 3.0]))  # trained by hand in the kernel
    coef = mine.coef_
    apply_edit(project, mode, sc)
    sys.modules["counters"].CALLS.remove("fit")  # the hand-made fit, not an import's
    sc.expect(sys.modules)
    assert m.TRAINED is trained and m.LinearModel is Model and isinstance(mine, m.LinearModel)
    assert mine.coef_ is coef
    np.testing.assert_allclose(mine.predict(_PROBE), [1.0, 1.0, 1.0])


# -- closures made by a factory (SPEC §1.5 rule 1) ---------------------------------------------

HANDLERS = """
import counters


def make_handler(prefix):
    counters.CALLS.append(prefix)
    seen = []

    def handle(event):
        seen.append(event)
        return f"{prefix}:{event}:{len(seen)}"

    return handle


DEFAULT = make_handler("default")
"""


def _expect_handlers(m: Mods) -> None:
    handlers = m["handlers"]
    assert handlers.DEFAULT("a").startswith("DEFAULT:a:")
    assert handlers.make_handler("x")("e") == "X:e:1"
    assert m["counters"].CALLS[0] == "default" and m["counters"].CALLS.count("default") == 1


SCENARIOS["closures"] = Scenario(
    {"counters.py": COUNTERS, "handlers.py": HANDLERS},
    {"handlers.py": edited(HANDLERS, ('f"{prefix}:', 'f"{prefix.upper()}:'))},
    "handlers",
    _expect_handlers,
)


@modes(
    module_cannot="re-running the module runs `DEFAULT = make_handler(...)` again, and the "
    "closures made before the edit are in no module namespace to be mapped",
)
def test_closures_made_by_a_factory_run_the_new_inner_body(project: Project, mode: str) -> None:
    sc = SCENARIOS["closures"]
    m = start(project, sc)
    default, audit = m.DEFAULT, m.make_handler("audit")
    assert audit("a") == "audit:a:1" and audit("b") == "audit:b:2" and default("z")
    apply_edit(project, mode, sc)
    assert audit("c") == "AUDIT:c:3"  # new code, same cells
    assert m.DEFAULT is default and default("y") == "DEFAULT:y:2"
    assert sys.modules["counters"].CALLS == ["default", "audit"]
    sc.expect(sys.modules)


# -- a thread calling module functions while edits land ---------------------------------------

POLLER = """
def sample(i):
    return ("v1", i)


def tick(i):
    return sample(i)[0]
"""


def _expect_poller(m: Mods) -> None:
    assert m["poller"].sample(1) == ("v3", 1) and m["poller"].tick(2) == "v3"


SCENARIOS["thread"] = Scenario(
    {"poller.py": POLLER},
    {"poller.py": edited(POLLER, ('"v1"', '"v3"'))},
    "poller",
    _expect_poller,
)


@modes()
def test_a_running_thread_picks_up_each_edit(project: Project, mode: str) -> None:
    sc = SCENARIOS["thread"]
    m = start(project, sc)
    sample, tick = m.sample, m.tick  # what the thread holds, as a `from poller import ...`
    versions: list[str] = []  # each version the thread's calls returned, in order, once
    errors: list[BaseException] = []
    stop = threading.Event()

    def loop() -> None:
        i = 0
        while not stop.is_set():
            try:
                for version in (sample(i)[0], tick(i)):
                    if not versions or versions[-1] != version:
                        versions.append(version)
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)
                return
            i += 1
            stop.wait(0.0005)  # a loop with work to do: it lets the reloading thread run

    worker = threading.Thread(target=loop, name="poller", daemon=True)
    worker.start()
    try:
        _wait_for(lambda: versions == ["v1"], "the thread to start")
        for version in ("v2", "v3"):
            reload_with(project, mode, "poller.py", edited(POLLER, ('"v1"', f'"{version}"')))
            _wait_for(lambda v=version: versions[-1] == v, f"the thread to run {version}")
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive() and not errors, errors
    assert versions == ["v1", "v2", "v3"], "a call ran older code after newer code"
    sc.expect(sys.modules)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)  # polling with a deadline, not synchronising on time


# -- process-wide registrations: logging handlers, atexit -------------------------------------

JOBS = """
import atexit
import io
import logging

STREAM = io.StringIO()
log = logging.getLogger("hotreload_realworld_jobs")
log.setLevel(logging.INFO)
log.addHandler(logging.StreamHandler(STREAM))
STATS = {"runs": 0}


@atexit.register
def flush():
    log.info("flushed v1 after %d runs", STATS["runs"])


def run_job(x):
    STATS["runs"] += 1
    log.info("job v1 %s", x)
    return x * 2
"""
_atexit_before: list[int] = []


def _count_atexit() -> None:
    _atexit_before[:] = [atexit._ncallbacks()]  # CPython's count of registered callbacks


def _expect_jobs(m: Mods) -> None:
    jobs = m["jobs"]
    assert len(logging.getLogger("hotreload_realworld_jobs").handlers) == 1
    assert atexit._ncallbacks() == _atexit_before[0] + 1
    start = len(jobs.STREAM.getvalue())
    assert jobs.run_job(2) == 6
    jobs.flush()
    logged = jobs.STREAM.getvalue()[start:]
    assert logged == f"job v2 2\nflushed v2 after {jobs.STATS['runs']} runs\n"


def _forget_jobs(m: Mods) -> None:
    logging.getLogger("hotreload_realworld_jobs").handlers.clear()
    if "jobs" in m:
        atexit.unregister(m["jobs"].flush)


SCENARIOS["logging_atexit"] = Scenario(
    {"jobs.py": JOBS},
    {
        "jobs.py": edited(
            JOBS, ("flushed v1", "flushed v2"), ("job v1", "job v2"), ("x * 2", "x * 3")
        )
    },
    "jobs",
    _expect_jobs,
    cleanup=_forget_jobs,
    before_import=_count_atexit,
)


@modes(
    module_cannot="re-running the module adds a second handler to the (process-wide) "
    "logger and registers flush with atexit again (that is what re-running it means)"
)
def test_logging_handlers_and_atexit_registrations_do_not_double(
    project: Project, mode: str
) -> None:
    sc = SCENARIOS["logging_atexit"]
    m = start(project, sc)
    try:
        stats, stream, run_job = m.STATS, m.STREAM, m.run_job
        run_job(1)
        apply_edit(project, mode, sc)
        sc.expect(sys.modules)
        assert m.STATS is stats and stats["runs"] == 2 and m.STREAM is stream
        assert run_job(5) == 15 and stream.getvalue().startswith("job v1 1\njob v2 2\n")
    finally:
        _forget_jobs(sys.modules)


# -- every expectation, on a fresh import of the edited text -----------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_expectations_hold_on_a_fresh_import(project: Project, name: str) -> None:
    check_fresh_import(project, SCENARIOS[name])
