"""The IPVS guest: on the host only ``test_in_guest.py`` is collected; it boots the guest once and
runs ``tests/vm/guest/`` in there (those tests need a kernel with IPVS and skip elsewhere)."""

import os

IN_GUEST = os.environ.get("VMRUN_GUEST") == "1"

collect_ignore = [] if IN_GUEST else ["guest"]
