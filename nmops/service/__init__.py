"""`nmops serve`: the jobs in `jobs/*.yaml` on their cron schedules, one at a time per job,
with their runs recorded, metrics and a health endpoint, SIGTERM and SIGHUP handled."""
