"""`python -m harness.cli`: the same command as `harness`."""

from harness.cli import main

if __name__ == "__main__":
    main()
