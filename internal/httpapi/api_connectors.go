package httpapi

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/idgraph/idgraph/internal/certinfo"
	"github.com/idgraph/idgraph/internal/graph"
	"github.com/idgraph/idgraph/internal/secret"
	"github.com/idgraph/idgraph/internal/store"
)

// Wire shapes of identityApiConnector. None has a field that can carry a
// secret: passwords are written as the fixed mask.
type connectorJSON struct {
	Context   string `json:"@odata.context,omitempty"`
	Type      string `json:"@odata.type,omitempty"`
	ID        string `json:"id"`
	Name      string `json:"displayName"`
	TargetURL string `json:"targetUrl"`
	Auth      any    `json:"authenticationConfiguration"`
}

type basicAuthJSON struct {
	Type     string `json:"@odata.type"`
	Username string `json:"username"`
	Password string `json:"password"`
}

type certAuthJSON struct {
	Type         string     `json:"@odata.type"`
	Certificates []certJSON `json:"certificateList"`
}

type certJSON struct {
	Thumbprint string `json:"thumbprint"`
	NotAfter   int64  `json:"notAfter"`
	NotBefore  int64  `json:"notBefore"`
	IsActive   bool   `json:"isActive"`
}

type baseAuthJSON struct {
	Type string `json:"@odata.type"`
}

// renderConnector is the one place a stored connector becomes JSON.
func (s *Server) renderConnector(c graph.APIConnector) connectorJSON {
	out := connectorJSON{ID: c.ID, Name: c.DisplayName, TargetURL: c.TargetURL}
	switch c.Auth.Type {
	case graph.AuthBasic:
		out.Auth = basicAuthJSON{Type: "#microsoft.graph.basicAuthentication", Username: c.Auth.Username, Password: graph.MaskSix}
	case graph.AuthClientCertificate:
		active := c.Auth.ActiveCertificate(s.now())
		list := make([]certJSON, len(c.Auth.Certificates))
		for i, ct := range c.Auth.Certificates {
			list[i] = certJSON{Thumbprint: ct.Thumbprint, NotAfter: ct.NotAfter, NotBefore: ct.NotBefore, IsActive: i == active}
		}
		out.Auth = certAuthJSON{Type: "#microsoft.graph.clientCertificateAuthentication", Certificates: list}
	case graph.AuthNone:
		// Spelled as the classic revision's example returns it.
		out.Auth = baseAuthJSON{Type: "microsoft.graph.apiAuthenticationConfigurationBase"}
	}
	return out
}

// connectorEntity is a single-connector response body.
func (s *Server) connectorEntity(r *http.Request, c graph.APIConnector) connectorJSON {
	out := s.renderConnector(c)
	out.Context = s.contextURL(r, "identity/apiConnectors/$entity")
	out.Type = "#microsoft.graph.identityApiConnector"
	return out
}

func (s *Server) handleListAPIConnectors(w http.ResponseWriter, r *http.Request) {
	s.writeList(w, r, listSpec{coll: store.APIConnectors, context: s.contextURL(r, "identity/apiConnectors"),
		render: func(rec store.Record) (any, error) {
			v, err := s.connectors.Decode(rec)
			return s.renderConnector(v.Value), err
		}})
}

func (s *Server) handleGetAPIConnector(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	rec, err := s.store.Get(r.Context(), rc.tenant.ID, store.APIConnectors, rc.id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.connectors.Decode(rec)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeSelected(w, r, v.Version, s.connectorEntity(r, v.Value))
}

// connectorPatch is a decoded create or update body. Secrets in it are sealed.
type connectorPatch struct {
	name, targetURL *string
	auth            *authPatch
}

type authPatch struct {
	typ      graph.AuthType
	username *string
	password graph.Sealed // basic: nil when not sent
	cert     *graph.Certificate
}

// decodeConnector decodes an identityApiConnector body for the connector id
// in tenant. pathID is the id in the URL ("" on create).
func (s *Server) decodeConnector(w http.ResponseWriter, r *http.Request, tenant, id, pathID string) (connectorPatch, error) {
	var p connectorPatch
	o, err := readObject(w, r)
	if err != nil {
		return p, err
	}
	if t, ok, err := o.odataType(); err != nil {
		return p, err
	} else if ok && !strings.EqualFold(t, "identityApiConnector") {
		return p, graph.Errorf(graph.KindInvalid, "The @odata.type '%s' is not valid here: the body must be an identityApiConnector.", t)
	}
	if err := o.checkID(pathID); err != nil {
		return p, err
	}
	if v, ok, err := o.str("displayName"); err != nil {
		return p, err
	} else if ok {
		p.name = &v
	}
	if v, ok, err := o.str("targetUrl"); err != nil {
		return p, err
	} else if ok {
		p.targetURL = &v
	}
	if o.has("certificateList") {
		return p, readOnly("certificateList")
	}
	ao, ok, err := o.obj("authenticationConfiguration")
	if err != nil {
		return p, err
	}
	if err := o.rest("identityApiConnector"); err != nil {
		return p, err
	}
	if ok {
		if p.auth, err = s.decodeAuth(ao, tenant, id); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (s *Server) decodeAuth(o object, tenant, id string) (*authPatch, error) {
	t, ok, err := o.odataType()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, graph.Errorf(graph.KindInvalid,
			"authenticationConfiguration needs an @odata.type: #microsoft.graph.basicAuthentication or #microsoft.graph.pkcs12Certificate.")
	}
	a := &authPatch{}
	switch strings.ToLower(t) {
	case "basicauthentication":
		a.typ = graph.AuthBasic
		if v, ok, err := o.str("username"); err != nil {
			return nil, err
		} else if ok {
			a.username = &v
		}
		if v, ok, err := o.secret("password"); err != nil {
			return nil, err
		} else if ok {
			if v == "" {
				return nil, graph.Errorf(graph.KindInvalid, "authenticationConfiguration.password cannot be empty.")
			}
			if a.password, err = s.keys.Seal([]byte(v), secret.AAD(tenant, string(store.APIConnectors), id, "password")); err != nil {
				return nil, err
			}
		}
		return a, o.rest("basicAuthentication")
	case "pkcs12certificate":
		a.typ = graph.AuthClientCertificate
		cert, err := s.decodePKCS12(o, tenant, id)
		if err != nil {
			return nil, err
		}
		a.cert = cert
		return a, nil
	case "apiauthenticationconfigurationbase":
		a.typ = graph.AuthNone
		return a, o.rest("apiAuthenticationConfigurationBase")
	case "clientcertificateauthentication":
		return nil, graph.Errorf(graph.KindInvalid,
			"clientCertificateAuthentication is read-only: send a #microsoft.graph.pkcs12Certificate to set a certificate.")
	}
	return nil, graph.Errorf(graph.KindInvalid,
		"The @odata.type '%s' is not a supported authenticationConfiguration: use #microsoft.graph.basicAuthentication or #microsoft.graph.pkcs12Certificate.", t)
}

// decodePKCS12 reads pkcs12Value and password (both required; the password
// may be ""), opens the file and seals it.
func (s *Server) decodePKCS12(o object, tenant, id string) (*graph.Certificate, error) {
	value, ok, err := o.str("pkcs12Value")
	if err != nil {
		return nil, err
	}
	if !ok || value == "" {
		return nil, graph.Errorf(graph.KindInvalid, "%spkcs12Value is required.", o.path)
	}
	password, ok, err := o.str("password")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, graph.Errorf(graph.KindInvalid, "%spassword is required; send \"\" when the file has no password.", o.path)
	}
	if err := o.rest("pkcs12Certificate"); err != nil {
		return nil, err
	}
	pfx, err := base64.StdEncoding.DecodeString(strings.TrimSpace(value))
	if err != nil {
		if pfx, err = base64.RawStdEncoding.DecodeString(strings.TrimSpace(value)); err != nil {
			return nil, graph.Errorf(graph.KindInvalid, "%spkcs12Value must be the base64 encoding of a PKCS#12 (.pfx) file.", o.path)
		}
	}
	info, err := certinfo.Parse(pfx, password)
	if err != nil {
		return nil, err
	}
	field := "certificate/" + info.Thumbprint + "/"
	c := &graph.Certificate{Thumbprint: info.Thumbprint, NotBefore: info.NotBefore, NotAfter: info.NotAfter}
	if c.PKCS12, err = s.keys.Seal(pfx, secret.AAD(tenant, string(store.APIConnectors), id, field+"pkcs12")); err != nil {
		return nil, err
	}
	if c.Password, err = s.keys.Seal([]byte(password), secret.AAD(tenant, string(store.APIConnectors), id, field+"password")); err != nil {
		return nil, err
	}
	return c, nil
}

// apply merges a patch into a connector. A basicAuthentication patch without
// a password keeps the stored one (decision D6).
func (p connectorPatch) apply(c graph.APIConnector) graph.APIConnector {
	if p.name != nil {
		c.DisplayName = *p.name
	}
	if p.targetURL != nil {
		c.TargetURL = *p.targetURL
	}
	if a := p.auth; a != nil {
		next := graph.AuthConfig{Type: a.typ}
		switch a.typ {
		case graph.AuthBasic:
			if c.Auth.Type == graph.AuthBasic {
				next = c.Auth
			}
			if a.username != nil {
				next.Username = *a.username
			}
			if a.password != nil {
				next.Password = a.password
			}
		case graph.AuthClientCertificate:
			// A PATCH with pkcs12Certificate replaces the configuration.
			next.Certificates = []graph.Certificate{*a.cert}
		}
		c.Auth = next
	}
	return c
}

func (s *Server) handleCreateAPIConnector(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	id := uuid.NewString()
	p, err := s.decodeConnector(w, r, rc.tenant.ID, id, "")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c := p.apply(graph.APIConnector{ID: id})
	if err := c.Validate(rc.profile); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := store.CreateAs(r.Context(), s.store, rc.tenant.ID, store.APIConnectors, id, c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", s.graphRoot+"/"+rc.version+"/identity/apiConnectors/"+id)
	writeEntity(w, http.StatusCreated, v.Version, s.connectorEntity(r, v.Value))
}

func (s *Server) handleUpdateAPIConnector(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	// The id in the path may differ in case from the stored one; secrets are
	// bound to the id case-insensitively, so either spelling seals alike.
	p, err := s.decodeConnector(w, r, rc.tenant.ID, rc.id, rc.id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := store.UpdateAs(r.Context(), s.store, rc.tenant.ID, store.APIConnectors, rc.id,
		func(_ store.Tx, cur store.Versioned[graph.APIConnector]) (graph.APIConnector, error) {
			if err := checkIfMatch(r, cur.Version); err != nil {
				return cur.Value, err
			}
			next := p.apply(cur.Value)
			return next, next.Validate(rc.profile)
		})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeUpdated(w, r, rc.profile == graph.ProfileClassic, v.Version, func() any { return s.connectorEntity(r, v.Value) })
}

func (s *Server) handleDeleteAPIConnector(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	err := s.store.Delete(r.Context(), rc.tenant.ID, store.APIConnectors, rc.id, func(tx store.Tx, cur store.Record) error {
		if err := checkIfMatch(r, cur.Version); err != nil {
			return err
		}
		// A user flow step that calls the connector would dangle.
		return checkUnreferenced(tx, rc.tenant.ID, func(f *graph.UserFlow) (string, bool) {
			step, ok := f.UsesConnector(cur.ID)
			return "calls it at " + step, ok
		}, "API connector", cur.ID)
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeNoContent(w, 0)
}

func (s *Server) handleUploadClientCertificate(w http.ResponseWriter, r *http.Request) {
	rc := reqCtx(r)
	o, err := readObject(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cert, err := s.decodePKCS12(o, rc.tenant.ID, rc.id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := store.UpdateAs(r.Context(), s.store, rc.tenant.ID, store.APIConnectors, rc.id,
		func(_ store.Tx, cur store.Versioned[graph.APIConnector]) (graph.APIConnector, error) {
			if err := checkIfMatch(r, cur.Version); err != nil {
				return cur.Value, err
			}
			c := cur.Value
			if c.Auth.Type != graph.AuthClientCertificate {
				c.Auth = graph.AuthConfig{Type: graph.AuthClientCertificate}
			}
			if slices.ContainsFunc(c.Auth.Certificates, func(x graph.Certificate) bool { return x.Thumbprint == cert.Thumbprint }) {
				return c, graph.Errorf(graph.KindInvalid, "The certificate with thumbprint %s is already uploaded to this API connector.", cert.Thumbprint)
			}
			c.Auth.Certificates = append(slices.Clone(c.Auth.Certificates), *cert)
			return c, c.Validate(rc.profile)
		})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeEntity(w, http.StatusOK, v.Version, s.connectorEntity(r, v.Value))
}
