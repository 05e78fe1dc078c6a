"""Run a split decision for real: the edge part and the server part of a model in two capped
containers, joined by a shaped TCP link, and the measurement set against the prediction.

Modules, one job each (only `net` and `worker` import torch; they run inside the job image):

    plan.py         what a run is: models, plan segments, phases, link settings (pydantic)
    wire.py         length-prefixed frames of a JSON header and raw tensor bytes over TCP
    bucket.py       the application-level token bucket (when tc cannot shape the link)
    link.py         a socket with reader and writer threads; the writer paces data frames
    net.py          the model on one side: seeded weights, the chain of stages, inputs (torch)
    worker.py       the in-container edge / server process (torch)
    shaping.py      tc tbf on the host side of each container's veth
    orchestrate.py  Docker network, the two containers, the phase handshake, cleanup
    summary.py      worker records -> per-phase results (latency, throughput, stage shares)
    compare.py      predicted vs measured (pure)
    decision.py     a solution JSON (split or pipeline) -> a session to run
    validate.py     a decision's predictions against its run's measurements
    render.py       rich tables
"""
