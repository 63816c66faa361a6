import sys

from prnet.cli import main

sys.exit(main())
