# Stand-in for the PYNQ package on a test "board": only what `bnn-pynq board check` reads.
__version__ = "2.5"
