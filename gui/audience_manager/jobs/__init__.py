"""Running a job: plan, runner, journal, and the retry and undo plans built from past jobs."""
