import sys

from aliasfree.cli import main

sys.exit(main())
