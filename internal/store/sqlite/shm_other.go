//go:build !unix

package sqlite

// shmHeader is not mapped on this platform: the record cache is off.
type shmHeader struct{}

func mapShm(string) *shmHeader { return nil }

func (h *shmHeader) state() (walState, bool) { return walState{}, false }
