import sys

from localmodel.cli import main

sys.exit(main())
