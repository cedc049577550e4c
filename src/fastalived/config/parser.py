"""keepalived.conf parser: the lexer's statement tree -> the frozen model, with keepalived's rules.

Each section lives in its own module with its keyword tables as data (``parse_global``,
``parse_static``, ``parse_vrrp``, ``parse_virtual_server``; the shared converters and the block
walker are in ``parse_core``). Values are collected into dicts and the model objects are built once
every section is read, which is where inheritance (virtual_server -> real_server -> checker,
global_defs -> vrrp_instance) and cross-references (track_script, sync groups, VRIDs) are
resolved. Problems never raise: they become diagnostics and parsing carries on with the default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from fastalived.config import model as m
from fastalived.config import (
    parse_bfd,
    parse_checkers,
    parse_garp_group,
    parse_global,
    parse_links,
    parse_rules,
    parse_static,
    parse_track_process,
    parse_virtual_server,
    parse_vrrp,
)
from fastalived.config.diagnostics import Reporter
from fastalived.config.keywords import ignored_at
from fastalived.config.lexer import Stmt
from fastalived.config.parse_core import ParseState

TOP_LEVEL_IGNORED = ignored_at("")
# Top-level keyword -> the section handler that reads its block.
SECTIONS: dict[str, Callable[[ParseState, Stmt], None]] = {
    "global_defs": parse_global.global_defs,
    "static_ipaddress": parse_static.static_ipaddress,
    "static_routes": parse_static.static_routes,
    "static_rules": parse_rules.static_rules,
    "net_namespace": parse_global.net_namespace,
    "instance": parse_global.instance,
    "use_pid_dir": parse_global.use_pid_dir,
    "vrrp_script": parse_vrrp.vrrp_script,
    "vrrp_sync_group": parse_vrrp.vrrp_sync_group,
    "vrrp_instance": parse_vrrp.vrrp_instance,
    "virtual_server_group": parse_virtual_server.virtual_server_group,
    "virtual_server": parse_virtual_server.virtual_server,
    "SSL": parse_global.ssl,
    "track_file": parse_checkers.track_file,
    "vrrp_track_file": parse_checkers.track_file,
    "bfd_instance": parse_bfd.bfd_instance,
    "vrrp_track_process": parse_track_process.vrrp_track_process,
    "interface_up_down_delays": parse_links.interface_up_down_delays,
    "linkbeat_interfaces": parse_links.linkbeat_interfaces,
    "linkbeat_use_polling": parse_links.linkbeat_use_polling,
    "garp_group": parse_garp_group.garp_group,
}


class Parser:
    """Turns the statement tree into a :class:`model.Config`, reporting every problem once."""

    def __init__(self, report: Reporter) -> None:
        self.report = report

    def parse(self, root: list[Stmt], files: Iterable[str] = ()) -> m.Config:
        p = ParseState(self.report)
        for st in root:
            section = SECTIONS.get(st.words[0])
            if section is not None:
                section(p, st)
            else:
                p.unknown(st, "", (SECTIONS,), TOP_LEVEL_IGNORED)
        global_defs = parse_global.finish_global_defs(p)
        scripts = parse_vrrp.finish_scripts(p)
        instances = parse_vrrp.finish_instances(p, global_defs, {s.name for s in scripts})
        sync_groups = parse_vrrp.finish_sync_groups(p, {i.name for i in instances}, {s.name for s in scripts})
        virtual_servers = tuple(parse_virtual_server.finish_virtual_server(p, st, v) for st, v in p.virtual_servers)
        return m.Config(
            global_defs=global_defs,
            ssl=p.ssl,
            static_ipaddress=tuple(  # keepalived: an address without dev goes on default_interface
                a if a.dev else dataclasses.replace(a, dev=global_defs.default_interface) for a in p.static_ipaddress
            ),
            static_routes=tuple(p.static_routes),
            static_rules=tuple(p.static_rules),
            vrrp_scripts=scripts,
            vrrp_sync_groups=sync_groups,
            vrrp_instances=instances,
            virtual_server_groups=tuple(p.vs_groups.values()),
            virtual_servers=virtual_servers,
            track_files=tuple(p.track_files.values()),
            bfd_instances=tuple(p.bfd_instances.values()),
            track_processes=tuple(p.track_processes.values()),
            files=tuple(files),
        )
