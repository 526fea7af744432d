// Command quickstart uses the official Microsoft Graph Go SDK against an idgraph server: it
// creates an API connector, reads it back, renames it and deletes it.
//
//	export IDGRAPH_URL=https://127.0.0.1:9443
//	export SSL_CERT_FILE=/path/to/ca.pem   # the "CA certificate" that idgraph serve prints
//	export AZURE_TENANT_ID=... AZURE_CLIENT_ID=... AZURE_CLIENT_SECRET=...   # from idgraph app create
//	go run ./quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	msgraph "github.com/microsoftgraph/msgraph-sdk-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	base := strings.TrimSuffix(os.Getenv("IDGRAPH_URL"), "/")
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("IDGRAPH_URL must be an https URL such as https://127.0.0.1:9443, not %q", base)
	}

	// Tokens come from idgraph, which is also the authority (not login.microsoftonline.com).
	cred, err := azidentity.NewClientSecretCredential(
		os.Getenv("AZURE_TENANT_ID"), os.Getenv("AZURE_CLIENT_ID"), os.Getenv("AZURE_CLIENT_SECRET"),
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions:            azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: base + "/"}},
			DisableInstanceDiscovery: true, // required for an authority that is not Microsoft's
		})
	if err != nil {
		return err
	}

	// The SDK sends tokens only to the hosts it allows: add idgraph's host name (without the port).
	client, err := msgraph.NewGraphServiceClientWithCredentialsAndHosts(cred, nil, []string{u.Hostname()})
	if err != nil {
		return err
	}
	client.GetAdapter().SetBaseUrl(base + "/v1.0") // or base + "/beta"
	connectors := client.Identity().ApiConnectors()

	auth := models.NewBasicAuthentication()
	auth.SetUsername(new("MyUsername"))
	auth.SetPassword(new("MyPassword"))
	connector := models.NewIdentityApiConnector()
	connector.SetDisplayName(new("Test API"))
	connector.SetTargetUrl(new("https://someapi.com/api"))
	connector.SetAuthenticationConfiguration(auth)
	created, err := connectors.Post(ctx, connector, nil)
	if err != nil {
		return fmt.Errorf("create: %w", graphError(err))
	}
	id := *created.GetId()
	fmt.Println("created", id)

	item := connectors.ByIdentityApiConnectorId(id)
	got, err := item.Get(ctx, nil)
	if err != nil {
		return fmt.Errorf("read: %w", graphError(err))
	}
	fmt.Printf("read %s: %q -> %s\n", id, *got.GetDisplayName(), *got.GetTargetUrl())

	update := models.NewIdentityApiConnector()
	update.SetDisplayName(new("Test API (renamed)"))
	if _, err := item.Patch(ctx, update, nil); err != nil {
		return fmt.Errorf("update: %w", graphError(err))
	}
	fmt.Println("updated", id)

	if err := item.Delete(ctx, nil); err != nil {
		return fmt.Errorf("delete: %w", graphError(err))
	}
	fmt.Println("deleted", id)
	return nil
}

// graphError adds the HTTP status and the Graph error code to an SDK error.
func graphError(err error) error {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		if e := oe.GetErrorEscaped(); e != nil && e.GetCode() != nil && e.GetMessage() != nil {
			return fmt.Errorf("%d %s: %s", oe.ResponseStatusCode, *e.GetCode(), *e.GetMessage())
		}
	}
	return err
}
