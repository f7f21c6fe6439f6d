import sys

from epatrol.cli import main

sys.exit(main())
