"""Every NSX field the client reads is a field of VMware's own published model.

The list below names, for each (model, field) pair spoofwatch reads, the public source that
defines it: the Policy API models of the Go SDK (`vmware/vsphere-automation-sdk-go`,
`services/nsxt/model/ModelPackageTypes.go`, whose binding types spell each JSON field name) and,
for the Manager API's logical switch, `vmware/go-vmware-nsxt` (`manager/logical_switch.go`). A
field the client starts reading must be added here with its source, so a misspelled or invented
name fails this test instead of silently reading nothing from a real manager.
"""

from __future__ import annotations

from detector.nsx import profiles, pull, vni

SDK = "vsphere-automation-sdk-go services/nsxt/model/ModelPackageTypes.go"
MANAGER = "go-vmware-nsxt manager/logical_switch.go"
RESOURCE = ("path", "id", "display_name", "tags")  # PolicyConfigResource, on every object
KNOWN: dict[tuple[str, str], str] = {
    **{("Segment", f): SDK for f in (*RESOURCE, "overlay_id", "vlan_ids", "type")},
    **{
        ("SegmentPort", f): SDK
        for f in (*RESOURCE, "attachment", "address_bindings", "ignored_address_bindings")
    },
    **{("PortAttachment", f): SDK for f in ("id", "type", "context_id", "traffic_tag")},
    **{
        ("SegmentPortState", f): SDK
        for f in ("realized_bindings", "discovered_bindings", "duplicate_bindings")
    },
    **{
        ("AddressBindingEntry", f): SDK
        for f in ("binding", "source", "binding_timestamp", "conflicting_port")
    },
    **{("PacketAddressClassifier", f): SDK for f in ("ip_address", "mac_address", "vlan")},
    **{("PortAddressBindingEntry", f): SDK for f in ("ip_address", "mac_address", "vlan_id")},
    ("SegmentSecurityProfileBindingMap", "spoofguard_profile_path"): SDK,
    ("SegmentDiscoveryProfileBindingMap", "ip_discovery_profile_path"): SDK,
    ("PortSecurityProfileBindingMap", "spoofguard_profile_path"): SDK,
    ("PortDiscoveryProfileBindingMap", "ip_discovery_profile_path"): SDK,
    ("SpoofGuardProfile", "address_binding_allowlist"): SDK,
    **{("Group", f): SDK for f in (*RESOURCE, "expression")},
    **{("SecurityPolicy", f): SDK for f in (*RESOURCE, "category", "sequence_number", "scope")},
    **{
        ("Rule", f): SDK
        for f in (
            *RESOURCE,
            "action",
            "disabled",
            "source_groups",
            "destination_groups",
            "sources_excluded",
            "destinations_excluded",
            "sequence_number",
            "scope",
        )
    },
    **{
        ("VirtualNetworkInterface", f): SDK
        for f in ("external_id", "lport_attachment_id", "owner_vm_id", "mac_address")
    },
    **{
        ("GenericPolicyRealizedResource", f): SDK
        for f in ("entity_type", "realization_specific_identifier")
    },
    ("LogicalSwitch", "vni"): MANAGER,
    **{("Tier1", f): SDK for f in RESOURCE},
    **{("Project", f): SDK for f in RESOURCE},
    # IPDiscoveryProfile, nested as the Policy API nests it (the Manager's flat names are in
    # detector/nsx/profiles.py beside them)
    ("IPDiscoveryProfile", "ip_v4_discovery_options"): SDK,
    ("IPDiscoveryProfile", "ip_v6_discovery_options"): SDK,
    ("IPDiscoveryProfile", "tofu_enabled"): SDK,
    ("IPDiscoveryProfile", "arp_nd_binding_timeout"): SDK,
    ("IPDiscoveryProfile", "duplicate_ip_detection"): SDK,
    ("DuplicateIPDetectionOptions", "duplicate_ip_detection_enabled"): SDK,
    ("IPv4DiscoveryOptions", "arp_snooping_config"): SDK,
    ("IPv4DiscoveryOptions", "dhcp_snooping_enabled"): SDK,
    ("IPv4DiscoveryOptions", "vmtools_enabled"): SDK,
    ("ArpSnoopingConfig", "arp_snooping_enabled"): SDK,
    ("ArpSnoopingConfig", "arp_binding_limit"): SDK,
    ("IPv6DiscoveryOptions", "nd_snooping_config"): SDK,
    ("IPv6DiscoveryOptions", "dhcp_snooping_v6_enabled"): SDK,
    ("IPv6DiscoveryOptions", "vmtools_v6_enabled"): SDK,
    ("NdSnoopingConfig", "nd_snooping_enabled"): SDK,
    ("NdSnoopingConfig", "nd_snooping_limit"): SDK,
}
# Models whose fields the profile paths walk through, in the order a path nests them.
PROFILE_MODELS = {
    "ip_v4_discovery_options": "IPv4DiscoveryOptions",
    "ip_v6_discovery_options": "IPv6DiscoveryOptions",
    "arp_snooping_config": "ArpSnoopingConfig",
    "nd_snooping_config": "NdSnoopingConfig",
    "duplicate_ip_detection": "DuplicateIPDetectionOptions",
}


def fields_read() -> set[tuple[str, str]]:
    """What the client reads: the keys the pull keeps, the profile paths, the realized VNI."""
    read = {("Segment", k) for k in pull.SEGMENT_KEYS}
    read |= {("SegmentPort", k) for k in pull.PORT_KEYS}
    read |= {("SegmentPortState", k) for k in pull.STATE_KEYS}
    read |= {("Group", k) for k in pull.GROUP_KEYS}
    read |= {("SecurityPolicy", k) for k in pull.POLICY_KEYS}
    read |= {("Rule", k) for k in pull.RULE_KEYS}
    read |= {("VirtualNetworkInterface", k) for k in pull.VIF_KEYS}
    maps = ("SegmentSecurityProfileBindingMap", "SegmentDiscoveryProfileBindingMap")
    maps += ("PortSecurityProfileBindingMap", "PortDiscoveryProfileBindingMap")
    for model in maps:
        wanted = "spoofguard_profile_path" if "Security" in model else "ip_discovery_profile_path"
        read |= {(model, k) for k in pull.MAP_KEYS if k == wanted}
    for path, _manager in profiles.FIELDS.values():
        model = "IPDiscoveryProfile"
        for key in path:
            read.add((model, key))
            model = PROFILE_MODELS.get(key, model)
    read |= {("GenericPolicyRealizedResource", k) for k in vni.REALIZED_KEYS}
    read.add(("LogicalSwitch", vni.VNI_KEY))
    return read


def test_every_field_the_client_reads_is_in_the_published_model_list() -> None:
    unknown = sorted(fields_read() - set(KNOWN))
    assert unknown == [], f"fields read that no VMware model lists here: {unknown}"


def test_the_list_catches_a_misspelled_field(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(pull, "PORT_KEYS", (*pull.PORT_KEYS, "ignored_adress_bindings"))
    assert sorted(fields_read() - set(KNOWN)) == [("SegmentPort", "ignored_adress_bindings")]
