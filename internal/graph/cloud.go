package graph

import "strings"

// Cloud is the Microsoft Graph deployment a server stands in for (decision
// D8): it decides the host that @odata.context and links name, and which
// APIs exist in each version.
type Cloud string

// The national cloud deployments (spec §4.8).
const (
	CloudGlobal   Cloud = "global"   // graph.microsoft.com
	CloudUSGov    Cloud = "usgov"    // US Government L4 (GCC High): graph.microsoft.us
	CloudUSGovDoD Cloud = "usgovdod" // US Government L5 (DOD): dod-graph.microsoft.us
	CloudChina    Cloud = "china"    // operated by 21Vianet: microsoftgraph.chinacloudapi.cn
)

// ParseCloud accepts a cloud name, case-insensitively.
func ParseCloud(s string) (Cloud, error) {
	switch c := Cloud(strings.ToLower(s)); c {
	case CloudGlobal, CloudUSGov, CloudUSGovDoD, CloudChina:
		return c, nil
	}
	return "", Errorf(KindInvalid, "unknown cloud %q (want global, usgov, usgovdod or china)", s)
}

// GraphRoot is the cloud's Microsoft Graph root URL.
func (c Cloud) GraphRoot() string {
	switch c {
	case CloudUSGov:
		return "https://graph.microsoft.us"
	case CloudUSGovDoD:
		return "https://dod-graph.microsoft.us"
	case CloudChina:
		return "https://microsoftgraph.chinacloudapi.cn"
	}
	return "https://graph.microsoft.com"
}

// USGov reports the US Government clouds, where the v1.0 endpoint has only
// the deprecated identity-provider API of this slice.
func (c Cloud) USGov() bool { return c == CloudUSGov || c == CloudUSGovDoD }
