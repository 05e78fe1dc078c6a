"""Profiles written in the formats other schedulers' simulators read, one module per format:

    gavel     Gavel's throughputs file: worker type x (job type, scale factor) -> steps/s
              (stanford-futuredata/gavel, scheduler/utils.py read_all_throughputs_json_v2)
    synergy   Synergy's per-job CPU x memory throughput table, normalised to the fair share
              (msr-fiddle/synergy, simulator/models/*_1.py ModelStats, jobs/job.py grid)

The per-batch table (CSV or parquet) is harness/export.py. Each writer here is pure: it takes
profiles (or a throughput function) and returns the file's content as a pydantic model or a
plain dict; the command (harness/cli/export.py) reads the profiles and writes the file.
"""
