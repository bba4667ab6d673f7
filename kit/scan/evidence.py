"""The evidence table behind every business case: one figure per entry, each with its source.

Every percentage a scan report multiplies a site's figures with lives here and nowhere else,
so a reader can check each one and a site can argue with it. Each entry says what *kind* of
evidence it is (vendor-reported, a consultancy's case studies, a secondary review …), because
"typical reported 20–40 % (vendor-reported)" and a controlled study are not the same thing.
Ranges are kept as the source gave them: no figure is made more precise than its source.

The sources were read in December 2026; :data:`READ_ON` is printed in every report.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict

READ_ON: Final = "2026-12"
"""When the sources below were read (month)."""


class Source(BaseModel):
    """Where a figure comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    publisher: str
    year: int | None
    """None where the page does not say (shown as "n.d."): no year is guessed."""
    url: str

    def dated(self) -> str:
        """``2026`` or ``n.d.``."""
        return str(self.year) if self.year is not None else "n.d."


class Evidence(BaseModel):
    """One published figure (a range), what it measures and how strong it is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    claim: str
    """What the figure says, in the source's own terms."""
    low: float
    high: float
    unit: str
    kind: str
    """How strong: ``vendor-reported``, ``consultancy case studies``, ``secondary review`` …"""
    source: Source
    note: str = ""
    """Caveats: what the figure is *not*, higher claims seen elsewhere."""

    def text(self) -> str:
        """``"10–35 % fewer unplanned downtime hours (secondary review)"``."""
        return f"{_num(self.low)}–{_num(self.high)} {self.unit} {self.claim} ({self.kind})"


def _num(x: float) -> str:
    return f"{x:g}"


EVIDENCE: Final[dict[str, Evidence]] = {
    e.id: e
    for e in (
        Evidence(
            id="condition_downtime",
            claim="fewer unplanned downtime hours on assets under condition monitoring",
            low=10,
            high=35,
            unit="%",
            kind="secondary review of vendor and survey figures",
            source=Source(
                title="Does Predictive Maintenance Really Cut Downtime by 50%? A 2026 Fact-Check",
                publisher="iotdigitaltwinplm.com",
                year=2026,
                url="https://iotdigitaltwinplm.com/predictive-maintenance-50-percent-downtime-fact-check-2026/",
            ),
            note=(
                "The review finds the often-quoted 50 % to be a ceiling under ideal conditions; "
                "10–35 % is its range for the peer-reviewed and vendor-published cases. Higher "
                "figures (35–45 %, US DOE FEMP O&M guide citing surveys) are not used here."
            ),
        ),
        Evidence(
            id="oee_monitoring_gain",
            claim="higher OEE (relative to the starting OEE) in the first year of production monitoring",
            low=10,
            high=25,
            unit="%",
            kind="practitioner-reported",
            source=Source(
                title="Production Monitoring Systems (MES/OEE)",
                publisher="productionroad.eu",
                year=2026,
                url="https://productionroad.eu/2026/04/05/production-monitoring-systems-mes-oee",
            ),
            note="A gain only where the recovered time is used: a bottleneck, or overtime saved.",
        ),
        Evidence(
            id="oee_typical",
            claim="OEE of a typical discrete manufacturer (85 % is called world class)",
            low=40,
            high=60,
            unit="%",
            kind="vendor-reported (Vorne/LeanProduction, quoted by harmoni.io)",
            source=Source(
                title="Increase profitability with OEE monitoring",
                publisher="harmoni.io",
                year=None,
                url="https://feeds.harmoni.io/blog/increase-profitability-oee-monitoring",
            ),
            note="Typical ~60 %; plants measuring for the first time often find ~40 %.",
        ),
        Evidence(
            id="idle_energy_share",
            claim="of a CNC machine's energy used outside production (mostly at weekends)",
            low=18,
            high=29,
            unit="%",
            kind="consultancy-measured on many CNC machines",
            source=Source(
                title="Case Study – Business process change in an SME Engineering Shop",
                publisher="ecopare.energy",
                year=None,
                url="http://www.ecopare.energy/case-studies/case-study-business-process-change-sme-engineering-shop/",
            ),
            note=(
                "Avoidable where machines can be switched off outside shifts. A vendor "
                "(leanworx.ai) reports 20–40 % of shop-floor energy for idle, waiting or "
                "part-loaded machines; that wider figure is not used here."
            ),
        ),
        Evidence(
            id="monitoring_only_energy",
            claim="less energy expected from monitoring and feedback alone, without a retrofit",
            low=0,
            high=5,
            unit="%",
            kind="public-sector programme target (buildings)",
            source=Source(
                title="The Energy Performance Monitoring Plan (City of San Jose Energy Office)",
                publisher="City of San Jose Energy Office (conference paper, copy on vdocuments.site)",
                year=None,
                url="https://vdocuments.site/the-energy-performance-monitoring-plan-2020-02-05-the-energy-performance-monitoring.html",
            ),
            note=(
                "A deliberately modest figure: meters save nothing by themselves; the savings "
                "come from the actions the data leads to (idle energy, peaks)."
            ),
        ),
        Evidence(
            id="spc_defects",
            claim="fewer defects after introducing statistical process control",
            low=25,
            high=50,
            unit="%",
            kind="consultancy case studies (selected successes)",
            source=Source(
                title="Statistical Process Control case studies (electronics: −25 %; growing "
                "manufacturer: −50 %)",
                publisher="flevy.com",
                year=None,
                url="https://flevy.com/topic/statistical-process-control/case-statistical-process-control-improvement-electronics-manufacturing-firm-metals-industry",
            ),
            note="Published cases are successes; a site without SPC discipline may see less.",
        ),
    )
}
