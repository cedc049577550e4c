"""The sysctls the VRRP role sets while running and puts back (on a fake /proc file)."""

from __future__ import annotations

from pathlib import Path

from fastalived.vrrp.sysctl import LocalIgmpReports


def test_disable_local_igmp_turns_reports_off_and_back_on(tmp_path: Path) -> None:
    knob = tmp_path / "igmp_link_local_mcast_reports"
    knob.write_text("1\n")
    reports = LocalIgmpReports(knob)
    reports.disable()
    assert knob.read_text() == "0\n"
    reports.restore()
    assert knob.read_text() == "1\n"


def test_disable_local_igmp_leaves_an_operator_setting_alone(tmp_path: Path) -> None:
    knob = tmp_path / "igmp_link_local_mcast_reports"
    knob.write_text("0\n")
    reports = LocalIgmpReports(knob)
    reports.disable()
    reports.restore()  # it was off before we came: it stays off
    assert knob.read_text() == "0\n"
    LocalIgmpReports(tmp_path / "missing").disable()  # an old kernel: logged, not fatal
