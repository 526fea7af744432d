package graph

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// APIConnector is an identityApiConnector: an HTTPS endpoint that sign-up user
// flows call, with the credentials to call it.
type APIConnector struct {
	ID          string `json:"id"` // server-generated GUID; read-only
	DisplayName string `json:"displayName"`
	TargetURL   string `json:"targetUrl"` // the endpoint user flows call; never dialled by idgraph
	// Auth is the authentication configuration. Its Type is never empty on a
	// stored connector.
	Auth AuthConfig `json:"authenticationConfiguration"`
}

// AuthType names the stored authentication configuration of a connector.
type AuthType string

// The authentication configurations a connector can hold.
const (
	// AuthBasic is basicAuthentication: username and a write-only password.
	AuthBasic AuthType = "basicAuthentication"
	// AuthClientCertificate is clientCertificateAuthentication, the read-side
	// form of one or more uploaded PKCS#12 certificates.
	AuthClientCertificate AuthType = "clientCertificateAuthentication"
	// AuthNone is the abstract apiAuthenticationConfigurationBase with no
	// credentials, which only the classic profile accepts (decision D1).
	AuthNone AuthType = "apiAuthenticationConfigurationBase"
)

// AuthConfig is a connector's authentication configuration as stored.
type AuthConfig struct {
	Type     AuthType `json:"type"`
	Username string   `json:"username,omitempty"` // AuthBasic
	Password Sealed   `json:"password,omitempty"` // AuthBasic; write-only
	// Certificates lists uploaded certificates in upload order (AuthClientCertificate).
	Certificates []Certificate `json:"certificates,omitempty"`
}

// Certificate is one uploaded client certificate: what certificateList shows
// in clear, and the PKCS#12 material to use it, sealed.
type Certificate struct {
	Thumbprint string `json:"thumbprint"` // upper-case hex SHA-1 of the leaf certificate
	NotBefore  int64  `json:"notBefore"`  // epoch seconds
	NotAfter   int64  `json:"notAfter"`   // epoch seconds
	PKCS12     Sealed `json:"pkcs12"`     // the uploaded .pfx bytes
	Password   Sealed `json:"password"`   // the .pfx password (may seal "")
}

// ActiveCertificate returns the index of the active certificate: the most
// recently uploaded one that has started and not expired at now; -1 if none.
func (a *AuthConfig) ActiveCertificate(now time.Time) int {
	t := now.Unix()
	for i := len(a.Certificates) - 1; i >= 0; i-- {
		c := a.Certificates[i]
		if c.NotBefore <= t && t < c.NotAfter {
			return i
		}
	}
	return -1
}

// Limits on connector properties.
const (
	MaxDisplayNameLength = 256
	MaxTargetURLLength   = 2048
	MaxCertificates      = 10
)

// Validate reports the first problem that makes c unacceptable to store under
// profile p. It does not check permissions or uniqueness.
func (c *APIConnector) Validate(p Profile) error {
	if err := validateName("displayName", c.DisplayName); err != nil {
		return err
	}
	if err := ValidateTargetURL(c.TargetURL, p); err != nil {
		return err
	}
	switch c.Auth.Type {
	case AuthBasic:
		if c.Auth.Username == "" {
			return Errorf(KindInvalid, "authenticationConfiguration.username is required for basicAuthentication.")
		}
		if !c.Auth.Password.Set() {
			return Errorf(KindInvalid, "authenticationConfiguration.password is required for basicAuthentication.")
		}
	case AuthClientCertificate:
		if len(c.Auth.Certificates) == 0 {
			return Errorf(KindInvalid, "authenticationConfiguration must hold at least one certificate.")
		}
		if len(c.Auth.Certificates) > MaxCertificates {
			return Errorf(KindInvalid, "An API connector holds at most %d certificates.", MaxCertificates)
		}
	case AuthNone:
		if p != ProfileClassic {
			return Errorf(KindInvalid, "authenticationConfiguration must be basicAuthentication or pkcs12Certificate.")
		}
	default:
		return Errorf(KindInvalid, "authenticationConfiguration is required.")
	}
	return nil
}

// validateName checks a display name sent as property prop.
func validateName(prop, s string) error {
	if strings.TrimSpace(s) == "" {
		return Errorf(KindInvalid, "%s is required and cannot be empty.", prop)
	}
	if utf8.RuneCountInString(s) > MaxDisplayNameLength {
		return Errorf(KindInvalid, "%s must be at most %d characters.", prop, MaxDisplayNameLength)
	}
	return nil
}

// ValidateTargetURL checks a connector's targetUrl. The current profile wants
// an absolute https URL without user information, as today's Graph does; the
// classic profile accepts any non-empty string, as its example sends the
// placeholder "String".
func ValidateTargetURL(s string, p Profile) error {
	if strings.TrimSpace(s) == "" {
		return Errorf(KindInvalid, "targetUrl is required and cannot be empty.")
	}
	if len(s) > MaxTargetURLLength {
		return Errorf(KindInvalid, "targetUrl must be at most %d characters.", MaxTargetURLLength)
	}
	if p == ProfileClassic {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || !strings.EqualFold(u.Scheme, "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return Errorf(KindInvalid, "targetUrl must be an absolute https URL without user information.")
	}
	return nil
}
