"""ansible-core as the oracle for tests/ansible_oracle.rs.

Reads a JSON list of {"path": INVENTORY, "patterns": [...]} on stdin and
prints one JSON object per inventory: the load error, or each host's
connection vars and, for every pattern, the hosts `--limit PATTERN`
selects (Ansible's InventoryManager.subset, then get_hosts("all")) or
the error Ansible raises. A pattern term that matches nothing is an error
here (HOST_PATTERN_MISMATCH=error), as it is in remote-run.
"""

import json
import os
import sys

os.environ.update(
    {
        "ANSIBLE_HOST_PATTERN_MISMATCH": "error",
        "ANSIBLE_INVENTORY_ENABLED": "ini,yaml",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "True",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_NOCOLOR": "1",
    }
)

from ansible.errors import AnsibleError  # noqa: E402
from ansible.inventory.manager import InventoryManager  # noqa: E402
from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.vars.manager import VariableManager  # noqa: E402

CONNECTION = {
    "address": ("ansible_host", "ansible_ssh_host"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "user": ("ansible_user", "ansible_ssh_user"),
}


def connection(variables):
    out = {}
    for field, names in CONNECTION.items():
        value = next((variables[n] for n in names if n in variables), None)
        out[field] = None if value is None else str(value)
    return out


def judge(request):
    loader = DataLoader()
    try:
        inventory = InventoryManager(loader=loader, sources=[request["path"]])
    except Exception as err:  # noqa: BLE001 (any failure is "refused")
        return {"error": str(err)}
    manager = VariableManager(loader=loader, inventory=inventory)
    try:
        hosts = {
            host.name: connection(manager.get_vars(host=host, include_hostvars=False))
            for host in inventory.get_hosts("all")
        }
    except Exception as err:  # noqa: BLE001 (vars Ansible cannot read)
        return {"vars_error": str(err).splitlines()[0], "hosts": {}, "results": []}
    results = []
    for pattern in request["patterns"]:
        inventory.subset(pattern)
        try:
            chosen = [h.name for h in inventory.get_hosts("all")]
            results.append({"hosts": chosen})
        except (AnsibleError, Exception) as err:  # noqa: BLE001
            results.append({"error": str(err).splitlines()[0]})
        finally:
            inventory.subset(None)
    return {"hosts": hosts, "results": results}


def main():
    for request in json.load(sys.stdin):
        print(json.dumps(judge(request)), flush=True)


if __name__ == "__main__":
    main()
