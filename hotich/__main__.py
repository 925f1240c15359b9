import sys

from hotich.cli import main

sys.exit(main())
