//go:build unix

package sqlite

import (
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// shmHeader is a read-only mapping of the start of the database's
// wal-index (the "-shm" file SQLite maps in every connection), to read the
// change counter of its header (see cache).
type shmHeader struct {
	mem []byte
}

// The wal-index header (https://www.sqlite.org/walformat.html): two
// copies of a 48-byte header in native byte order; iChange is the 32-bit
// word at offset 8, isInit the byte at offset 12.
const (
	shmMapSize      = 4096
	shmChangeOffset = 8
	shmInitOffset   = 12
	shmHeaderSize   = 48
)

func mapShm(dbPath string) *shmHeader {
	f, err := os.Open(dbPath + "-shm")
	if err != nil {
		return nil
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || fi.Size() < shmMapSize {
		return nil
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, shmMapSize, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	h := &shmHeader{mem: mem}
	// Unmapped when the store is garbage, not at Close: a read racing
	// with Close must not touch unmapped memory.
	runtime.AddCleanup(h, func(mem []byte) { syscall.Munmap(mem) }, mem)
	return h
}

// change returns the header's change counter; ok is false while the
// header is not initialised or its two copies differ (a writer is
// updating it).
func (h *shmHeader) change() (uint32, bool) {
	first := atomic.LoadUint32((*uint32)(unsafe.Pointer(&h.mem[shmChangeOffset])))
	second := atomic.LoadUint32((*uint32)(unsafe.Pointer(&h.mem[shmHeaderSize+shmChangeOffset])))
	if h.mem[shmInitOffset] == 0 || first != second {
		return 0, false
	}
	return first, true
}
