"""Deterministic demo data: a plausible UK–Japan CERT exchange as STIX 2.1 batches.

`build_demo_batches` returns batches of STIX 2.1 objects, each to be posted by one
organisation into one collection ("intel", "cni" or "public"), in list order. The story: the
UK national CERT ("ncsc") publishes advisories, partnership intelligence and sector alerts; a
UK water utility ("water") reports sightings from its OT network; a UK bank ("bank") shares
phishing intelligence under TLP:AMBER+STRICT; and a Japanese peer ("jpcert") shares intelligence
on edge-device exploitation in Japanese ports logistics.

Every object carries exactly one TLP 2.0 marking and, for AMBER, AMBER+STRICT and RED, an
audience marking (`kizuna.access.tlp.audience_marking`) defined at the start of its batch.
Relationships, sightings and reports only reference objects of the same collection, in the same
or an earlier batch, that every reader of the referencing object may also read. All actors,
malware, campaigns and infrastructure are fictional; network indicators use documentation
address ranges (RFC 5737) and reserved domain names (RFC 2606). Tools, ATT&CK techniques and
CVEs are real and public.
"""

from __future__ import annotations

import copy
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kizuna.access.tlp import PAP_MARKINGS, TLP2_MARKINGS, Pap, Tlp, audience_marking

__all__ = ["COLLECTIONS", "MAX_BATCH_OBJECTS", "ORG_KEYS", "DemoBatch", "build_demo_batches"]

ORG_KEYS = ("ncsc", "water", "bank", "jpcert")
COLLECTIONS = ("intel", "cni", "public")
MAX_BATCH_OBJECTS = 200

StixObject = dict[str, object]


@dataclass(frozen=True)
class DemoBatch:
    poster: str  # key of the org that posts (and creates) these objects
    collection: str  # "intel" | "cni" | "public"
    objects: list[StixObject]


# ATT&CK techniques: (id, name, tactic). T0xxx are ATT&CK for ICS.
_TECHNIQUES: tuple[tuple[str, str, str], ...] = (
    ("T1595.002", "Vulnerability Scanning", "reconnaissance"),
    ("T1583.001", "Domains", "resource-development"),
    ("T1190", "Exploit Public-Facing Application", "initial-access"),
    ("T1133", "External Remote Services", "initial-access"),
    ("T1078", "Valid Accounts", "initial-access"),
    ("T1566.001", "Spearphishing Attachment", "initial-access"),
    ("T1566.002", "Spearphishing Link", "initial-access"),
    ("T1059.001", "PowerShell", "execution"),
    ("T1505.003", "Web Shell", "persistence"),
    ("T1053.005", "Scheduled Task", "persistence"),
    ("T1003.001", "LSASS Memory", "credential-access"),
    ("T1110.003", "Password Spraying", "credential-access"),
    ("T1021.001", "Remote Desktop Protocol", "lateral-movement"),
    ("T1071.001", "Web Protocols", "command-and-control"),
    ("T1572", "Protocol Tunneling", "command-and-control"),
    ("T1090", "Proxy", "command-and-control"),
    ("T1567.002", "Exfiltration to Cloud Storage", "exfiltration"),
    ("T1486", "Data Encrypted for Impact", "impact"),
    ("T1490", "Inhibit System Recovery", "impact"),
    ("T0883", "Internet Accessible Device", "initial-access"),
    ("T0855", "Unauthorized Command Message", "impair-process-control"),
    ("T0826", "Loss of Availability", "impact"),
)
# Real, widely exploited vulnerabilities: (CVE id, summary).
_CVES: tuple[tuple[str, str], ...] = (
    ("CVE-2023-4966", "Citrix NetScaler ADC/Gateway session token disclosure ('Citrix Bleed')."),
    ("CVE-2024-3400", "Palo Alto Networks PAN-OS GlobalProtect OS command injection."),
    ("CVE-2023-20198", "Cisco IOS XE web UI privilege escalation to create admin accounts."),
    ("CVE-2021-44228", "Apache Log4j2 JNDI lookup remote code execution ('Log4Shell')."),
    ("CVE-2023-34362", "Progress MOVEit Transfer SQL injection leading to web shell install."),
    ("CVE-2024-21887", "Ivanti Connect Secure / Policy Secure command injection."),
    ("CVE-2023-46805", "Ivanti Connect Secure / Policy Secure authentication bypass."),
    ("CVE-2018-13379", "Fortinet FortiOS SSL VPN path traversal exposing credentials."),
    ("CVE-2023-27997", "Fortinet FortiOS SSL VPN heap buffer overflow."),
    ("CVE-2024-1709", "ConnectWise ScreenConnect authentication bypass."),
)
_ORG = "organization"
_GAIN = "personal-gain"
# Named SDOs: name -> (type, properties).
# fmt: off
_CATALOGUE: dict[str, tuple[str, dict[str, object]]] = {
    "United Kingdom": ("location", {"country": "GB", "region": "northern-europe"}),
    "Japan": ("location", {"country": "JP", "region": "eastern-asia"}),
    "UK water and wastewater sector": ("identity", {"identity_class": "class", "sectors": ["water"]}),  # noqa: E501
    "UK energy sector": ("identity", {"identity_class": "class", "sectors": ["energy"]}),
    "UK financial services": ("identity", {"identity_class": "class", "sectors": ["financial-services"]}),  # noqa: E501
    "Japanese ports and maritime logistics": ("identity", {"identity_class": "class", "sectors": ["transportation"]}),  # noqa: E501
    "UK central government": ("identity", {"identity_class": "class", "sectors": ["government-national"]}),  # noqa: E501
    "Granite Tide": ("threat-actor", {"threat_actor_types": ["nation-state"], "sophistication": "advanced", "resource_level": "government", "primary_motivation": "organizational-gain", "description": "Espionage-focused actor prioritising edge devices. Overlaps public reporting; partners assert no attribution to a specific state."}),  # noqa: E501
    "Copper Mantis": ("threat-actor", {"threat_actor_types": ["crime-syndicate"], "sophistication": "expert", "resource_level": _ORG, "primary_motivation": _GAIN, "description": "Ransomware-as-a-service operation whose affiliates favour exposed remote access."}),  # noqa: E501
    "Silt Serpent": ("threat-actor", {"threat_actor_types": ["activist"], "sophistication": "intermediate", "resource_level": "club", "primary_motivation": "ideology", "description": "Hacktivist-styled persona claiming access to water-sector HMIs; many claims are exaggerated."}),  # noqa: E501
    "Velvet Ledger": ("threat-actor", {"threat_actor_types": ["criminal"], "sophistication": "intermediate", "resource_level": _ORG, "primary_motivation": _GAIN, "description": "Fraud group running payroll- and banking-themed credential phishing."}),  # noqa: E501
    "Ember Typhoon-like cluster": ("intrusion-set", {"aliases": ["KZ-CL-017"], "resource_level": "government", "primary_motivation": "organizational-gain", "description": "Cluster of edge-device intrusions sharing tooling and infrastructure habits."}),  # noqa: E501
    "KZ-CL-031": ("intrusion-set", {"aliases": ["LOCKWEIR affiliate 31"], "resource_level": _ORG, "primary_motivation": _GAIN, "description": "Ransomware affiliate active against UK utilities."}),  # noqa: E501
    "KZ-CL-023 (Harbour Lantern)": ("intrusion-set", {"aliases": ["Harbour Lantern"], "primary_motivation": "organizational-gain", "description": "Cluster targeting port community systems and terminal operators in Japan."}),  # noqa: E501
    "SALTGATE": ("malware", {"malware_types": ["webshell", "backdoor"], "description": "Small web shell planted on compromised VPN and firewall appliances."}),  # noqa: E501
    "QUAYSIDE": ("malware", {"malware_types": ["backdoor", "remote-access-trojan"], "description": "Linux implant for edge appliances; HTTPS C2 with a rotating path."}),  # noqa: E501
    "CABLEKNOT": ("malware", {"malware_types": ["trojan"], "description": "Reverse SOCKS tunneller used to reach internal networks."}),  # noqa: E501
    "KELPIE": ("malware", {"malware_types": ["downloader", "dropper"], "description": "Commodity loader delivered by phishing; fetches follow-on payloads."}),  # noqa: E501
    "LOCKWEIR": ("malware", {"malware_types": ["ransomware"], "description": "Ransomware family that deletes shadow copies before encrypting."}),  # noqa: E501
    "PENSTOCK": ("malware", {"malware_types": ["dropper"], "description": "PowerShell dropper seen before LOCKWEIR deployment."}),  # noqa: E501
    "MOORINGRAT": ("malware", {"malware_types": ["remote-access-trojan"], "description": "RAT deployed via exploited edge routers at terminal operators."}),  # noqa: E501
    "LEDGERSTEAL": ("malware", {"malware_types": ["spyware", "keylogger"], "description": "Infostealer harvesting browser-stored banking credentials."}),  # noqa: E501
    "Cobalt Strike": ("tool", {"tool_types": ["remote-access"]}),
    "Impacket": ("tool", {"tool_types": ["remote-access", "credential-exploitation"]}),
    "Chisel": ("tool", {"tool_types": ["remote-access"]}),
    "Rclone": ("tool", {"tool_types": ["unknown"], "description": "Legitimate cloud sync utility abused for exfiltration."}),  # noqa: E501
    "Mimikatz": ("tool", {"tool_types": ["credential-exploitation"]}),
    "AnyDesk": ("tool", {"tool_types": ["remote-access"]}),
    "Edge Sweep": ("campaign", {"objective": "Initial access to government networks via unpatched VPN and firewall devices."}),  # noqa: E501
    "Edge Sweep: Japan phase": ("campaign", {"objective": "Extension of Edge Sweep to Japanese government and logistics."}),  # noqa: E501
    "Low Tide": ("campaign", {"objective": "Ransomware intrusions against UK water and energy operators."}),  # noqa: E501
    "Quay Watch": ("campaign", {"objective": "Access to port community systems and container terminal operators in Japan."}),  # noqa: E501
    "Operation Brackish": ("campaign", {"objective": "Hands-on intrusion at one UK water utility reaching OT-adjacent hosts."}),  # noqa: E501
    "Velvet Ledger payroll phishing wave": ("campaign", {"objective": "Payroll- and bank-themed credential phishing."}),  # noqa: E501
}
# fmt: on
_WORDS_A = ("update", "cdn", "portal", "secure", "login", "vpn", "sync", "mail", "static", "api")
_WORDS_B = ("check", "cloud", "gate", "hub", "relay", "edge", "services", "connect", "support")
_WORDS_C = ("telemetry", "billing", "harbour", "port", "scada", "ops", "payroll", "assets", "id")
_TLDS = ("example", "test", "invalid", "example.com", "example.net", "example.org")
_FILES = ("svchost32.exe", "update.dll", "libcrypt.so.1", "agent.ps1", "report.lnk", "inv.iso")
_PATHS = ("gate.php", "api/v2/beacon", "dl/stage2.bin", "owa/auth/login.aspx", "cdn/jquery.js")
_SUBJECTS = ("Payroll update", "Urgent invoice", "Your account is locked", "Shipping notice")
# Indicator kind -> (role in names, kill chain, phase, indicator type).
_KINDS: dict[str, tuple[str, str, str, str]] = {
    "ipv4": ("C2 server", "mitre-attack", "command-and-control", "malicious-activity"),
    "ip-or": ("C2 servers", "mitre-attack", "command-and-control", "malicious-activity"),
    "cidr": ("hosting range", "mitre-attack", "command-and-control", "anomalous-activity"),
    "netflow": ("C2 traffic", "mitre-attack", "command-and-control", "malicious-activity"),
    "domain": ("C2 domain", "mitre-attack", "command-and-control", "malicious-activity"),
    "sha256": ("payload", "mitre-attack", "execution", "malicious-activity"),
    "file": ("dropped file", "mitre-attack", "execution", "malicious-activity"),
    "url": ("delivery URL", "mitre-attack", "initial-access", "malicious-activity"),
    "dns-url": ("staged download", "mitre-attack", "initial-access", "malicious-activity"),
    "email": ("phishing email", "mitre-attack", "initial-access", "malicious-activity"),
    "modbus": ("Modbus writes", "mitre-ics-attack", "impair-process-control", "anomalous-activity"),
}
_MIXED = ("ipv4", "ipv4", "ipv4", "domain", "domain", "sha256", "sha256", "url", "ip-or", "cidr",
          "netflow", "file", "dns-url")  # fmt: skip
_PHISH = ("email", "email", "url", "url", "domain", "domain", "sha256", "dns-url")
_OT = ("ipv4", "ipv4", "modbus", "modbus", "netflow", "sha256", "file")
_EDGE = ("ipv4", "ipv4", "ipv4", "ip-or", "cidr", "url", "sha256", "domain", "netflow")
_NETS = ("192.0.2", "198.51.100", "203.0.113")


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _Gen:
    """Shared state: the random source, the clock, unique infrastructure, the batches."""

    def __init__(self, identities: Mapping[str, str], rng: random.Random, now: datetime) -> None:
        self.identities = identities
        self.rng = rng
        self.now = now
        self.clock = now - timedelta(days=60)
        self.batches: list[DemoBatch] = []
        self.ips = [f"{net}.{host}" for net in _NETS for host in range(1, 255)]
        rng.shuffle(self.ips)
        self.seen: set[str] = set()

    def uid(self, kind: str) -> str:
        return f"{kind}--{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    def ip(self) -> str:
        return self.ips.pop()

    def domain(self) -> str:
        rng = self.rng
        while True:
            words = [rng.choice(_WORDS_A), rng.choice(_WORDS_B + _WORDS_C)]
            if rng.random() < 0.4:
                words.append(rng.choice(_WORDS_C))
            name = "-".join(words) + ("" if rng.random() < 0.5 else str(rng.randint(1, 99)))
            name = f"{name}.{rng.choice(_TLDS)}"
            if name not in self.seen:
                self.seen.add(name)
                return name

    def pattern(self, kind: str) -> tuple[str, str]:
        """A STIX pattern of the given kind and a short label for names."""
        rng = self.rng
        if kind == "ipv4":
            ip = self.ip()
            return f"[ipv4-addr:value = '{ip}']", ip
        if kind == "ip-or":
            a, b = self.ip(), self.ip()
            return f"[ipv4-addr:value = '{a}' OR ipv4-addr:value = '{b}']", f"{a}, {b}"
        if kind == "cidr":
            net = f"{rng.choice(_NETS)}.{16 * rng.randint(0, 15)}/28"
            return f"[ipv4-addr:value ISSUBSET '{net}']", net
        if kind == "netflow":
            ip, port = self.ip(), rng.choice((443, 8443, 4433, 8080, 53))
            return (
                "[network-traffic:dst_ref.type = 'ipv4-addr' AND "
                f"network-traffic:dst_ref.value = '{ip}' AND network-traffic:dst_port = {port}]",
                f"{ip}:{port}",
            )
        if kind == "modbus":
            ip = self.ip()
            return (
                f"[network-traffic:src_ref.value = '{ip}' AND network-traffic:dst_port = 502]",
                ip,
            )
        if kind == "domain":
            name = self.domain()
            return f"[domain-name:value = '{name}']", name
        if kind == "sha256":
            digest = self.hex(64)
            return f"[file:hashes.'SHA-256' = '{digest}']", f"SHA-256 {digest[:12]}…"
        if kind == "file":
            name, digest = rng.choice(_FILES), self.hex(32)
            return f"[file:name = '{name}' AND file:hashes.MD5 = '{digest}']", name
        if kind == "url":
            host = self.ip() if rng.random() < 0.4 else self.domain()
            url = f"{rng.choice(('http', 'https'))}://{host}/{rng.choice(_PATHS)}"
            return f"[url:value = '{url}']", url
        if kind == "dns-url":
            name = self.domain()
            url = f"http://{name}/{rng.choice(_PATHS)}"
            return (
                f"[domain-name:value = '{name}'] FOLLOWEDBY [url:value = '{url}'] "
                "WITHIN 600 SECONDS",
                name,
            )
        if kind == "email":
            sender, subject = f"{rng.choice(_WORDS_C)}@{self.domain()}", rng.choice(_SUBJECTS)
            return (
                f"[email-message:from_ref.value = '{sender}' AND "
                f"email-message:subject = '{subject}']",
                sender,
            )
        raise ValueError(f"unknown indicator kind {kind!r}")


class _Batch:
    """Objects one org posts to one collection under one TLP label and audience."""

    def __init__(
        self,
        gen: _Gen,
        poster: str,
        collection: str,
        tlp: Tlp,
        audience: Sequence[str] = (),
        pap: Pap | None = None,
        *,
        days_ago: int,
    ) -> None:
        if (tlp >= Tlp.AMBER) != bool(audience) or (collection == "public") != (tlp == Tlp.CLEAR):
            raise ValueError(f"inconsistent batch: {collection} {tlp.label} {audience}")
        self.gen, self.poster, self.collection, self.pap = gen, poster, collection, pap
        self.creator = gen.identities[poster]
        self.preamble: list[StixObject] = []
        self.markings = [TLP2_MARKINGS[tlp]]
        if audience:
            definition = audience_marking(gen.identities[k] for k in audience)
            self.preamble.append(definition)
            self.markings.append(str(definition["id"]))
        self.objects: list[StixObject] = []
        start = (gen.now - timedelta(days=days_ago)).replace(hour=8, minute=0, second=0)
        start += timedelta(minutes=gen.rng.randint(0, 120), microseconds=-start.microsecond)
        gen.clock = max(start, gen.clock + timedelta(hours=1))

    def tick(self) -> datetime:
        self.gen.clock += timedelta(minutes=self.gen.rng.randint(1, 12))
        return self.gen.clock

    def ago(self, days: float) -> str:
        return _ts(self.gen.clock - timedelta(days=days))

    def add(self, kind: str, pap: bool = False, /, **props: object) -> str:
        """Append a new object marked for this batch (plus its PAP label if pap); its id."""
        stamp = _ts(self.tick())
        markings = list(self.markings)
        if pap and self.pap is not None:
            markings.append(PAP_MARKINGS[self.pap])
        obj: StixObject = {"type": kind, "spec_version": "2.1", "id": self.gen.uid(kind)}
        obj |= {"created": stamp, "modified": stamp, "created_by_ref": self.creator}
        obj |= {"object_marking_refs": markings, **props}
        self.objects.append(obj)
        return str(obj["id"])

    def sdo(self, name: str) -> str:
        kind, props = _CATALOGUE[name]
        rng = self.gen.rng
        extra: dict[str, object] = {}
        if kind == "malware":
            extra = {"is_family": True, "first_seen": self.ago(rng.randint(60, 700))}
        elif kind == "intrusion-set":
            extra = {"first_seen": self.ago(rng.randint(200, 900))}
        elif kind == "campaign":
            extra = {"first_seen": self.ago(rng.randint(20, 120)), "last_seen": self.ago(1)}
        return self.add(kind, name=name, **extra, **copy.deepcopy(props))

    def rel(self, source: str, kind: str, target: str) -> str:
        return self.add(
            "relationship", relationship_type=kind, source_ref=source, target_ref=target
        )

    def rels(self, source: str, kind: str, targets: Sequence[str]) -> None:
        for target in targets:
            self.rel(source, kind, target)

    def indicators(
        self,
        count: int,
        subject: str,
        targets: Sequence[str],
        kinds: Sequence[str] = _MIXED,
        link: float = 0.5,
    ) -> list[str]:
        """count indicators about subject; each indicates one of targets with probability link."""
        rng, made = self.gen.rng, []
        for _ in range(count):
            kind = rng.choice(kinds)
            pattern, label = self.gen.pattern(kind)
            role, chain, phase, indicator_type = _KINDS[kind]
            moment = self.gen.clock + timedelta(minutes=1)
            indicator_id = self.add(
                "indicator",
                rng.random() < 0.5,
                name=f"{subject} {role}: {label}",
                description=f"{role.capitalize()} associated with {subject}.",
                indicator_types=[indicator_type],
                pattern=pattern,
                pattern_type="stix",
                pattern_version="2.1",
                valid_from=_ts(moment - timedelta(hours=rng.randint(0, 96))),
                kill_chain_phases=[{"kill_chain_name": chain, "phase_name": phase}],
                confidence=rng.choice((30, 50, 70, 85, 95)),
            )
            made.append(indicator_id)
            if targets and rng.random() < link:
                self.rel(made[-1], "indicates", rng.choice(targets))
        return made

    def sightings(self, indicator_ids: Sequence[str]) -> None:
        rng = self.gen.rng
        for indicator_id in indicator_ids:
            last = self.gen.clock - timedelta(minutes=rng.randint(10, 600))
            self.add(
                "sighting",
                sighting_of_ref=indicator_id,
                where_sighted_refs=[self.creator],
                count=rng.randint(1, 40),
                first_seen=_ts(last - timedelta(hours=rng.randint(0, 120))),
                last_seen=_ts(last),
            )

    def publish(self, name: str, description: str, types: Sequence[str]) -> None:
        """Close the batch with a report on everything in it."""
        refs = list(dict.fromkeys(str(o["id"]) for o in self.objects))
        self.add(
            "report",
            True,
            name=name,
            description=description,
            report_types=list(types),
            published="",
            object_refs=refs,
        )
        self.objects[-1]["published"] = self.objects[-1]["created"]
        objects = self.preamble + self.objects
        if len(objects) > MAX_BATCH_OBJECTS:
            raise RuntimeError(f"demo batch of {len(objects)} objects is too large")
        self.gen.batches.append(DemoBatch(self.poster, self.collection, objects))


def _library(
    b: _Batch, techniques: Sequence[str] | None = None, cves: Sequence[str] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """ATT&CK attack-patterns and CVE vulnerabilities for one collection: id maps."""
    aps: dict[str, str] = {}
    for tid, name, tactic in _TECHNIQUES:
        if techniques is None or tid in techniques:
            chain = "mitre-ics-attack" if tid.startswith("T0") else "mitre-attack"
            url = "https://attack.mitre.org/techniques/" + tid.replace(".", "/") + "/"
            ref = {"source_name": "mitre-attack", "external_id": tid, "url": url}
            phases = [{"kill_chain_name": chain, "phase_name": tactic}]
            aps[tid] = b.add(
                "attack-pattern", name=name, external_references=[ref], kill_chain_phases=phases
            )
    vulns: dict[str, str] = {}
    for cve, summary in _CVES:
        if cves is None or cve in cves:
            url = f"https://www.cve.org/CVERecord?id={cve}"
            ref = {"source_name": "cve", "external_id": cve, "url": url}
            vulns[cve] = b.add(
                "vulnerability", name=cve, description=summary, external_references=[ref]
            )
    return aps, vulns


def build_demo_batches(
    *, identities: Mapping[str, str], seed: int = 2026, now: datetime | None = None
) -> list[DemoBatch]:
    """identities maps org keys to STIX identity ids. Keys present: "ncsc" (UK operator, GB),
    "water" (a UK water utility), "bank" (a UK bank), "jpcert" (Japanese peer org, JP).

    The same seed and now give the same batches. Objects are created and modified within the
    40 days before now (default: the current time). Post the batches in list order."""
    missing = [key for key in ORG_KEYS if key not in identities]
    if missing:
        raise KeyError(f"build_demo_batches needs identities for {', '.join(missing)}")
    moment = datetime.now(UTC) if now is None else now
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    g = _Gen(identities, random.Random(seed), moment)
    year = moment.year

    # 1. Public advisory (TLP:CLEAR).
    b = _Batch(g, "ncsc", "public", Tlp.CLEAR, pap=Pap.CLEAR, days_ago=38)
    gb, jp = b.sdo("United Kingdom"), b.sdo("Japan")
    aps, vulns = _library(b)
    kelpie, cobalt = b.sdo("KELPIE"), b.sdo("Cobalt Strike")
    b.rels(aps["T1190"], "targets", list(vulns.values()))
    b.rels(kelpie, "uses", [aps[t] for t in ("T1566.001", "T1059.001", "T1071.001")])
    b.rels(kelpie, "targets", [gb, jp])
    b.indicators(10, "Mass scanning for edge-device CVEs", [aps["T1595.002"]], _EDGE, 0.4)
    b.indicators(10, "KELPIE loader", [kelpie], link=0.5)
    b.indicators(4, "Cracked Cobalt Strike team server", [cobalt], ("ipv4", "netflow"), 1.0)
    b.publish(
        "Public advisory: mass exploitation of internet-facing edge devices",
        "Scanning and exploitation of Citrix, Ivanti, Fortinet and PAN-OS appliances seen by "
        "UK and Japanese partners, with KELPIE loader infrastructure. Patch and hunt.",
        ("threat-report", "vulnerability", "indicator"),
    )

    # 2. Partnership intelligence on a state-linked edge-device cluster (TLP:GREEN).
    b = _Batch(g, "ncsc", "intel", Tlp.GREEN, pap=Pap.GREEN, days_ago=35)
    techniques = ("T1190", "T1133", "T1078", "T1505.003", "T1059.001", "T1003.001", "T1566.001",
                  "T1566.002", "T1071.001", "T1572", "T1090", "T1567.002")  # fmt: skip
    iaps, ivulns = _library(b, techniques, [c for c, _ in _CVES[:7]])
    igb, ijp, gov = b.sdo("United Kingdom"), b.sdo("Japan"), b.sdo("UK central government")
    actor, edge = b.sdo("Granite Tide"), b.sdo("Edge Sweep")
    iset = b.sdo("Ember Typhoon-like cluster")
    saltgate, quayside, cableknot = b.sdo("SALTGATE"), b.sdo("QUAYSIDE"), b.sdo("CABLEKNOT")
    impacket, chisel, rclone = b.sdo("Impacket"), b.sdo("Chisel"), b.sdo("Rclone")
    b.rel(iset, "attributed-to", actor)
    b.rel(edge, "attributed-to", iset)
    b.rels(actor, "targets", [igb, ijp, gov])
    b.rels(iset, "uses", [saltgate, quayside, cableknot, impacket, chisel, rclone])
    b.rels(saltgate, "uses", [iaps["T1505.003"], iaps["T1190"]])
    b.rels(quayside, "uses", [iaps["T1071.001"], iaps["T1572"]])
    b.rels(cableknot, "uses", [iaps["T1090"], iaps["T1572"]])
    b.rels(edge, "targets", [ivulns[c] for c in ("CVE-2024-3400", "CVE-2023-4966")])
    b.rel(edge, "targets", ivulns["CVE-2023-20198"])
    intel_green = b.indicators(30, "Edge Sweep", [saltgate, quayside, cableknot, edge], _EDGE, 0.5)
    b.publish(
        "Edge-device exploitation by a state-linked cluster",
        "Granite Tide / Ember Typhoon-like activity exploiting VPN and firewall appliances "
        "against UK and Japanese government networks; SALTGATE, QUAYSIDE and CABLEKNOT.",
        ("threat-report", "intrusion-set", "malware"),
    )

    # 3. CNI sector intelligence (TLP:GREEN).
    b = _Batch(g, "ncsc", "cni", Tlp.GREEN, pap=Pap.GREEN, days_ago=32)
    techniques = ("T1190", "T1133", "T1078", "T1059.001", "T1021.001", "T1071.001", "T1486",
                  "T1490", "T1567.002", "T0883", "T0855", "T0826")  # fmt: skip
    cves = ("CVE-2024-1709", "CVE-2018-13379", "CVE-2023-27997", "CVE-2023-34362",
            "CVE-2023-20198", "CVE-2024-3400")  # fmt: skip
    caps, cvulns = _library(b, techniques, cves)
    cgb, cjp = b.sdo("United Kingdom"), b.sdo("Japan")
    water = b.sdo("UK water and wastewater sector")
    energy, ports = b.sdo("UK energy sector"), b.sdo("Japanese ports and maritime logistics")
    mantis, affiliate, lockweir = b.sdo("Copper Mantis"), b.sdo("KZ-CL-031"), b.sdo("LOCKWEIR")
    low_tide, serpent = b.sdo("Low Tide"), b.sdo("Silt Serpent")
    anydesk, mimikatz = b.sdo("AnyDesk"), b.sdo("Mimikatz")
    b.rel(affiliate, "attributed-to", mantis)
    b.rel(low_tide, "attributed-to", affiliate)
    b.rels(affiliate, "uses", [lockweir, anydesk, mimikatz])
    b.rels(lockweir, "uses", [caps["T1486"], caps["T1490"]])
    b.rels(low_tide, "targets", [water, energy, cvulns["CVE-2024-1709"], cvulns["CVE-2018-13379"]])
    b.rel(affiliate, "targets", cgb)
    b.rels(serpent, "uses", [caps["T0883"], caps["T0855"]])
    b.rel(serpent, "targets", water)
    b.indicators(18, "Low Tide / LOCKWEIR", [lockweir, low_tide, affiliate], link=0.5)
    b.publish(
        "Ransomware targeting UK water sector",
        "Copper Mantis affiliate KZ-CL-031 deploys LOCKWEIR after entering through exposed "
        "remote access. Separately, Silt Serpent claims HMI access at water sites.",
        ("threat-report", "campaign", "malware"),
    )

    # 4. Japanese ports logistics (TLP:GREEN), from the Japanese peer.
    b = _Batch(g, "jpcert", "cni", Tlp.GREEN, days_ago=29)
    harbour, mooring = b.sdo("KZ-CL-023 (Harbour Lantern)"), b.sdo("MOORINGRAT")
    quay_watch = b.sdo("Quay Watch")
    b.rel(quay_watch, "attributed-to", harbour)
    b.rel(harbour, "uses", mooring)
    b.rels(mooring, "uses", [caps["T1190"], caps["T1071.001"]])
    b.rels(quay_watch, "targets", [ports, cjp, cvulns["CVE-2023-20198"], cvulns["CVE-2024-3400"]])
    jp_green = b.indicators(16, "Quay Watch / MOORINGRAT", [mooring, quay_watch], _EDGE, 0.5)
    b.publish(
        "Exploitation of edge devices in Japanese ports logistics",
        "Routers and firewalls at container terminal operators exploited to deploy MOORINGRAT.",
        ("threat-report", "campaign"),
    )

    # 5. NCSC alert to water and bank (TLP:AMBER).
    b = _Batch(g, "ncsc", "cni", Tlp.AMBER, ("water", "bank"), Pap.AMBER, days_ago=26)
    penstock = b.sdo("PENSTOCK")
    b.rel(penstock, "uses", caps["T1059.001"])
    b.rel(penstock, "drops", lockweir)
    b.rel(low_tide, "uses", penstock)
    alert = b.indicators(27, "PENSTOCK pre-ransomware", [penstock, lockweir, low_tide], link=0.5)
    b.publish(
        "Pre-ransomware activity against UK water and finance operators",
        "PENSTOCK staging seen ahead of LOCKWEIR deployment. Hunt for these indicators now.",
        ("threat-report", "indicator"),
    )

    # 6. Bilateral note to the Japanese peer (TLP:AMBER).
    b = _Batch(g, "ncsc", "intel", Tlp.AMBER, ("jpcert",), Pap.GREEN, days_ago=23)
    jp_phase = b.sdo("Edge Sweep: Japan phase")
    b.rel(jp_phase, "attributed-to", iset)
    b.rels(jp_phase, "uses", [saltgate, quayside])
    b.rels(jp_phase, "targets", [ijp, ivulns["CVE-2024-3400"], ivulns["CVE-2024-21887"]])
    b.indicators(20, "Edge Sweep Japan phase", [jp_phase, saltgate, quayside], _EDGE, 0.5)
    b.publish(
        "UK–Japan note: Edge Sweep infrastructure reaching Japanese networks",
        "Infrastructure shared between UK Edge Sweep intrusions and Japanese victims.",
        ("threat-report", "campaign"),
    )

    # 7. Japanese follow-up to the NCSC (TLP:AMBER), with sightings.
    b = _Batch(g, "jpcert", "cni", Tlp.AMBER, ("ncsc",), Pap.AMBER, days_ago=20)
    follow = b.indicators(14, "MOORINGRAT", [mooring, quay_watch], _EDGE, 0.5)
    b.sightings(follow[:3] + jp_green[:2])
    b.publish(
        "MOORINGRAT follow-up: C2 at container terminal operators",
        "New MOORINGRAT C2 and sightings at two terminal operators.",
        ("threat-report", "indicator"),
    )

    # 8. Bank phishing intelligence to the NCSC only (TLP:AMBER+STRICT).
    b = _Batch(g, "bank", "intel", Tlp.AMBER_STRICT, ("ncsc",), Pap.AMBER, days_ago=17)
    ledger, stealer = b.sdo("Velvet Ledger"), b.sdo("LEDGERSTEAL")
    wave = b.sdo("Velvet Ledger payroll phishing wave")
    b.rel(ledger, "uses", stealer)
    b.rel(wave, "attributed-to", ledger)
    b.rels(wave, "uses", [iaps["T1566.002"], stealer])
    b.rel(stealer, "uses", iaps["T1071.001"])
    phish = b.indicators(14, "Velvet Ledger phishing", [wave, stealer, ledger], _PHISH, 0.5)
    b.sightings(phish[:3] + intel_green[:3])
    b.publish(
        "Credential phishing against UK retail banking customers",
        "Payroll-themed lures leading to LEDGERSTEAL; Edge Sweep scanning seen at our perimeter.",
        ("threat-report", "threat-actor"),
    )

    # 9. NCSC reply to the bank only (TLP:AMBER+STRICT).
    b = _Batch(g, "ncsc", "intel", Tlp.AMBER_STRICT, ("bank",), Pap.AMBER, days_ago=14)
    b.indicators(12, "Velvet Ledger hosting", [wave, ledger, stealer], _PHISH, 0.6)
    b.publish(
        "Velvet Ledger infrastructure overlap with bulletproof hosting",
        "Further Velvet Ledger domains and mail infrastructure found from the bank's report.",
        ("threat-report", "indicator"),
    )

    # 10. NCSC to one water utility only (TLP:RED).
    b = _Batch(g, "ncsc", "cni", Tlp.RED, ("water",), Pap.RED, days_ago=11)
    brackish = b.sdo("Operation Brackish")
    b.rels(brackish, "uses", [penstock, caps["T0883"], caps["T0855"], caps["T1133"]])
    b.rel(brackish, "targets", water)
    red = b.indicators(19, "Operation Brackish", [brackish, penstock], _OT, 0.6)
    b.publish(
        "Targeted intrusion at a UK water utility: OT-adjacent access",
        "Hands-on activity reaching engineering workstations. Do not share beyond named staff.",
        ("threat-report", "campaign"),
    )

    # 11. Water utility sightings and OT indicators back to the NCSC (TLP:AMBER).
    b = _Batch(g, "water", "cni", Tlp.AMBER, ("ncsc",), Pap.AMBER, days_ago=8)
    b.sightings(alert[:7])
    b.indicators(10, "Water OT network anomaly", [lockweir, penstock], _OT, 0.6)
    b.publish(
        "Indicators observed in a water utility OT network",
        "Sightings of the NCSC PENSTOCK alert and anomalies at our OT boundary.",
        ("observed-data", "indicator"),
    )

    # 12. Water utility on-site findings to the NCSC (TLP:RED).
    b = _Batch(g, "water", "cni", Tlp.RED, ("ncsc",), Pap.RED, days_ago=5)
    b.sightings(red[:6])
    b.indicators(7, "Operation Brackish on-site", [brackish], _OT, 1.0)
    b.publish(
        "Operation Brackish: on-site findings",
        "Sightings and host artefacts from our incident response.",
        ("threat-report", "indicator"),
    )

    # 13. NCSC weekly bulletin (TLP:GREEN): revises earlier indicators and adds new ones.
    b = _Batch(g, "ncsc", "intel", Tlp.GREEN, pap=Pap.GREEN, days_ago=2)
    originals = {str(o["id"]): o for o in g.batches[1].objects}
    for n, indicator_id in enumerate(intel_green[-5:]):
        revised = copy.deepcopy(originals[indicator_id])
        revised["modified"] = _ts(b.tick())
        if n < 3:
            revised["revoked"] = True
        else:
            revised["confidence"] = 95
            revised["description"] = f"{revised['description']} Confirmed by a partner."
        b.objects.append(revised)
    b.indicators(10, f"Edge Sweep {year}", [quayside, cableknot, edge], _EDGE, 0.6)
    b.publish(
        "Weekly bulletin: Edge Sweep infrastructure changes",
        "Three retired C2 indicators revoked, two confirmed, ten new.",
        ("threat-report", "indicator"),
    )

    if g.clock > moment:
        raise RuntimeError("demo timestamps ran past now")
    return g.batches
