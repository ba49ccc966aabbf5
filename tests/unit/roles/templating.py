"""For the tests that render the roles' templates with a bare templar (no playbook): what the
roles' vars ask of the collection's own filters, and Ansible's collection loader for their
ansible.builtin lookups."""
from pathlib import Path

from ansible.plugins.loader import init_plugin_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig

from ansible_collections.visiquate.ccproxy.plugins.filter.litellm_workers import litellm_workers

COLLECTIONS = Path(__file__).resolve().parents[3] / "collections"


def with_filters(variables):
    """`variables` with the values the roles' vars compute through visiquate.ccproxy filters, from
    the same functions: traefik_route's LiteLLM workers."""
    if AnsibleCollectionConfig.collection_finder is None:  # as ansible-playbook starts
        init_plugin_loader([str(COLLECTIONS)])
    variables["_ccproxy_traefik_litellm_workers"] = litellm_workers(
        variables["ccproxy_label"], variables["ccproxy_litellm_port"], variables["ccproxy_litellm_workers"],
        variables["ccproxy_litellm_extra_ports_from"])
    return variables
