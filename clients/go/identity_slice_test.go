package graphsdk_test

// The identity slice through the official Go SDK: the current identity-provider API
// (/identity/identityProviders, with its subtypes deserialised by the SDK into their concrete
// models), its cross-view with the deprecated /identityProviders, and b2x user flows with their
// API connector configuration. Each test starts its own idgraph, creates tenants of the kind it
// needs with `idgraph tenant create`, and registers an app in each with `idgraph app create`.

import (
	"bytes"
	"context"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	khttp "github.com/microsoft/kiota-http-go"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/identity"
	"github.com/microsoftgraph/msgraph-sdk-go/identityproviders"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// identitySliceRoles are the application permissions of the apps these tests register.
const identitySliceRoles = "APIConnectors.ReadWrite.All,IdentityProvider.ReadWrite.All,IdentityUserFlow.ReadWrite.All"

// The masks of secrets: the current API writes six asterisks, the deprecated one five.
const (
	identitySliceMask           = "******"
	identitySliceDeprecatedMask = "*****"
)

// identitySliceB2CTypes is the documented availableProviderTypes answer in a B2C tenant.
var identitySliceB2CTypes = []string{"Microsoft", "Google", "Facebook", "Amazon", "LinkedIn", "Weibo", "QQ", "WeChat",
	"Twitter", "GitHub", "AppleManaged", "OpenIdConnect"}

// identitySliceRun runs an idgraph command against the server's data directory and returns its
// trimmed standard output.
func identitySliceRun(t *testing.T, srv *server, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args = append(args, "--data-dir", srv.dataDir)
	cmd := exec.CommandContext(ctx, idgraphBin, args...)
	cmd.Env = serverEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("idgraph %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// identitySliceTenant creates a tenant of the kind (b2c, workforce, external) in the running
// server's data directory, registers an app in it with identitySliceRoles, and returns the app.
func identitySliceTenant(t *testing.T, srv *server, kind string) app {
	t.Helper()
	tenantID := identitySliceRun(t, srv, "tenant", "create", "--kind", kind, "--name", "SDK "+kind+" tenant")
	if tenantID == "" || strings.ContainsAny(tenantID, " \n") {
		t.Fatalf("idgraph tenant create printed %q, want one tenant id", tenantID)
	}
	out := identitySliceRun(t, srv, "app", "create", "--tenant", tenantID, "--name", "sdk-"+kind, "--roles", identitySliceRoles, "--env")
	// export AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=...
	a := app{}
	for _, f := range strings.Fields(strings.TrimPrefix(out, "export ")) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "AZURE_TENANT_ID":
			a.TenantID = v
		case "AZURE_CLIENT_ID":
			a.ClientID = v
		case "AZURE_CLIENT_SECRET":
			a.ClientSecret = v
		}
	}
	if a.TenantID != tenantID || a.ClientID == "" || a.ClientSecret == "" {
		t.Fatalf("idgraph app create --env printed %q: want the tenant %s, a client id and a secret", out, tenantID)
	}
	return a
}

// identitySliceClient is a Graph client for an app of a fresh tenant of the kind, on version
// (v1.0 or beta).
func identitySliceClient(t *testing.T, srv *server, kind, version string) *msgraph.GraphServiceClient {
	t.Helper()
	a := identitySliceTenant(t, srv, kind)
	return srv.graphClient(t, srv.credential(t, a, a.ClientSecret), []string{"127.0.0.1"}, version)
}

// identitySliceHeaders returns an SDK request option that records the response headers.
func identitySliceHeaders() *khttp.HeadersInspectionOptions {
	o := khttp.NewHeadersInspectionOptions()
	o.InspectResponseHeaders = true
	return o
}

func identitySliceHeader(o *khttp.HeadersInspectionOptions, name string) string {
	if vs := o.GetResponseHeaders().Get(name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

func identitySliceExact(t *testing.T, what string, got *string, want string) {
	t.Helper()
	if got == nil {
		t.Errorf("%s is missing, want %q", what, want)
	} else if *got != want {
		t.Errorf("%s = %q, want %q", what, *got, want)
	}
}

// ---------------------------------------------------------------------------------------------
// /identity/identityProviders

const (
	identitySliceAmazonClientID = "56433757-cadd-4135-8431-2c9e3fd68ae8"
	identitySliceAppleKey       = "-----BEGIN PRIVATE KEY-----\nMIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg\n-----END PRIVATE KEY-----"
)

func TestIdentitySliceIdentityProviders(t *testing.T) {
	srv := startServer(t)
	for _, version := range []string{"v1.0", "beta"} {
		t.Run(version, func(t *testing.T) {
			t.Run("B2C", func(t *testing.T) {
				identitySliceB2CProviders(t, identitySliceClient(t, srv, "b2c", version))
			})
			t.Run("Workforce", func(t *testing.T) {
				identitySliceWorkforceProviders(t, identitySliceClient(t, srv, "workforce", version))
			})
		})
	}
}

func identitySliceB2CProviders(t *testing.T, client *msgraph.GraphServiceClient) {
	ctx := testContext(t)
	providers := client.Identity().IdentityProviders()

	// Create a socialIdentityProvider (Amazon).
	social := models.NewSocialIdentityProvider() // @odata.type #microsoft.graph.socialIdentityProvider
	social.SetDisplayName(ptr("Login with Amazon"))
	social.SetIdentityProviderType(ptr("Amazon"))
	social.SetClientId(ptr(identitySliceAmazonClientID))
	social.SetClientSecret(ptr("000000000000"))
	created, err := providers.Post(ctx, social, nil)
	if err != nil {
		t.Fatalf("create social: %s", describe(err))
	}
	identitySliceCheckSocial(t, "created social", created, "Login with Amazon")
	socialID := deref(created.GetId())
	if socialID != "Amazon-OAUTH" {
		t.Errorf("created social id = %q, want Amazon-OAUTH", socialID)
	}

	// Create an appleManagedIdentityProvider.
	apple := models.NewAppleManagedIdentityProvider() // @odata.type #microsoft.graph.appleManagedIdentityProvider
	apple.SetDisplayName(ptr("Sign in with Apple"))
	apple.SetDeveloperId(ptr("UBF8T346G9"))
	apple.SetServiceId(ptr("com.idgraph.sdk.test.client"))
	apple.SetKeyId(ptr("99P6D879C4"))
	apple.SetCertificateData(ptr(identitySliceAppleKey))
	createdApple, err := providers.Post(ctx, apple, nil)
	if err != nil {
		t.Fatalf("create apple: %s", describe(err))
	}
	identitySliceCheckApple(t, "created apple", createdApple, "Sign in with Apple")
	appleID := deref(createdApple.GetId())
	if appleID != "Apple-Managed-OIDC" {
		t.Errorf("created apple id = %q, want Apple-Managed-OIDC", appleID)
	}

	// The Apple provider has a fixed id: a second one conflicts.
	_, err = providers.Post(ctx, apple, nil)
	requireODataError(t, err, http.StatusConflict, "")

	// List: the SDK deserialises each item into its concrete model.
	list, err := providers.Get(ctx, nil)
	if err != nil {
		t.Fatalf("list: %s", describe(err))
	}
	var sawSocial, sawApple bool
	for _, p := range list.GetValue() {
		switch strings.ToLower(deref(p.GetId())) {
		case strings.ToLower(socialID):
			sawSocial = true
			identitySliceCheckSocial(t, "listed social", p, "Login with Amazon")
		case strings.ToLower(appleID):
			sawApple = true
			identitySliceCheckApple(t, "listed apple", p, "Sign in with Apple")
		}
	}
	if !sawSocial || !sawApple {
		t.Errorf("list of %d providers: social %s present %v, apple %s present %v", len(list.GetValue()), socialID, sawSocial, appleID, sawApple)
	}

	// Get by id.
	got, err := providers.ByIdentityProviderBaseId(socialID).Get(ctx, nil)
	if err != nil {
		t.Fatalf("get social: %s", describe(err))
	}
	identitySliceCheckSocial(t, "got social", got, "Login with Amazon")
	got, err = providers.ByIdentityProviderBaseId(appleID).Get(ctx, nil)
	if err != nil {
		t.Fatalf("get apple: %s", describe(err))
	}
	identitySliceCheckApple(t, "got apple", got, "Sign in with Apple")

	// PATCH displayName: 204 (the SDK returns no entity), then read back.
	patch := models.NewSocialIdentityProvider()
	patch.SetDisplayName(ptr("Amazon (renamed)"))
	updated, err := providers.ByIdentityProviderBaseId(socialID).Patch(ctx, patch, nil)
	if err != nil {
		t.Fatalf("update social displayName: %s", describe(err))
	}
	if updated != nil {
		t.Errorf("update social: got an entity (%T), want 204 No Content", updated)
	}
	got, err = providers.ByIdentityProviderBaseId(socialID).Get(ctx, nil)
	if err != nil {
		t.Fatalf("get social after update: %s", describe(err))
	}
	identitySliceCheckSocial(t, "social after update", got, "Amazon (renamed)")

	applePatch := models.NewAppleManagedIdentityProvider()
	applePatch.SetDisplayName(ptr("Apple (renamed)"))
	updated, err = providers.ByIdentityProviderBaseId(appleID).Patch(ctx, applePatch, nil)
	if err != nil {
		t.Fatalf("update apple displayName: %s", describe(err))
	}
	if updated != nil {
		t.Errorf("update apple: got an entity (%T), want 204 No Content", updated)
	}
	got, err = providers.ByIdentityProviderBaseId(appleID).Get(ctx, nil)
	if err != nil {
		t.Fatalf("get apple after update: %s", describe(err))
	}
	identitySliceCheckApple(t, "apple after update", got, "Apple (renamed)")

	// availableProviderTypes through the SDK's function request builder.
	types, err := providers.AvailableProviderTypes().GetAsAvailableProviderTypesGetResponse(ctx, nil)
	if err != nil {
		t.Fatalf("availableProviderTypes: %s", describe(err))
	}
	if gotTypes := types.GetValue(); !identitySliceSameSet(gotTypes, identitySliceB2CTypes) {
		t.Errorf("availableProviderTypes = %q, want %q", gotTypes, identitySliceB2CTypes)
	}

	// The deprecated /identityProviders shows the social provider created through the new API
	// (the v1.0 SDK still has client.IdentityProviders()); the Apple provider is not an
	// identityProvider and is not in that view.
	t.Run("DeprecatedView", func(t *testing.T) {
		identitySliceDeprecatedView(t, client, socialID, appleID)
	})

	// Delete both; they are gone.
	for _, id := range []string{socialID, appleID} {
		if err := providers.ByIdentityProviderBaseId(id).Delete(ctx, nil); err != nil {
			t.Fatalf("delete %s: %s", id, describe(err))
		}
		_, err := providers.ByIdentityProviderBaseId(id).Get(ctx, nil)
		requireODataError(t, err, http.StatusNotFound, "Request_ResourceNotFound")
	}
	list, err = providers.Get(ctx, nil)
	if err != nil {
		t.Fatalf("list after delete: %s", describe(err))
	}
	for _, p := range list.GetValue() {
		if id := deref(p.GetId()); strings.EqualFold(id, socialID) || strings.EqualFold(id, appleID) {
			t.Errorf("list after delete still has %s", id)
		}
	}
}

func identitySliceDeprecatedView(t *testing.T, client *msgraph.GraphServiceClient, socialID, appleID string) {
	ctx := testContext(t)
	headers := identitySliceHeaders()
	listCfg := &identityproviders.IdentityProvidersRequestBuilderGetRequestConfiguration{}
	listCfg.Options = append(listCfg.Options, headers)
	list, err := client.IdentityProviders().Get(ctx, listCfg)
	if err != nil {
		t.Fatalf("deprecated list: %s", describe(err))
	}
	if identitySliceHeader(headers, "Deprecation") == "" {
		t.Errorf("deprecated list: no Deprecation response header")
	}
	var found models.IdentityProviderable
	for _, p := range list.GetValue() {
		switch id := deref(p.GetId()); {
		case strings.EqualFold(id, socialID):
			found = p
		case strings.EqualFold(id, appleID):
			t.Errorf("deprecated list shows the Apple provider %s", id)
		}
	}
	if found == nil {
		t.Fatalf("deprecated list (%d providers) lacks %s created through /identity/identityProviders", len(list.GetValue()), socialID)
	}
	identitySliceCheckDeprecated(t, "deprecated listed", found, "Amazon (renamed)", "Amazon", identitySliceAmazonClientID)

	got, err := client.IdentityProviders().ByIdentityProviderId(socialID).Get(ctx, nil)
	if err != nil {
		t.Fatalf("deprecated get %s: %s", socialID, describe(err))
	}
	identitySliceCheckDeprecated(t, "deprecated got", got, "Amazon (renamed)", "Amazon", identitySliceAmazonClientID)

	// And the other way: a provider created through the deprecated API is a
	// socialIdentityProvider in the new one.
	body := models.NewIdentityProvider()
	body.SetName(ptr("Login with Google"))
	body.SetTypeEscaped(ptr("Google"))
	body.SetClientId(ptr("google-client-id"))
	body.SetClientSecret(ptr("google-secret"))
	created, err := client.IdentityProviders().Post(ctx, body, nil)
	if err != nil {
		t.Fatalf("deprecated create Google: %s", describe(err))
	}
	googleID := deref(created.GetId())
	if googleID != "Google-OAUTH" {
		t.Errorf("deprecated create Google: id = %q, want Google-OAUTH", googleID)
	}
	identitySliceCheckDeprecated(t, "deprecated created", created, "Login with Google", "Google", "google-client-id")
	p, err := client.Identity().IdentityProviders().ByIdentityProviderBaseId(googleID).Get(ctx, nil)
	if err != nil {
		t.Fatalf("get %s through the new API: %s", googleID, describe(err))
	}
	s, ok := p.(models.SocialIdentityProviderable)
	if _, concrete := p.(*models.SocialIdentityProvider); !ok || !concrete {
		t.Fatalf("%s through the new API is %T, want *models.SocialIdentityProvider", googleID, p)
	}
	identitySliceExact(t, "Google displayName", s.GetDisplayName(), "Login with Google")
	identitySliceExact(t, "Google identityProviderType", s.GetIdentityProviderType(), "Google")
	identitySliceExact(t, "Google clientId", s.GetClientId(), "google-client-id")
	identitySliceExact(t, "Google clientSecret", s.GetClientSecret(), identitySliceMask)
	if err := client.IdentityProviders().ByIdentityProviderId(googleID).Delete(ctx, nil); err != nil {
		t.Fatalf("deprecated delete %s: %s", googleID, describe(err))
	}
	_, err = client.Identity().IdentityProviders().ByIdentityProviderBaseId(googleID).Get(ctx, nil)
	requireODataError(t, err, http.StatusNotFound, "Request_ResourceNotFound")
}

func identitySliceCheckDeprecated(t *testing.T, what string, p models.IdentityProviderable, name, typ, clientID string) {
	t.Helper()
	if p == nil {
		t.Errorf("%s: no provider", what)
		return
	}
	identitySliceExact(t, what+": name", p.GetName(), name)
	identitySliceExact(t, what+": type", p.GetTypeEscaped(), typ)
	identitySliceExact(t, what+": clientId", p.GetClientId(), clientID)
	identitySliceExact(t, what+": clientSecret", p.GetClientSecret(), identitySliceDeprecatedMask)
}

func identitySliceCheckSocial(t *testing.T, what string, p models.IdentityProviderBaseable, displayName string) {
	t.Helper()
	s, ok := p.(models.SocialIdentityProviderable)
	if _, concrete := p.(*models.SocialIdentityProvider); !ok || !concrete {
		t.Errorf("%s: SDK model is %T, want *models.SocialIdentityProvider (SocialIdentityProviderable)", what, p)
		return
	}
	identitySliceExact(t, what+": @odata.type", s.GetOdataType(), "#microsoft.graph.socialIdentityProvider")
	identitySliceExact(t, what+": displayName", s.GetDisplayName(), displayName)
	identitySliceExact(t, what+": identityProviderType", s.GetIdentityProviderType(), "Amazon")
	identitySliceExact(t, what+": clientId", s.GetClientId(), identitySliceAmazonClientID)
	identitySliceExact(t, what+": clientSecret", s.GetClientSecret(), identitySliceMask)
}

func identitySliceCheckApple(t *testing.T, what string, p models.IdentityProviderBaseable, displayName string) {
	t.Helper()
	a, ok := p.(models.AppleManagedIdentityProviderable)
	if _, concrete := p.(*models.AppleManagedIdentityProvider); !ok || !concrete {
		t.Errorf("%s: SDK model is %T, want *models.AppleManagedIdentityProvider (AppleManagedIdentityProviderable)", what, p)
		return
	}
	identitySliceExact(t, what+": @odata.type", a.GetOdataType(), "#microsoft.graph.appleManagedIdentityProvider")
	identitySliceExact(t, what+": displayName", a.GetDisplayName(), displayName)
	identitySliceExact(t, what+": developerId", a.GetDeveloperId(), "UBF8T346G9")
	identitySliceExact(t, what+": serviceId", a.GetServiceId(), "com.idgraph.sdk.test.client")
	identitySliceExact(t, what+": keyId", a.GetKeyId(), "99P6D879C4")
	identitySliceExact(t, what+": certificateData", a.GetCertificateData(), identitySliceMask)
}

func identitySliceWorkforceProviders(t *testing.T, client *msgraph.GraphServiceClient) {
	ctx := testContext(t)
	providers := client.Identity().IdentityProviders()
	list, err := providers.Get(ctx, nil)
	if err != nil {
		t.Fatalf("list: %s", describe(err))
	}
	var builtIn models.IdentityProviderBaseable
	for _, p := range list.GetValue() {
		if strings.EqualFold(deref(p.GetId()), "MSASignup-OAUTH") {
			builtIn = p
		}
	}
	if builtIn == nil {
		t.Fatalf("workforce list (%d providers) lacks the built-in MSASignup-OAUTH", len(list.GetValue()))
	}
	// A socialIdentityProvider also satisfies BuiltInIdentityProviderable (both have
	// identityProviderType), so the concrete model is what tells them apart.
	b, ok := builtIn.(models.BuiltInIdentityProviderable)
	if _, concrete := builtIn.(*models.BuiltInIdentityProvider); !ok || !concrete {
		t.Fatalf("MSASignup-OAUTH: SDK model is %T, want *models.BuiltInIdentityProvider (BuiltInIdentityProviderable)", builtIn)
	}
	identitySliceExact(t, "MSASignup-OAUTH: id", b.GetId(), "MSASignup-OAUTH")
	identitySliceExact(t, "MSASignup-OAUTH: @odata.type", b.GetOdataType(), "#microsoft.graph.builtInIdentityProvider")
	identitySliceExact(t, "MSASignup-OAUTH: identityProviderType", b.GetIdentityProviderType(), "MicrosoftAccount")
	if deref(b.GetDisplayName()) == "" {
		t.Errorf("MSASignup-OAUTH: empty displayName")
	}

	// Built-ins are read-only.
	patch := models.NewBuiltInIdentityProvider()
	patch.SetDisplayName(ptr("renamed"))
	_, err = providers.ByIdentityProviderBaseId("MSASignup-OAUTH").Patch(ctx, patch, nil)
	requireODataError(t, err, http.StatusBadRequest, "")
	err = providers.ByIdentityProviderBaseId("MSASignup-OAUTH").Delete(ctx, nil)
	requireODataError(t, err, http.StatusBadRequest, "")

	// Apple is not a workforce provider.
	apple := models.NewAppleManagedIdentityProvider()
	apple.SetDisplayName(ptr("Sign in with Apple"))
	apple.SetDeveloperId(ptr("UBF8T346G9"))
	apple.SetServiceId(ptr("com.idgraph.sdk.test.client"))
	apple.SetKeyId(ptr("99P6D879C4"))
	apple.SetCertificateData(ptr(identitySliceAppleKey))
	_, err = providers.Post(ctx, apple, nil)
	requireODataError(t, err, http.StatusBadRequest, "Request_BadRequest")

	types, err := providers.AvailableProviderTypes().GetAsAvailableProviderTypesGetResponse(ctx, nil)
	if err != nil {
		t.Fatalf("availableProviderTypes: %s", describe(err))
	}
	want := []string{"MicrosoftAccount", "EmailOTP", "Facebook", "Google"}
	if got := types.GetValue(); !identitySliceSameSet(got, want) {
		t.Errorf("workforce availableProviderTypes = %q, want %q", got, want)
	}
}

func identitySliceSameSet(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

// ---------------------------------------------------------------------------------------------
// /identity/b2xUserFlows

func TestIdentitySliceUserFlows(t *testing.T) {
	srv := startServer(t)
	for _, version := range []string{"v1.0", "beta"} {
		t.Run(version, func(t *testing.T) {
			identitySliceUserFlows(t, srv, identitySliceClient(t, srv, "workforce", version), version)
		})
	}
	t.Run("B2CTenant", func(t *testing.T) {
		// b2xUserFlows belong to workforce tenants.
		client := identitySliceClient(t, srv, "b2c", "v1.0")
		_, err := client.Identity().B2xUserFlows().Get(testContext(t), nil)
		requireODataError(t, err, http.StatusBadRequest, "")
	})
}

func identitySliceUserFlows(t *testing.T, srv *server, client *msgraph.GraphServiceClient, version string) {
	ctx := testContext(t)
	flows := client.Identity().B2xUserFlows()

	// Create the flow: "Partner" becomes B2X_1_Partner.
	body := models.NewB2xIdentityUserFlow() // @odata.type #microsoft.graph.b2xIdentityUserFlow
	body.SetId(ptr("Partner"))
	body.SetUserFlowType(ptr(models.SIGNUPORSIGNIN_USERFLOWTYPE))
	body.SetUserFlowTypeVersion(ptr(float32(1)))
	headers := identitySliceHeaders()
	postCfg := &identity.B2xUserFlowsRequestBuilderPostRequestConfiguration{}
	postCfg.Options = append(postCfg.Options, headers)
	created, err := flows.Post(ctx, body, postCfg)
	if err != nil {
		t.Fatalf("create flow: %s", describe(err))
	}
	identitySliceCheckFlow(t, "created flow", created)
	const flowID = "B2X_1_Partner"
	if loc := identitySliceHeader(headers, "Location"); !strings.HasSuffix(loc, "/"+version+"/identity/b2xUserFlows('"+flowID+"')") {
		t.Errorf("create flow: Location = %q, want .../%s/identity/b2xUserFlows('%s')", loc, version, flowID)
	}
	_, err = flows.Post(ctx, body, nil)
	requireODataError(t, err, http.StatusConflict, "")

	flow := flows.ByB2xIdentityUserFlowId(flowID)
	got, err := flow.Get(ctx, nil)
	if err != nil {
		t.Fatalf("get flow: %s", describe(err))
	}
	identitySliceCheckFlow(t, "got flow", got)
	list, err := flows.Get(ctx, nil)
	if err != nil {
		t.Fatalf("list flows: %s", describe(err))
	}
	if !slices.ContainsFunc(list.GetValue(), func(f models.B2xIdentityUserFlowable) bool { return deref(f.GetId()) == flowID }) {
		t.Errorf("list of %d flows lacks %s", len(list.GetValue()), flowID)
	}

	// An API connector to attach.
	basic := models.NewBasicAuthentication()
	basic.SetUsername(ptr("MyUsername"))
	basic.SetPassword(ptr("MyPassword"))
	conn := models.NewIdentityApiConnector()
	conn.SetDisplayName(ptr("Partner check"))
	conn.SetTargetUrl(ptr("https://someapi.com/api"))
	conn.SetAuthenticationConfiguration(basic)
	createdConn, err := client.Identity().ApiConnectors().Post(ctx, conn, nil)
	if err != nil {
		t.Fatalf("create connector: %s", describe(err))
	}
	connID := deref(createdConn.GetId())
	if connID == "" {
		t.Fatal("create connector: no id")
	}

	// Attach it at postFederationSignup with the SDK's $ref request builder; the reference is
	// the connector's URL on this server.
	ref := models.NewReferenceUpdate()
	ref.SetOdataId(ptr(srv.origin + "/" + version + "/identity/apiConnectors/" + connID))
	stepRef := flow.ApiConnectorConfiguration().PostFederationSignup().Ref()
	if err := stepRef.Put(ctx, ref, nil); err != nil {
		t.Fatalf("attach connector: %s", describe(err))
	}

	// Read the configuration with $expand: the connector is inlined, its password masked.
	expand := func(steps ...string) *identity.B2xUserFlowsItemApiConnectorConfigurationRequestBuilderGetRequestConfiguration {
		return &identity.B2xUserFlowsItemApiConnectorConfigurationRequestBuilderGetRequestConfiguration{
			QueryParameters: &identity.B2xUserFlowsItemApiConnectorConfigurationRequestBuilderGetQueryParameters{Expand: steps},
		}
	}
	cfg, err := flow.ApiConnectorConfiguration().Get(ctx, expand("postFederationSignup", "postAttributeCollection"))
	if err != nil {
		t.Fatalf("get apiConnectorConfiguration: %s", describe(err))
	}
	identitySliceCheckInlined(t, "expanded postFederationSignup", cfg.GetPostFederationSignup(), connID)
	if pac := cfg.GetPostAttributeCollection(); pac != nil {
		t.Errorf("postAttributeCollection = connector %q, want null (nothing attached)", deref(pac.GetId()))
	}
	// The step itself, through the SDK's navigation builder.
	step, err := flow.ApiConnectorConfiguration().PostFederationSignup().Get(ctx, nil)
	if err != nil {
		t.Fatalf("get postFederationSignup: %s", describe(err))
	}
	identitySliceCheckInlined(t, "postFederationSignup", step, connID)

	// The connector is in use: deleting it fails, naming the flow, and changes nothing.
	err = client.Identity().ApiConnectors().ByIdentityApiConnectorId(connID).Delete(ctx, nil)
	oe := requireODataError(t, err, http.StatusBadRequest, "Request_BadRequest")
	if msg := odataMessage(oe); !strings.Contains(msg, flowID) {
		t.Errorf("deleting a connector in use: message %q does not name the flow %s", msg, flowID)
	}
	if _, err := client.Identity().ApiConnectors().ByIdentityApiConnectorId(connID).Get(ctx, nil); err != nil {
		t.Errorf("connector after the refused delete: %s", describe(err))
	}
	cfg, err = flow.ApiConnectorConfiguration().Get(ctx, expand("postFederationSignup"))
	if err != nil {
		t.Fatalf("get apiConnectorConfiguration after the refused delete: %s", describe(err))
	}
	identitySliceCheckInlined(t, "postFederationSignup after the refused delete", cfg.GetPostFederationSignup(), connID)

	// Detach: PUT $ref with {}.
	if err := stepRef.Put(ctx, models.NewReferenceUpdate(), nil); err != nil {
		t.Fatalf("detach connector: %s", describe(err))
	}
	cfg, err = flow.ApiConnectorConfiguration().Get(ctx, expand("postFederationSignup"))
	if err != nil {
		t.Fatalf("get apiConnectorConfiguration after detach: %s", describe(err))
	}
	if c := cfg.GetPostFederationSignup(); c != nil {
		t.Errorf("after detach: postFederationSignup = connector %q, want null", deref(c.GetId()))
	}
	_, err = flow.ApiConnectorConfiguration().PostFederationSignup().Get(ctx, nil)
	requireODataError(t, err, http.StatusNotFound, "")

	// Attaching a connector that does not exist is refused.
	missing := models.NewReferenceUpdate()
	missing.SetOdataId(ptr(srv.origin + "/" + version + "/identity/apiConnectors/00000000-0000-0000-0000-000000000000"))
	err = stepRef.Put(ctx, missing, nil)
	requireODataError(t, err, http.StatusBadRequest, "")

	// Detached, the connector can be deleted.
	if err := client.Identity().ApiConnectors().ByIdentityApiConnectorId(connID).Delete(ctx, nil); err != nil {
		t.Fatalf("delete the detached connector: %s", describe(err))
	}

	// Delete the flow.
	if err := flow.Delete(ctx, nil); err != nil {
		t.Fatalf("delete flow: %s", describe(err))
	}
	_, err = flow.Get(ctx, nil)
	requireODataError(t, err, http.StatusNotFound, "Request_ResourceNotFound")

	t.Run("IdentityProviders", func(t *testing.T) {
		identitySliceFlowProviders(t, client)
	})
}

// identitySliceFlowProviders creates a flow that offers a Google provider (identityProviders on
// create, through the SDK model), lists them with the SDK, and checks that the provider cannot
// be deleted while the flow uses it.
func identitySliceFlowProviders(t *testing.T, client *msgraph.GraphServiceClient) {
	ctx := testContext(t)
	google := models.NewSocialIdentityProvider()
	google.SetDisplayName(ptr("Google"))
	google.SetIdentityProviderType(ptr("Google"))
	google.SetClientId(ptr("google-client-id"))
	google.SetClientSecret(ptr("google-secret"))
	p, err := client.Identity().IdentityProviders().Post(ctx, google, nil)
	if err != nil {
		t.Fatalf("create Google: %s", describe(err))
	}
	googleID := deref(p.GetId())
	if googleID != "Google-OAUTH" {
		t.Errorf("Google id = %q, want Google-OAUTH", googleID)
	}

	ref := models.NewIdentityProvider()
	ref.SetId(ptr(googleID))
	body := models.NewB2xIdentityUserFlow()
	body.SetId(ptr("WithGoogle"))
	body.SetUserFlowType(ptr(models.SIGNUPORSIGNIN_USERFLOWTYPE))
	body.SetUserFlowTypeVersion(ptr(float32(1)))
	body.SetIdentityProviders([]models.IdentityProviderable{ref})
	created, err := client.Identity().B2xUserFlows().Post(ctx, body, nil)
	if err != nil {
		t.Fatalf("create flow with identityProviders: %s", describe(err))
	}
	flowID := deref(created.GetId())
	if flowID != "B2X_1_WithGoogle" {
		t.Errorf("flow id = %q, want B2X_1_WithGoogle", flowID)
	}
	flow := client.Identity().B2xUserFlows().ByB2xIdentityUserFlowId(flowID)
	list, err := flow.IdentityProviders().Get(ctx, nil)
	if err != nil {
		t.Fatalf("list the flow's identityProviders: %s", describe(err))
	}
	var ids []string
	for _, ip := range list.GetValue() {
		ids = append(ids, deref(ip.GetId()))
		if strings.EqualFold(deref(ip.GetId()), googleID) {
			identitySliceCheckDeprecated(t, "flow identityProviders item", ip, "Google", "Google", "google-client-id")
		}
	}
	if len(ids) != 1 || !strings.EqualFold(ids[0], googleID) {
		t.Errorf("flow identityProviders = %q, want [%s]", ids, googleID)
	}

	err = client.Identity().IdentityProviders().ByIdentityProviderBaseId(googleID).Delete(ctx, nil)
	oe := requireODataError(t, err, http.StatusBadRequest, "Request_BadRequest")
	if msg := odataMessage(oe); !strings.Contains(msg, flowID) {
		t.Errorf("deleting a provider in use: message %q does not name the flow %s", msg, flowID)
	}
	if _, err := client.Identity().IdentityProviders().ByIdentityProviderBaseId(googleID).Get(ctx, nil); err != nil {
		t.Errorf("provider after the refused delete: %s", describe(err))
	}

	if err := flow.Delete(ctx, nil); err != nil {
		t.Fatalf("delete flow: %s", describe(err))
	}
	if err := client.Identity().IdentityProviders().ByIdentityProviderBaseId(googleID).Delete(ctx, nil); err != nil {
		t.Fatalf("delete Google after its flow: %s", describe(err))
	}
}

func identitySliceCheckFlow(t *testing.T, what string, f models.B2xIdentityUserFlowable) {
	t.Helper()
	if f == nil {
		t.Errorf("%s: no flow", what)
		return
	}
	identitySliceExact(t, what+": id", f.GetId(), "B2X_1_Partner")
	if got := f.GetUserFlowType(); got == nil || *got != models.SIGNUPORSIGNIN_USERFLOWTYPE {
		t.Errorf("%s: userFlowType = %v, want signUpOrSignIn", what, identitySliceFlowType(got))
	}
	if got := f.GetUserFlowTypeVersion(); got == nil || *got != 1 {
		t.Errorf("%s: userFlowTypeVersion = %v, want 1", what, got)
	}
}

func identitySliceFlowType(u *models.UserFlowType) string {
	if u == nil {
		return "<nil>"
	}
	return u.String()
}

func identitySliceCheckInlined(t *testing.T, what string, c models.IdentityApiConnectorable, connID string) {
	t.Helper()
	if c == nil {
		t.Errorf("%s: no connector, want %s inlined", what, connID)
		return
	}
	identitySliceExact(t, what+": id", c.GetId(), connID)
	identitySliceExact(t, what+": displayName", c.GetDisplayName(), "Partner check")
	identitySliceExact(t, what+": targetUrl", c.GetTargetUrl(), "https://someapi.com/api")
	basic, ok := c.GetAuthenticationConfiguration().(*models.BasicAuthentication)
	if !ok {
		t.Errorf("%s: authenticationConfiguration is %T, want *models.BasicAuthentication", what, c.GetAuthenticationConfiguration())
		return
	}
	identitySliceExact(t, what+": username", basic.GetUsername(), "MyUsername")
	identitySliceExact(t, what+": password", basic.GetPassword(), identitySliceMask)
}
