"""For the tests that render the roles' templates with a bare templar (no playbook, so no
collection loader): what the roles' vars ask of the collection's own filters."""

from ansible_collections.visiquate.ccproxy.plugins.filter.litellm_workers import litellm_workers


def with_filters(variables):
    """`variables` with the values the roles' vars compute through visiquate.ccproxy filters, from
    the same functions: traefik_route's LiteLLM workers."""
    variables["_ccproxy_traefik_litellm_workers"] = litellm_workers(
        variables["ccproxy_label"], variables["ccproxy_litellm_port"], variables["ccproxy_litellm_workers"],
        variables["ccproxy_litellm_extra_ports_from"])
    return variables
