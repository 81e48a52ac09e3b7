import sys

from tools.cli.entry import main

sys.exit(main())
