<#
.SYNOPSIS
    Lets GetJoinUrl's managed identity read online meetings: creates (or updates) a Teams application access
    policy for its app ID and grants the policy to organizers, or to the whole tenant.

.DESCRIPTION
    Graph answers app-only calls on /users/{id}/onlineMeetings only for organizers whose Teams application
    access policy names the calling app. Without it Graph returns 403 ("No application access policy found for
    this app"), even when the Graph app roles are granted.

    The script:
      1. connects to Microsoft Teams unless a session exists (Connect-MicrosoftTeams; needs a Teams
         Administrator or Global Administrator);
      2. creates the policy with New-CsApplicationAccessPolicy, or, when it exists, adds the app ID to it with
         Set-CsApplicationAccessPolicy (app IDs already listed are left alone);
      3. grants it with Grant-CsApplicationAccessPolicy to each organizer, or with -Global to every user
         who has no per-user application access policy.

    Running it again is safe. Changes take effect in Teams after a while: allow up to 30 minutes before
    expecting Graph to stop answering 403.

.PARAMETER AppId
    Client (application) ID of the function app's managed identity: the azd output MANAGED_IDENTITY_CLIENT_ID
    (azd env get-value MANAGED_IDENTITY_CLIENT_ID). Not the principal (object) ID.

.PARAMETER PolicyName
    Name of the application access policy. Default: GetJoinUrl-Policy.

.PARAMETER Organizers
    Users (UPN, SIP address or object ID) whose meetings the app may read.

.PARAMETER Global
    Grant the policy tenant-wide instead of per organizer. Users with a per-user application access policy keep
    theirs.

.EXAMPLE
    ./scripts/Grant-TeamsAccessPolicy.ps1 -AppId (azd env get-value MANAGED_IDENTITY_CLIENT_ID) -Organizers adele.vance@contoso.com, alex.wilber@contoso.com

.EXAMPLE
    ./scripts/Grant-TeamsAccessPolicy.ps1 -AppId 11111111-2222-3333-4444-555555555555 -Global

.NOTES
    Requires the MicrosoftTeams PowerShell module: Install-Module MicrosoftTeams -Scope CurrentUser
    Supports -WhatIf and -Confirm.
    https://learn.microsoft.com/graph/cloud-communication-online-meeting-application-access-policy
#>
[CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Organizers')]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$')]
    [string] $AppId,

    [ValidateNotNullOrEmpty()]
    [string] $PolicyName = 'GetJoinUrl-Policy',

    [Parameter(Mandatory = $true, ParameterSetName = 'Organizers')]
    [ValidateNotNullOrEmpty()]
    [string[]] $Organizers,

    [Parameter(Mandatory = $true, ParameterSetName = 'Global')]
    [switch] $Global
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

if (-not (Get-Module -ListAvailable -Name MicrosoftTeams)) {
    throw 'The MicrosoftTeams module is missing. Install it with: Install-Module MicrosoftTeams -Scope CurrentUser'
}
Import-Module MicrosoftTeams

# Reuse a session when there is one; otherwise sign in interactively.
try {
    Get-CsTenant | Out-Null
}
catch {
    Write-Host 'Connecting to Microsoft Teams...'
    Connect-MicrosoftTeams | Out-Null
}

# Not found is an error from this cmdlet: treat any failure as "no such policy" (New- then reports real errors).
$policy = $null
try {
    $policy = Get-CsApplicationAccessPolicy -Identity $PolicyName -ErrorAction Stop
}
catch {
    $policy = $null
}
if ($null -eq $policy) {
    if ($PSCmdlet.ShouldProcess($PolicyName, "Create application access policy for app $AppId")) {
        New-CsApplicationAccessPolicy -Identity $PolicyName -AppIds $AppId `
            -Description 'GetJoinUrl: lets the function app read online meetings of the organizers it is granted to.' | Out-Null
        Write-Host "Created policy $PolicyName for app $AppId."
    }
}
elseif (@($policy.AppIds) -contains $AppId) {
    Write-Host "Policy $PolicyName already lists app $AppId."
}
elseif ($PSCmdlet.ShouldProcess($PolicyName, "Add app $AppId to application access policy")) {
    Set-CsApplicationAccessPolicy -Identity $PolicyName -AppIds @{ Add = $AppId }
    Write-Host "Added app $AppId to policy $PolicyName."
}

if ($Global) {
    if ($PSCmdlet.ShouldProcess('the tenant (global)', "Grant application access policy $PolicyName")) {
        Grant-CsApplicationAccessPolicy -PolicyName $PolicyName -Global
        Write-Host "Granted $PolicyName tenant-wide (users with their own per-user policy keep it)."
    }
}
else {
    $failed = @()
    foreach ($organizer in $Organizers) {
        if (-not $PSCmdlet.ShouldProcess($organizer, "Grant application access policy $PolicyName")) {
            continue
        }
        try {
            Grant-CsApplicationAccessPolicy -PolicyName $PolicyName -Identity $organizer
            Write-Host "Granted $PolicyName to $organizer."
        }
        catch {
            Write-Warning "Could not grant $PolicyName to ${organizer}: $($_.Exception.Message)"
            $failed += $organizer
        }
    }
    if ($failed.Count -gt 0) {
        throw "Not granted to: $($failed -join ', '). Fix these and run the script again."
    }
}

Write-Host ''
Write-Host 'Done. Teams applies application access policies within about 30 minutes; until then Graph may'
Write-Host 'still answer 403 "No application access policy found for this app".'
