package graph

import (
	"regexp"
	"slices"
	"strings"
)

// UserFlowKind tells the two user-flow collections apart: b2xUserFlows
// (self-service sign-up in workforce tenants) and b2cUserFlows (Azure AD
// B2C tenants, beta).
type UserFlowKind string

// The user-flow kinds.
const (
	FlowB2X UserFlowKind = "b2x"
	FlowB2C UserFlowKind = "b2c"
)

// Prefix is what Graph prepends to a new flow's name.
func (k UserFlowKind) Prefix() string {
	if k == FlowB2C {
		return "B2C_1_"
	}
	return "B2X_1_"
}

// TenantKind is the kind of tenant that has flows of kind k.
func (k UserFlowKind) TenantKind() TenantKind {
	if k == FlowB2C {
		return TenantB2C
	}
	return TenantWorkforce
}

// UserFlow is a b2xIdentityUserFlow or b2cIdentityUserFlow, with the
// references it holds: the API connector of each step and the identity
// providers it offers.
type UserFlow struct {
	ID                  string       `json:"id"` // B2X_1_{name} or B2C_1_{name}
	Kind                UserFlowKind `json:"kind"`
	UserFlowType        string       `json:"userFlowType"`
	UserFlowTypeVersion float64      `json:"userFlowTypeVersion"`
	// b2c only.
	IsLanguageCustomizationEnabled bool   `json:"isLanguageCustomizationEnabled,omitempty"`
	DefaultLanguageTag             string `json:"defaultLanguageTag,omitempty"`
	// APIConnectors maps a step (StepPostFederationSignup, ...) to the id of
	// the API connector it calls.
	APIConnectors map[string]string `json:"apiConnectors,omitempty"`
	// IdentityProviders are the ids of the providers the flow offers.
	IdentityProviders []string `json:"identityProviders,omitempty"`
}

// The steps of a user flow that can call an API connector.
const (
	StepPostFederationSignup    = "postFederationSignup"
	StepPostAttributeCollection = "postAttributeCollection"
	StepPreTokenIssuance        = "preTokenIssuance" // beta only
)

// Steps returns the steps of userFlowApiConnectorConfiguration in the API
// version, in the order Graph lists them.
func Steps(beta bool) []string {
	if beta {
		return []string{StepPostFederationSignup, StepPostAttributeCollection, StepPreTokenIssuance}
	}
	return []string{StepPostFederationSignup, StepPostAttributeCollection}
}

// CanonicalStep returns the canonical spelling of a step name.
func CanonicalStep(name string, beta bool) (string, bool) {
	for _, s := range Steps(beta) {
		if strings.EqualFold(s, name) {
			return s, true
		}
	}
	return "", false
}

// The userFlowType values.
var userFlowTypes = []string{"signUp", "signIn", "signUpOrSignIn", "passwordReset", "profileUpdate", "resourceOwner"}

// CanonicalUserFlowType returns the canonical spelling of a userFlowType.
func CanonicalUserFlowType(s string) (string, bool) {
	for _, t := range userFlowTypes {
		if strings.EqualFold(t, s) {
			return t, true
		}
	}
	return "", false
}

var flowNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

// UserFlowID turns the name a client sends into the flow's id: the kind's
// prefix is prepended unless the name already carries it.
func UserFlowID(k UserFlowKind, name string) (string, error) {
	if len(name) >= len(k.Prefix()) && strings.EqualFold(name[:len(k.Prefix())], k.Prefix()) {
		name = name[len(k.Prefix()):]
	}
	if !flowNameRE.MatchString(name) {
		return "", Errorf(KindInvalid, "id must be 1 to 100 letters, digits, '_' or '-' (the %s prefix is added).", k.Prefix())
	}
	return k.Prefix() + name, nil
}

// Validate reports the first problem that makes f unacceptable to store.
func (f *UserFlow) Validate() error {
	switch f.Kind {
	case FlowB2X:
		// Self-service sign-up flows are always signUpOrSignIn version 1.
		if f.UserFlowType != "signUpOrSignIn" {
			return Errorf(KindInvalid, "userFlowType must be 'signUpOrSignIn' for a b2xIdentityUserFlow.")
		}
		if f.UserFlowTypeVersion != 1 {
			return Errorf(KindInvalid, "userFlowTypeVersion must be 1 for a b2xIdentityUserFlow.")
		}
	case FlowB2C:
		if _, ok := CanonicalUserFlowType(f.UserFlowType); !ok {
			return Errorf(KindInvalid, "userFlowType must be one of %s.", strings.Join(userFlowTypes, ", "))
		}
		if !slices.Contains([]float64{1, 2, 3}, f.UserFlowTypeVersion) {
			return Errorf(KindInvalid, "userFlowTypeVersion must be 1, 2 or 3.")
		}
		if len(f.DefaultLanguageTag) > 35 {
			return Errorf(KindInvalid, "defaultLanguageTag must be a language tag such as 'en'.")
		}
	default:
		return Errorf(KindInvalid, "unknown user flow kind %q", f.Kind)
	}
	return nil
}

// UsesConnector returns the first step of f that calls connector id.
func (f *UserFlow) UsesConnector(id string) (string, bool) {
	for _, s := range Steps(true) {
		if c, ok := f.APIConnectors[s]; ok && strings.EqualFold(c, id) {
			return s, true
		}
	}
	return "", false
}

// UsesProvider reports whether f offers the identity provider id.
func (f *UserFlow) UsesProvider(id string) bool {
	return slices.ContainsFunc(f.IdentityProviders, func(p string) bool { return strings.EqualFold(p, id) })
}
