"""A segment's VNI by the best evidence the manager gives: its intent, else what it realized.

`overlay_id` is optional in the intent (NSX allocates one when none is asked for), so where it
is absent the realized logical switch is asked: `GET .../realized-state/realized-entities?
intent_path=<segment>` names the `RealizedLogicalSwitch` (`realization_specific_identifier`),
and the Manager API's `GET /api/v1/logical-switches/<id>` carries its `vni` (the VNI of RFC 8926
and RFC 7348 on the wire). A user refused those endpoints leaves the segment to the wire: the
VNI its ports' MACs are seen on (`bindings/nsx.py`). VLAN segments have no VNI.
"""

from __future__ import annotations

from typing import Any

from detector.errors import NsxRefused
from detector.nsx.client import NsxClient
from detector.nsx.realized import a_vni
from detector.nsx.scopes import root_of

MANAGER_API = "/api/v1"
REALIZED_KEYS = ("entity_type", "realization_specific_identifier")  # of a realized entity
VNI_KEY = "vni"  # of the Manager API's LogicalSwitch


def resolve(client: NsxClient, segment: dict[str, Any]) -> dict[str, Any]:
    """`vni` and `vni_method` (intent, realized) for the snapshot, or `vni_method` none with
    the reason in `vni_unmapped` (vlan-segment, refused, not-realized)."""
    intent = a_vni(segment.get("overlay_id"))
    if intent is not None:
        return {"vni": intent, "vni_method": "intent"}
    if segment.get("vlan_ids"):
        return {"vni_method": "none", "vni_unmapped": "vlan-segment"}
    path = segment["path"]
    try:
        entities = client.list(
            f"{root_of(path)}/realized-state/realized-entities", intent_path=path
        )
        switch = next(
            (
                e.get(REALIZED_KEYS[1])
                for e in entities
                if isinstance(e, dict) and e.get(REALIZED_KEYS[0]) == "RealizedLogicalSwitch"
            ),
            None,
        )
        if not isinstance(switch, str) or not switch.replace("-", "").isalnum():
            return {"vni_method": "none", "vni_unmapped": "not-realized"}
        found = a_vni(client.get(f"/logical-switches/{switch}", api=MANAGER_API).get(VNI_KEY))
    except NsxRefused as exc:
        return {"vni_method": "none", "vni_unmapped": f"refused-{exc.status}"}
    if found is None:
        return {"vni_method": "none", "vni_unmapped": "not-realized"}
    return {"vni": found, "vni_method": "realized", "logical_switch": switch}
