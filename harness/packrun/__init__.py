"""Run a packing decision for real: one server's placed jobs at the same time, each in its own
container with the CPUs (disjoint cores), memory and GPUs it was given, then each alone at the
same caps; predicted vs measured images/s and the co-location slowdown (together / alone).

Modules, one job each (the docker SDK is the backend's; nothing here imports torch):

    plan.py      a packing solution -> the server to run and its jobs (caps, job spec, the
                 prediction); the one-line refusals (no server fits, cores would be shared)
    measure.py   per-batch records -> a job's images/s over the batches all jobs overlapped
    run.py       the containers: together on a lease of disjoint cores, then each alone
    result.py    the result (pydantic): per job predicted vs measured, slowdown, the factor
    render.py    the table and the problem line to paste
"""
