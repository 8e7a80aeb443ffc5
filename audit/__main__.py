"""`python -m audit`: run the root access key audit (CIS 1.4, Security Hub IAM.4) from the command line."""

import sys

from audit.cli import main

sys.exit(main())
