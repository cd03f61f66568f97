"""``python -m benchmarks``: run them all (see ``run_all``)."""

from benchmarks.run_all import main

main()
