"""The ``interphase-sim`` command line: argument parsing, printing and writing only."""
