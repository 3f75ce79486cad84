import sys

from bnn_train.cli import main

sys.exit(main())
