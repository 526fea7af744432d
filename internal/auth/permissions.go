package auth

import (
	"slices"

	"github.com/idgraph/idgraph/internal/graph"
)

// Directory role template ids (spec §5.3).
const (
	RoleGlobalAdministrator                   = "62e90394-69f5-4237-9190-012177145e10"
	RoleExternalIdentityProviderAdministrator = "be2f45a1-457d-42af-a067-6ec1fa63bc45"
	RoleExternalIDUserFlowAdministrator       = "6e591065-9bad-43ed-90f3-e9424366d2f0"
)

// Resource actions a custom role can grant (spec §5.3).
const (
	ActionIdentityProviders = "microsoft.directory/identityProviders/allProperties/allTasks"
	ActionB2CUserFlow       = "microsoft.directory/b2cUserFlow/allProperties/allTasks"
)

// Permission names (spec §5.2).
const (
	APIConnectorsReadWriteAll    = "APIConnectors.ReadWrite.All"
	IdentityProviderReadAll      = "IdentityProvider.Read.All"
	IdentityProviderReadWriteAll = "IdentityProvider.ReadWrite.All"
	IdentityUserFlowReadAll      = "IdentityUserFlow.Read.All"
	IdentityUserFlowReadWriteAll = "IdentityUserFlow.ReadWrite.All"
)

// Requirement says who may run one operation.
type Requirement struct {
	Application    []string // any of these in roles allows an app-only token
	Delegated      []string // any of these in scp is needed by a user token ...
	DirectoryRoles []string // ... plus any of these role template ids in wids ...
	RoleActions    []string // ... or a custom role in wids granting one of these actions
}

// Policy is an operation's requirement under each profile.
type Policy struct {
	Name    string      // the operation, for logs
	Current Requirement // today's Graph
	Classic Requirement // the classic profile (decision D1)
}

// For returns the requirement under profile p.
func (pol Policy) For(p graph.Profile) Requirement {
	if p == graph.ProfileClassic {
		return pol.Classic
	}
	return pol.Current
}

var (
	connectorRoles = []string{RoleGlobalAdministrator, RoleExternalIDUserFlowAdministrator}
	connector      = Requirement{
		Application:    []string{APIConnectorsReadWriteAll},
		Delegated:      []string{APIConnectorsReadWriteAll},
		DirectoryRoles: connectorRoles,
		RoleActions:    []string{ActionB2CUserFlow},
	}
	// The classic revision listed IdentityUserFlow permissions; the classic
	// profile accepts them besides today's APIConnectors.ReadWrite.All.
	connectorClassic       = connector.with(IdentityUserFlowReadWriteAll)
	connectorClassicUpdate = connector.with(IdentityUserFlowReadAll, IdentityUserFlowReadWriteAll)

	providerRead = Requirement{
		Application:    []string{IdentityProviderReadAll, IdentityProviderReadWriteAll},
		Delegated:      []string{IdentityProviderReadAll, IdentityProviderReadWriteAll},
		DirectoryRoles: []string{RoleGlobalAdministrator, RoleExternalIdentityProviderAdministrator, RoleExternalIDUserFlowAdministrator},
		RoleActions:    []string{ActionIdentityProviders},
	}
	flowRead = Requirement{
		Application:    []string{IdentityUserFlowReadAll, IdentityUserFlowReadWriteAll},
		Delegated:      []string{IdentityUserFlowReadAll, IdentityUserFlowReadWriteAll},
		DirectoryRoles: connectorRoles,
		RoleActions:    []string{ActionB2CUserFlow},
	}
	flowWrite = Requirement{
		Application:    []string{IdentityUserFlowReadWriteAll},
		Delegated:      []string{IdentityUserFlowReadWriteAll},
		DirectoryRoles: connectorRoles,
		RoleActions:    []string{ActionB2CUserFlow},
	}
	providerWrite = Requirement{
		Application:    []string{IdentityProviderReadWriteAll},
		Delegated:      []string{IdentityProviderReadWriteAll},
		DirectoryRoles: []string{RoleGlobalAdministrator, RoleExternalIdentityProviderAdministrator},
		RoleActions:    []string{ActionIdentityProviders},
	}
)

func (r Requirement) with(perms ...string) Requirement {
	r.Application = append(slices.Clone(r.Application), perms...)
	r.Delegated = append(slices.Clone(r.Delegated), perms...)
	return r
}

// The operations of the slice and who may run them (spec §2, decisions D1, D2).
var (
	APIConnectorList   = Policy{"apiConnectors.list", connector, connectorClassic}
	APIConnectorCreate = Policy{"apiConnectors.create", connector, connectorClassic}
	APIConnectorGet    = Policy{"apiConnectors.get", connector, connectorClassic}
	APIConnectorUpdate = Policy{"apiConnectors.update", connector, connectorClassicUpdate}
	APIConnectorDelete = Policy{"apiConnectors.delete", connector, connectorClassic}
	APIConnectorUpload = Policy{"apiConnectors.uploadClientCertificate", connector, connectorClassic}

	IdentityProviderRead  = Policy{"identityProviders.read", providerRead, providerRead}
	IdentityProviderWrite = Policy{"identityProviders.write", providerWrite, providerWrite}

	// User flows (spec §2.2, §2.5): reading a flow takes IdentityUserFlow.Read.All
	// or ReadWrite.All; its API-connector configuration and identity providers,
	// even to read, take ReadWrite.All, as the pages list.
	UserFlowRead       = Policy{"userFlows.read", flowRead, flowRead}
	UserFlowWrite      = Policy{"userFlows.write", flowWrite, flowWrite}
	UserFlowConnectors = Policy{"userFlows.apiConnectorConfiguration", flowWrite, flowWrite}
	UserFlowProviders  = Policy{"userFlows.identityProviders", flowWrite, flowWrite}
)

// ErrDenied is the answer to a principal that may not run an operation.
var ErrDenied = &graph.Error{Kind: graph.KindForbidden, Code: "Authorization_RequestDenied",
	Message: "Insufficient privileges to complete the operation."}

// CustomRoles resolves a wids entry to the resource actions of the tenant's
// custom role with that id (nil if there is none).
type CustomRoles func(roleID string) []string

// Authorize decides whether p may run an operation requiring req.
func Authorize(p graph.Principal, req Requirement, custom CustomRoles) error {
	if p.TenantID == graph.MSATenantID {
		return ErrDenied
	}
	if !p.Delegated {
		if anyIn(p.Roles, req.Application) {
			return nil
		}
		return ErrDenied
	}
	if !anyIn(p.Scopes, req.Delegated) {
		return ErrDenied
	}
	if anyIn(p.DirectoryRoles, req.DirectoryRoles) {
		return nil
	}
	if custom != nil {
		for _, id := range p.DirectoryRoles {
			if anyIn(custom(id), req.RoleActions) {
				return nil
			}
		}
	}
	return ErrDenied
}

func anyIn(have, allowed []string) bool {
	for _, h := range have {
		if slices.Contains(allowed, h) {
			return true
		}
	}
	return false
}
