"""``python fake_daemon.py OPTIONS_JSON``: the real supervisor, with the fake roles in its children."""

import sys

from daemon_harness import ROLE_CLASSES

from fastalived.daemon.child import decode_options
from fastalived.daemon.supervisor import run

if __name__ == "__main__":
    sys.exit(run(decode_options(sys.argv[1]), role_classes=ROLE_CLASSES))
