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
// state of its header (see cache).
type shmHeader struct {
	mem []byte
}

// The wal-index header (https://www.sqlite.org/walformat.html): two
// copies of a 48-byte header in native byte order. Of its 32-bit words,
// iChange (offset 8) counts transactions, mxFrame (16) is the last valid
// frame, aFrameCksum (24, 28) the checksum of that frame and aSalt (32,
// 36) the log's salts. isInit is the byte at offset 12.
const (
	shmMapSize      = 4096
	shmChangeOffset = 8
	shmInitOffset   = 12
	shmHeaderSize   = 48
)

var shmStateOffsets = [...]uintptr{8, 16, 24, 28, 32, 36}

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

func (h *shmHeader) word(off uintptr) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&h.mem[off])))
}

// state returns the header's change counter with the log position,
// checksum and salts; ok is false while the header is not initialised or
// its two copies differ (a writer is updating it). The counter alone is
// not enough: recovering the wal-index after a crash restarts it from 0.
func (h *shmHeader) state() (walState, bool) {
	var s walState
	if h.mem[shmInitOffset] == 0 {
		return s, false
	}
	for i, off := range shmStateOffsets {
		a, b := h.word(off), h.word(shmHeaderSize+off)
		if a != b {
			return s, false
		}
		s[i] = a
	}
	return s, true
}
