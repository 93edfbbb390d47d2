"""IP discovery profiles read from Policy (nested) and Manager (flat) field names alike."""

from __future__ import annotations

from detector.nsx.profiles import Discovery, discovery_of


def test_policy_nested_fields() -> None:
    raw = {
        "ip_v4_discovery_options": {
            "arp_snooping_config": {"arp_snooping_enabled": False, "arp_binding_limit": 4},
            "dhcp_snooping_enabled": False,
        },
        "ip_v6_discovery_options": {"nd_snooping_config": {"nd_snooping_enabled": True}},
        "tofu_enabled": False,
    }
    assert discovery_of(raw) == Discovery(
        arp_snooping=False, arp_limit=4, dhcp_snooping=False, nd_snooping=True, tofu=False
    )


def test_manager_flat_fields_and_defaults() -> None:
    raw = {"arp_bindings_limit": 7, "trust_on_first_use_enabled": False, "nd_bindings_limit": 5,
           "arp_nd_binding_timeout": 20, "vm_tools_enabled": False}  # fmt: skip
    assert discovery_of(raw) == Discovery(
        arp_limit=7, tofu=False, nd_limit=5, timeout_minutes=20, vmtools=False
    )
    assert discovery_of(None) == discovery_of({}) == Discovery()
