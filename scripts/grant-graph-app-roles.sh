#!/usr/bin/env bash
# Grants Microsoft Graph application permissions (app roles) to GetJoinUrl's managed identity: what
# infra/app/graph-app-roles.bicep does during `azd up`, for when the deployment did not (GRANT_GRAPH_APP_ROLES=false,
# or a deployer without the right). The Azure portal cannot grant app roles to a managed identity.
#
#   scripts/grant-graph-app-roles.sh <identity object ID> [role ...]
#
# Roles default to VirtualAppointment.Read.All and OnlineMeetings.Read.All. The object ID is the identity's
# service principal (azd env get-value MANAGED_IDENTITY_PRINCIPAL_ID; GetJoinUrl's 403 GraphPermissionMissing and
# /api/diagnose print it). Needs the Azure CLI signed in (az login) as someone who may grant app roles
# (AppRoleAssignment.ReadWrite.All and Application.Read.All, e.g. a Privileged Role Administrator).
# Running it again is safe: roles already granted are left alone.
#
# The function sees a new role only in a newly issued token: the platform caches managed-identity tokens for up to
# 24 hours, and restarting the app does not clear that cache.
set -euo pipefail

GRAPH_APP_ID=00000003-0000-0000-c000-000000000000
GUID='^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'

principal=${1:-}
if [[ ! $principal =~ $GUID ]]; then
  echo "usage: $0 <identity object ID (a GUID)> [role ...]" >&2
  exit 2
fi
shift
roles=("$@")
[[ ${#roles[@]} -gt 0 ]] || roles=(VirtualAppointment.Read.All OnlineMeetings.Read.All)

graph_sp=$(az ad sp show --id "$GRAPH_APP_ID" --query id -o tsv)
assignments="https://graph.microsoft.com/v1.0/servicePrincipals/$principal/appRoleAssignments"
for role in "${roles[@]}"; do
  if [[ ! $role =~ ^[A-Za-z]+(\.[A-Za-z]+)+$ ]]; then
    echo "$role is not a Microsoft Graph permission name such as VirtualAppointment.Read.All" >&2
    exit 2
  fi
  role_id=$(az ad sp show --id "$GRAPH_APP_ID" \
    --query "appRoles[?value=='$role' && contains(allowedMemberTypes, 'Application')].id | [0]" -o tsv)
  if [[ -z $role_id ]]; then
    echo "Microsoft Graph has no application permission named $role" >&2
    exit 1
  fi
  granted=$(az rest --method GET --url "$assignments" --query "value[?appRoleId=='$role_id'].id | [0]" -o tsv)
  if [[ -n $granted ]]; then
    echo "$role: already granted"
    continue
  fi
  az rest --method POST --url "$assignments" --headers "Content-Type=application/json" --output none \
    --body "{\"principalId\": \"$principal\", \"resourceId\": \"$graph_sp\", \"appRoleId\": \"$role_id\"}"
  echo "$role: granted"
done
echo "The function gets the new roles with its next token: up to 24 hours (a restart does not help)."
