"""The one home of the test builders; each module makes one kind of thing in code.

    infer_profiles   valid inference profiles and random split instances, no torch
    train_profiles   valid training profiles with a known CPU x memory curve
    timed_profiles   training profiles from measured seconds per batch, and a known law of them
    reports          small profiles shaped like real ones, for the report and export tests
    tiny_infer_job   a tiny inference job spec for CLI tests that run real torch
    split            hand-made split instances and every plan of a small one
    pipeline         random batch-pipeline jobs and the brute-force optimum
    packing          tiny packing problems with a brute-force optimum, instances from profiles
    hybrid           hybrid time matrices and their brute-force optimum, CPU profiles, a problem
    cores            another harness process holding cores on this host (the core ledger)

Builders only, no tests: a test file imports what it needs from here, never from another test.
"""
