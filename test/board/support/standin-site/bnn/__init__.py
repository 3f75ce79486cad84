# Stand-in for BNN-PYNQ's bnn package (same import surface as Xilinx/BNN-PYNQ bnn/__init__.py).
from .bnn import PynqBNN, LfcClassifier, CnvClassifier, RUNTIME_HW, RUNTIME_SW
from .bnn import NETWORK_CNVW1A1, NETWORK_CNVW1A2, NETWORK_CNVW2A2, NETWORK_LFCW1A1, NETWORK_LFCW1A2, available_params

__version__ = 0.1
