"""``-t`` against the running kernel: missing scheduler / persistence-engine modules, old kernels for tunnels."""

from pathlib import Path

from fastalived.config import parse_string
from fastalived.runtime.ipvs_kernel import audit, ipvs_modules

RELEASE = "5.2.9-test"
CONFIG = """
virtual_server 198.51.100.1 80 {
    protocol TCP
    lvs_sched mh
    persistence_timeout 60
    persistence_engine sip
    lvs_method TUN type gre csum
    real_server 203.0.113.1 80 {
    }
    real_server 203.0.113.2 80 {
        lvs_method TUN type gue port 6080
    }
}
virtual_server 198.51.100.2 80 {
    protocol TCP
    lvs_sched rr
    real_server 203.0.113.1 80 {
    }
}
"""


def kernel_tree(root: Path, *modules: str, builtin: tuple[str, ...] = ()) -> Path:
    directory = root / "lib/modules" / RELEASE
    directory.mkdir(parents=True)
    (directory / "modules.dep").write_text(
        "".join(f"kernel/net/netfilter/ipvs/{name}.ko.xz:\n" for name in modules)
    )
    (directory / "modules.builtin").write_text("".join(f"kernel/net/netfilter/ipvs/{name}.ko\n" for name in builtin))
    return root


def test_missing_modules_and_too_old_tunnels_are_warnings(tmp_path: Path) -> None:
    config = parse_string(CONFIG).config
    root = kernel_tree(tmp_path, "ip_vs_rr", "ip_vs_wlc", builtin=("ip_vs",))
    messages = [(d.keyword, d.message) for d in audit(config, RELEASE, root)]
    assert messages == [
        ("lvs_sched", f"scheduler 'mh': this kernel ({RELEASE}) has no ip_vs_mh"),
        ("persistence_engine", f"persistence engine 'sip': this kernel ({RELEASE}) has no ip_vs_pe_sip"),
        ("lvs_method", f"gre tunnels need Linux 5.3; this kernel is {RELEASE}"),
    ]  # gue is fine on 5.2; the rr service is fine
    assert all(d.severity == "warning" for d in audit(config, RELEASE, root))


def test_silent_without_ipvs_or_without_a_module_list(tmp_path: Path) -> None:
    config = parse_string(CONFIG).config
    assert audit(config, RELEASE, tmp_path) == []  # no /lib/modules here (a container)
    assert ipvs_modules(RELEASE, kernel_tree(tmp_path, "ip_vs_rr")) is None  # modules list without ip_vs itself
    loaded = tmp_path / "other"
    (loaded / "sys/module/ip_vs").mkdir(parents=True)
    (loaded / "sys/module/ip_vs_mh").mkdir()
    assert ipvs_modules("6.1.0", loaded) == {"ip_vs", "ip_vs_mh"}  # loaded modules count too
