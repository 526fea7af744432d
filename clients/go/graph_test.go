// Package graphsdk_test runs the official Microsoft Graph Go SDK (msgraph-sdk-go) and azidentity
// against a real idgraph server: it builds idgraph, starts it over HTTPS on a loopback port with
// its generated CA, registers an application, gets tokens with the client-credentials flow and
// checks full round trips at the SDK level.
package graphsdk_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	khttp "github.com/microsoft/kiota-http-go"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	msgraphauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/identity"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"software.sslmate.com/src/go-pkcs12"
)

// idgraphBin is the server binary: $IDGRAPH_BIN, or built from the repository in TestMain.
var idgraphBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if bin := os.Getenv("IDGRAPH_BIN"); bin != "" {
		idgraphBin = bin
		return m.Run()
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "cmd", "idgraph"))
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot find the idgraph repository at ../.. (set IDGRAPH_BIN instead): %v\n", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "idgraph-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	idgraphBin = filepath.Join(dir, "idgraph")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-C", root, "-o", idgraphBin, "./cmd/idgraph")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building idgraph: %v\n%s", err, out)
		return 2
	}
	return m.Run()
}

// ---------------------------------------------------------------------------------------------
// The server

type server struct {
	origin  string // https://127.0.0.1:PORT
	caFile  string
	dataDir string
	tr      *http.Transport // trusts the server's CA
}

type app struct {
	TenantID     string `json:"tenantId"`
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

var (
	servingRE = regexp.MustCompile(`(?m)^idgraph serving Microsoft Graph at (https://127\.0\.0\.1:\d+) \(profile (\w+), cloud (\w+)\)`)
	// "  CA certificate: /abs/path/ca.pem", possibly followed by " (also at https://.../_idgraph/ca.pem)".
	caRE = regexp.MustCompile(`(?m)^\s*CA certificate: (\S.*?)(?: \(also at \S+\))?\s*$`)
)

// startServer starts `idgraph serve` on a free loopback port in a fresh data directory and stops
// it (SIGTERM, then SIGKILL) when the test ends.
func startServer(t *testing.T) *server {
	t.Helper()
	dataDir := t.TempDir()
	cmd := exec.Command(idgraphBin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir)
	cmd.Env = serverEnv()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start idgraph serve: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()

	t.Cleanup(func() {
		select {
		case <-exited:
			t.Errorf("idgraph serve exited early: %v", waitErr)
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
				if !strings.Contains(stdout.String(), "idgraph stopped") {
					t.Errorf("idgraph serve did not print %q on SIGTERM (exit: %v)", "idgraph stopped", waitErr)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("idgraph serve did not stop within 15s of SIGTERM; killing it")
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		if t.Failed() {
			t.Logf("idgraph stdout:\n%s", stdout.String())
			t.Logf("idgraph stderr (last 60 lines):\n%s", lastLines(stderr.String(), 60))
		}
	})

	var origin, caFile string
	deadline := time.Now().Add(60 * time.Second)
	for origin == "" || caFile == "" {
		out := stdout.String()
		if m := servingRE.FindStringSubmatch(out); m != nil {
			origin = m[1]
			if m[2] != "classic" {
				t.Errorf("profile = %q, want classic (the default)", m[2])
			}
		}
		if m := caRE.FindStringSubmatch(out); m != nil {
			caFile = m[1]
		}
		if origin != "" && caFile != "" {
			break
		}
		select {
		case <-exited:
			t.Fatalf("idgraph serve exited before it printed its URL and CA (%v)\nstdout:\n%s\nstderr:\n%s", waitErr, out, stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("idgraph serve printed no %q and %q line within 60s\nstdout:\n%s", "idgraph serving Microsoft Graph at https://...", "CA certificate: ...", out)
		}
	}

	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatalf("read the CA certificate the server printed: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	t.Cleanup(tr.CloseIdleConnections)
	return &server{origin: origin, caFile: caFile, dataDir: dataDir, tr: tr}
}

// createApp runs `idgraph app create` and parses the one JSON object it prints.
func (s *server) createApp(t *testing.T, name string) app {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, idgraphBin, "app", "create", "--data-dir", s.dataDir, "--name", name,
		"--roles", "APIConnectors.ReadWrite.All,IdentityProvider.ReadWrite.All")
	cmd.Env = serverEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("idgraph app create: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	var a app
	dec := json.NewDecoder(bytes.NewReader(out))
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("idgraph app create: stdout is not a JSON object: %v\n%s", err, out)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); len(bytes.TrimSpace(rest)) != 0 || dec.More() {
		t.Errorf("idgraph app create: stdout has more than one JSON object:\n%s", out)
	}
	if a.TenantID == "" || a.ClientID == "" || a.ClientSecret == "" {
		t.Fatalf("idgraph app create: empty field in %s", out)
	}
	return a
}

// credential builds the azidentity credential the way a user pointing it at idgraph would, with
// the server's CA trusted through the transport.
func (s *server) credential(t *testing.T, a app, secret string) *azidentity.ClientSecretCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.origin + "/"},
			Transport: &http.Client{Transport: s.tr, Timeout: 30 * time.Second},
		},
		DisableInstanceDiscovery: true,
	})
	if err != nil {
		t.Fatalf("azidentity.NewClientSecretCredential: %v", err)
	}
	return cred
}

// graphClient is what msgraph.NewGraphServiceClientWithCredentialsAndHosts(cred, nil, allowedHosts)
// builds, with the SDK's default middleware kept on top of a transport that trusts the server's
// CA. allowedHosts nil gives Graph's default list, as NewGraphServiceClientWithCredentials does.
func (s *server) graphClient(t *testing.T, cred azcore.TokenCredential, allowedHosts []string, version string) *msgraph.GraphServiceClient {
	t.Helper()
	auth, err := msgraphauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred,
		[]string{"https://graph.microsoft.com/.default"}, allowedHosts)
	if err != nil {
		t.Fatalf("authentication provider: %v", err)
	}
	opts := msgraph.GetDefaultClientOptions()
	hc := &http.Client{
		Transport:     khttp.NewCustomTransportWithParentTransport(s.tr, msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       60 * time.Second,
	}
	adapter, err := msgraph.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, hc)
	if err != nil {
		t.Fatalf("request adapter: %v", err)
	}
	client := msgraph.NewGraphServiceClient(adapter)
	client.GetAdapter().SetBaseUrl(s.origin + "/" + version)
	return client
}

// ---------------------------------------------------------------------------------------------
// The tests

func TestGraphSDK(t *testing.T) {
	srv := startServer(t)
	a := srv.createApp(t, "graph-sdk-go-test")
	cred := srv.credential(t, a, a.ClientSecret)
	allowed := []string{"127.0.0.1"}

	t.Run("CACertificateEndpoint", func(t *testing.T) {
		want, err := os.ReadFile(srv.caFile)
		if err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Transport: srv.tr, Timeout: 30 * time.Second}
		resp, err := hc.Get(srv.origin + "/_idgraph/ca.pem")
		if err != nil {
			t.Fatalf("GET /_idgraph/ca.pem: %v", err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
			t.Errorf("GET /_idgraph/ca.pem: %d, body differs from %s:\n%s", resp.StatusCode, srv.caFile, got)
		}
	})

	for _, version := range []string{"v1.0", "beta"} {
		t.Run("IdentityProviders/"+version, func(t *testing.T) {
			testIdentityProviders(t, srv.graphClient(t, cred, allowed, version))
		})
		t.Run("APIConnectors/"+version, func(t *testing.T) {
			testAPIConnectors(t, srv.graphClient(t, cred, allowed, version))
		})
	}

	t.Run("HostNotAllowed", func(t *testing.T) {
		// The most common setup mistake: the SDK sends no token to a host it does not allow.
		client := srv.graphClient(t, cred, nil, "v1.0")
		ctx := testContext(t)
		_, err := client.Identity().ApiConnectors().Get(ctx, nil)
		oe := requireODataError(t, err, http.StatusUnauthorized, "")
		t.Logf("401 without a token: %s", odataMessage(oe))
		if msg := odataMessage(oe); !strings.Contains(msg, "allowed hosts") {
			t.Errorf("401 message %q does not mention %q", msg, "allowed hosts")
		}
	})

	t.Run("WrongSecret", func(t *testing.T) {
		bad := srv.credential(t, a, a.ClientSecret+"-wrong")
		client := srv.graphClient(t, bad, allowed, "v1.0")
		ctx := testContext(t)
		_, err := client.Identity().ApiConnectors().Get(ctx, nil)
		if err == nil {
			t.Fatal("request with a wrong client secret succeeded")
		}
		var authErr *azidentity.AuthenticationFailedError
		if !errors.As(err, &authErr) {
			t.Fatalf("error is %T, want *azidentity.AuthenticationFailedError: %v", err, err)
		}
		msg := authErr.Error()
		t.Logf("wrong secret: %s", msg)
		if !strings.Contains(msg, "invalid_client") || !strings.Contains(msg, "AADSTS7000215") {
			t.Errorf("authentication error does not mention invalid_client and AADSTS7000215:\n%s", msg)
		}
		if authErr.RawResponse == nil || authErr.RawResponse.StatusCode != http.StatusUnauthorized {
			t.Errorf("token endpoint response: %v, want 401", authErr.RawResponse)
		}
	})

	t.Run("Quickstart", func(t *testing.T) {
		testQuickstart(t, srv, a, cred)
	})
}

func testIdentityProviders(t *testing.T, client *msgraph.GraphServiceClient) {
	ctx := testContext(t)
	providers := client.IdentityProviders()

	body := models.NewIdentityProvider()
	body.SetName(ptr("Login with Amazon"))
	body.SetTypeEscaped(ptr("Amazon"))
	body.SetClientId(ptr("56433757-cadd-4135-8431-2c9e3fd68ae8"))
	body.SetClientSecret(ptr("000000000000"))
	created, err := providers.Post(ctx, body, nil)
	if err != nil {
		t.Fatalf("create: %s", describe(err))
	}
	if created == nil {
		t.Fatal("create returned no entity")
	}
	if got := deref(created.GetId()); got != "Amazon-OAUTH" {
		t.Errorf("created id = %q, want Amazon-OAUTH", got)
	}
	checkIdentityProvider(t, "created", created, "Login with Amazon", "56433757-cadd-4135-8431-2c9e3fd68ae8", "000000000000")
	id := deref(created.GetId())

	list, err := providers.Get(ctx, nil)
	if err != nil {
		t.Fatalf("list: %s", describe(err))
	}
	found := false
	for _, p := range list.GetValue() {
		if strings.EqualFold(deref(p.GetId()), id) {
			found = true
			checkIdentityProvider(t, "listed", p, "Login with Amazon", "56433757-cadd-4135-8431-2c9e3fd68ae8", "000000000000")
		}
	}
	if !found {
		t.Errorf("list does not contain %s (%d providers)", id, len(list.GetValue()))
	}

	item := providers.ByIdentityProviderId(id)
	got, err := item.Get(ctx, nil)
	if err != nil {
		t.Fatalf("get: %s", describe(err))
	}
	checkIdentityProvider(t, "got", got, "Login with Amazon", "56433757-cadd-4135-8431-2c9e3fd68ae8", "000000000000")

	// The reference example: PATCH {"clientSecret":"1111111111111"} answers 204.
	patch := models.NewIdentityProvider()
	patch.SetClientSecret(ptr("1111111111111"))
	if _, err := item.Patch(ctx, patch, nil); err != nil {
		t.Fatalf("update clientSecret: %s", describe(err))
	}
	got, err = item.Get(ctx, nil)
	if err != nil {
		t.Fatalf("get after update: %s", describe(err))
	}
	checkIdentityProvider(t, "got after update", got, "Login with Amazon", "56433757-cadd-4135-8431-2c9e3fd68ae8", "1111111111111")

	if err := item.Delete(ctx, nil); err != nil {
		t.Fatalf("delete: %s", describe(err))
	}
	_, err = item.Get(ctx, nil)
	requireODataError(t, err, http.StatusNotFound, "Request_ResourceNotFound")
}

func checkIdentityProvider(t *testing.T, what string, p models.IdentityProviderable, name, clientID, secret string) {
	t.Helper()
	if p == nil {
		t.Errorf("%s: nil identity provider", what)
		return
	}
	if got := deref(p.GetName()); got != name {
		t.Errorf("%s: name = %q, want %q", what, got, name)
	}
	if got := deref(p.GetTypeEscaped()); got != "Amazon" {
		t.Errorf("%s: type = %q, want Amazon", what, got)
	}
	if got := deref(p.GetClientId()); got != clientID {
		t.Errorf("%s: clientId = %q, want %q", what, got, clientID)
	}
	checkMasked(t, what+": clientSecret", p.GetClientSecret(), secret)
}

func testAPIConnectors(t *testing.T, client *msgraph.GraphServiceClient) {
	ctx := testContext(t)
	connectors := client.Identity().ApiConnectors()

	basic := models.NewBasicAuthentication() // sets @odata.type #microsoft.graph.basicAuthentication
	basic.SetUsername(ptr("MyUsername"))
	basic.SetPassword(ptr("MyPassword"))
	body := models.NewIdentityApiConnector()
	body.SetDisplayName(ptr("Test API"))
	body.SetTargetUrl(ptr("https://someapi.com/api"))
	body.SetAuthenticationConfiguration(basic)
	created, err := connectors.Post(ctx, body, nil)
	if err != nil {
		t.Fatalf("create: %s", describe(err))
	}
	if created == nil || deref(created.GetId()) == "" {
		t.Fatalf("create returned no entity or no id: %+v", created)
	}
	id := deref(created.GetId())
	checkConnector(t, "created", created, "Test API")
	checkBasicAuth(t, "created", created)

	item := connectors.ByIdentityApiConnectorId(id)
	got, err := item.Get(ctx, nil)
	if err != nil {
		t.Fatalf("get: %s", describe(err))
	}
	if deref(got.GetId()) != id {
		t.Errorf("get: id = %q, want %q", deref(got.GetId()), id)
	}
	checkConnector(t, "got", got, "Test API")
	checkBasicAuth(t, "got", got)

	list, err := connectors.Get(ctx, nil)
	if err != nil {
		t.Fatalf("list: %s", describe(err))
	}
	if !containsID(list.GetValue(), id) {
		t.Errorf("list does not contain %s", id)
	}

	// Classic profile: PATCH answers 200 with the connector; the SDK must accept it.
	patch := models.NewIdentityApiConnector()
	patch.SetDisplayName(ptr("Test API (renamed)"))
	updated, err := item.Patch(ctx, patch, nil)
	if err != nil {
		t.Fatalf("update displayName: %s", describe(err))
	}
	if updated == nil {
		t.Errorf("update: classic profile answered no entity (want 200 + the connector)")
	} else {
		checkConnector(t, "update response", updated, "Test API (renamed)")
	}
	got, err = item.Get(ctx, nil)
	if err != nil {
		t.Fatalf("get after update: %s", describe(err))
	}
	checkConnector(t, "got after update", got, "Test API (renamed)")
	checkBasicAuth(t, "got after update", got)

	// uploadClientCertificate with a real PFX.
	cert, pfx := makePFX(t, "pfx-password")
	upload := identity.NewApiConnectorsItemUploadClientCertificatePostRequestBody()
	upload.SetPkcs12Value(ptr(base64.StdEncoding.EncodeToString(pfx)))
	upload.SetPassword(ptr("pfx-password"))
	uploaded, err := item.UploadClientCertificate().Post(ctx, upload, nil)
	if err != nil {
		t.Fatalf("uploadClientCertificate: %s", describe(err))
	}
	checkClientCertificate(t, "uploadClientCertificate response", uploaded, cert)
	got, err = item.Get(ctx, nil)
	if err != nil {
		t.Fatalf("get after upload: %s", describe(err))
	}
	checkClientCertificate(t, "got after upload", got, cert)

	if err := item.Delete(ctx, nil); err != nil {
		t.Fatalf("delete: %s", describe(err))
	}
	_, err = item.Get(ctx, nil)
	requireODataError(t, err, http.StatusNotFound, "Request_ResourceNotFound")
}

func checkConnector(t *testing.T, what string, c models.IdentityApiConnectorable, displayName string) {
	t.Helper()
	if got := deref(c.GetDisplayName()); got != displayName {
		t.Errorf("%s: displayName = %q, want %q", what, got, displayName)
	}
	if got := deref(c.GetTargetUrl()); got != "https://someapi.com/api" {
		t.Errorf("%s: targetUrl = %q, want https://someapi.com/api", what, got)
	}
}

func checkBasicAuth(t *testing.T, what string, c models.IdentityApiConnectorable) {
	t.Helper()
	basic, ok := c.GetAuthenticationConfiguration().(*models.BasicAuthentication)
	if !ok {
		t.Errorf("%s: authenticationConfiguration is %T, want *models.BasicAuthentication", what, c.GetAuthenticationConfiguration())
		return
	}
	if got := deref(basic.GetUsername()); got != "MyUsername" {
		t.Errorf("%s: username = %q, want MyUsername", what, got)
	}
	if got := deref(basic.GetPassword()); got != "******" {
		t.Errorf("%s: password = %q, want the mask ******", what, got)
	}
}

func checkClientCertificate(t *testing.T, what string, c models.IdentityApiConnectorable, cert *x509.Certificate) {
	t.Helper()
	if c == nil {
		t.Errorf("%s: no connector", what)
		return
	}
	cca, ok := c.GetAuthenticationConfiguration().(*models.ClientCertificateAuthentication)
	if !ok {
		t.Errorf("%s: authenticationConfiguration is %T, want *models.ClientCertificateAuthentication", what, c.GetAuthenticationConfiguration())
		return
	}
	sum := sha1.Sum(cert.Raw)
	thumbprint := strings.ToUpper(hex.EncodeToString(sum[:]))
	var found models.Pkcs12CertificateInformationable
	var seen []string
	for _, info := range cca.GetCertificateList() {
		seen = append(seen, deref(info.GetThumbprint()))
		if deref(info.GetThumbprint()) == thumbprint {
			found = info
		}
	}
	if found == nil {
		t.Errorf("%s: certificateList thumbprints %q do not contain %s", what, seen, thumbprint)
		return
	}
	if got := found.GetNotBefore(); got == nil || *got != cert.NotBefore.Unix() {
		t.Errorf("%s: notBefore = %v, want %d", what, derefInt(got), cert.NotBefore.Unix())
	}
	if got := found.GetNotAfter(); got == nil || *got != cert.NotAfter.Unix() {
		t.Errorf("%s: notAfter = %v, want %d", what, derefInt(got), cert.NotAfter.Unix())
	}
}

// testQuickstart builds ./quickstart and runs it the way the README tells users to: the CA
// trusted through SSL_CERT_FILE, the app in AZURE_* variables.
func testQuickstart(t *testing.T, srv *server, a app, cred azcore.TokenCredential) {
	bin := filepath.Join(t.TempDir(), "quickstart")
	buildCtx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(buildCtx, "go", "build", "-o", bin, "./quickstart").CombinedOutput(); err != nil {
		t.Fatalf("go build ./quickstart: %v\n%s", err, out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = append(cleanEnv("AZURE_", "SSL_CERT_", "IDGRAPH_"),
		"IDGRAPH_URL="+srv.origin,
		"AZURE_TENANT_ID="+a.TenantID,
		"AZURE_CLIENT_ID="+a.ClientID,
		"AZURE_CLIENT_SECRET="+a.ClientSecret,
		"SSL_CERT_FILE="+srv.caFile,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("quickstart: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	t.Logf("quickstart output:\n%s", out)
	m := regexp.MustCompile(`(?m)^created (\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("quickstart printed no %q line", "created <id>")
	}
	id := m[1]
	for _, line := range []string{"read " + id, "updated " + id, "deleted " + id} {
		if !strings.Contains(out, line) {
			t.Errorf("quickstart output lacks %q", line)
		}
	}
	// The connector it created is gone.
	client := srv.graphClient(t, cred, []string{"127.0.0.1"}, "v1.0")
	_, err := client.Identity().ApiConnectors().ByIdentityApiConnectorId(id).Get(testContext(t), nil)
	requireODataError(t, err, http.StatusNotFound, "Request_ResourceNotFound")
}

// ---------------------------------------------------------------------------------------------
// Helpers

// requireODataError checks that err is a Graph error with the status, code (if not empty) and a
// message, and that err.Error() works (the SDK's Error() panics when error.message is missing).
func requireODataError(t *testing.T, err error, status int, code string) *odataerrors.ODataError {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want a %d Graph error", status)
	}
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		t.Fatalf("error is %T, want *odataerrors.ODataError: %v", err, err)
	}
	if oe.ResponseStatusCode != status {
		t.Errorf("status = %d, want %d (%s)", oe.ResponseStatusCode, status, describe(err))
	}
	msg, panicked := safeError(err)
	if panicked != nil {
		t.Fatalf("err.Error() panicked (error.message missing from the body?): %v", panicked)
	}
	if msg == "" || odataMessage(oe) == "" {
		t.Errorf("Graph error has an empty message")
	}
	if code != "" {
		if got := odataCode(oe); got != code {
			t.Errorf("error code = %q, want %q (%s)", got, code, msg)
		}
	}
	if main := oe.GetErrorEscaped(); main != nil && main.GetInnerError() != nil {
		if deref(main.GetInnerError().GetRequestId()) == "" {
			t.Errorf("innerError.request-id is empty")
		}
	} else {
		t.Errorf("Graph error has no innerError")
	}
	return oe
}

func safeError(err error) (msg string, panicked any) {
	defer func() { panicked = recover() }()
	return err.Error(), nil
}

func odataCode(oe *odataerrors.ODataError) string {
	if main := oe.GetErrorEscaped(); main != nil {
		return deref(main.GetCode())
	}
	return ""
}

func odataMessage(oe *odataerrors.ODataError) string {
	if main := oe.GetErrorEscaped(); main != nil {
		return deref(main.GetMessage())
	}
	return ""
}

// describe formats an SDK error with its status and code when it is a Graph error.
func describe(err error) string {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		msg, panicked := safeError(err)
		if panicked != nil {
			msg = fmt.Sprintf("(Error() panicked: %v)", panicked)
		}
		return fmt.Sprintf("Graph error %d %s: %s", oe.ResponseStatusCode, odataCode(oe), msg)
	}
	return fmt.Sprintf("%T: %v", err, err)
}

func checkMasked(t *testing.T, what string, got *string, secret string) {
	t.Helper()
	s := deref(got)
	if s == "" || strings.Trim(s, "*") != "" || s == secret {
		t.Errorf("%s = %q, want a mask of asterisks", what, s)
	}
}

// makePFX returns a self-signed RSA certificate and a PKCS#12 file holding it and its key.
func makePFX(t *testing.T, password string) (*x509.Certificate, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "idgraph sdk test client"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := pkcs12.Modern2023.Encode(key, cert, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	return cert, pfx
}

func containsID(cs []models.IdentityApiConnectorable, id string) bool {
	for _, c := range cs {
		if deref(c.GetId()) == id {
			return true
		}
	}
	return false
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// serverEnv is the environment for idgraph commands: no IDGRAPH_* settings leak in from the
// caller, so the server runs with its defaults (classic profile).
func serverEnv() []string { return cleanEnv("IDGRAPH_") }

func cleanEnv(prefixes ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefInt(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
