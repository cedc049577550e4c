"""Route announcements for active/active directors behind ECMP (fastalived's own feature).

A virtual server with ``fastalived_announce`` gets a route per prefix in a kernel routing table
(``fastalived_announce_table``, 201 by default) while it is healthy; a routing daemon (FRR's
``ip import-table``/``redistribute table``, BIRD's ``kernel`` protocol) advertises what is there.
:mod:`.core` decides (sans-IO), :mod:`.routes` speaks rtnetlink, :mod:`.announcer` joins the two
in the parent process, which owns the table so announcements fail closed.
"""
