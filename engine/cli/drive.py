"""Running a Job from the command line: a worker thread, Ctrl+C / SIGTERM as cancel."""

from __future__ import annotations

import argparse
import sys
import threading

from engine.cli.format import results_table
from engine.job import Job, JobResult
from engine.shrink import shrink_text
from engine.store import Workspace, default_workspace


def run_in_thread(job: Job) -> JobResult:
    """Run `job` in a worker thread; Ctrl+C (or SIGTERM) cancels it and waits for the end.

    The entry point `engine.cli.main()` makes SIGINT and SIGTERM raise KeyboardInterrupt.

    The main thread waits on an Event, never on Thread.join(): on Python <= 3.12 a join
    interrupted by Ctrl+C can mark a still running thread as finished.
    """
    done = threading.Event()
    box: list[JobResult] = []

    def work() -> None:
        try:
            box.append(job.run())
        except BaseException as exc:  # Job.run reports failures itself; this is a last guard
            box.append(JobResult("failed", job.run_id, error=f"{type(exc).__name__}: {exc}"))
        finally:
            done.set()

    threading.Thread(target=work, name="workbench-job", daemon=True).start()
    told = False
    while not done.is_set():
        try:
            done.wait(0.2)
        except KeyboardInterrupt:
            print("\n" + ("still cancelling: waiting for the current step to end (kill the "
                          "process to stop at once; the run then shows as crashed)" if told
                          else "cancelling at the next batch boundary..."), file=sys.stderr)
            told = True
            job.cancel()
    return box[0]


def drive(job: Job, args: argparse.Namespace) -> int:
    """Run the job, Ctrl+C cancelling it cleanly; print the outcome; return the exit code."""
    return outcome(run_in_thread(job), args)


def outcome(result: JobResult, args: argparse.Namespace) -> int:
    """Print how the job ended (the results table when it finished); its exit code."""
    if result.status == "cancelled":
        what = f"run {result.run_id}" if result.run_id else "the job (before its run was registered)"
        print(f"{what} cancelled", file=sys.stderr)
        return 130
    if not result.ok:
        print(f"error: {result.error}", file=sys.stderr)
        return 2 if result.run_id is None else 1
    if not args.events_json:
        ws = Workspace(args.workspace or default_workspace())
        rows = [ws.get(i) for i in (result.parent_id, result.run_id) if i]
        print(results_table(rows))
        if result.card.get("shrink"):
            print("\n" + shrink_text(result.card["shrink"]))
        for warning in result.card.get("warnings") or []:
            print(f"warning: {warning}")
        print(f"\nrun id: {result.run_id}   folder: {ws.run_dir(result.run_id)}")
    return 0
