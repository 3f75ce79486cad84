"""bnn_train: the project's training entry point for BNN-PYNQ's LFC and CNV networks (python3 -m bnn_train --help).

Theano/Lasagne and BNN-PYNQ's model code (lfc.genLfc, cnv.genCnv, quantized_net) are imported, not copied: see model.py.
Everything that does not need Theano (data loading, the board's decision rule, progress, checkpoints, the npz
layout) lives in small numpy-only modules that Debian's python3 can test on its own (test/python).
"""

VERSION = "0.1.0"
