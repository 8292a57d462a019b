package verify

import (
	"testing"

	"esign/pdf"
)

// TestCacheRevisionBound puts more revision structures than the Cache may
// keep, of several sizes, and checks what it holds stays within bounds.
func TestCacheRevisionBound(t *testing.T) {
	c := NewCache(0)
	for i := 0; i < 2000; i++ {
		objects := []uint32{100, 10_000, 1 << 20}[i%3]
		rm := &roleMap{reach: newReachTable(objects), refs: &refSet{gen0: newNumberSet(objects), other: map[pdf.Ref]bool{}}}
		var key [32]byte
		key[0], key[1] = byte(i), byte(i>>8)
		c.putRoleMap(key, rm)
		if c.roleBytes > maxCachedRevisionBytes || len(c.roles) > maxCachedRevisions {
			t.Fatalf("after %d: %d revisions, %d bytes", i+1, len(c.roles), c.roleBytes)
		}
	}
	if len(c.roles) == 0 {
		t.Fatal("the cache keeps nothing")
	}
}
