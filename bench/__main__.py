"""`python -m bench` is `make bench`: see bench/run.py and bench/README.md."""

from bench.run import main

main()
