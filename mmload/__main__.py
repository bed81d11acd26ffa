import sys

from mmload.cli import main

sys.exit(main())
