package blob

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzValidKey: no key ValidKey accepts can leave Dir's root, name a
// temporary file, or need cleaning, so the key is the file's path as is.
func FuzzValidKey(f *testing.F) {
	for _, s := range []string{"batch-123/doc-00001.pdf", "a", "../x", "a/../../b", "a/./b", "/etc/passwd",
		"a//b", "a/", "...", "a\\..\\b", "~put-1.tmp", "a\x00b", "C:x", strings.Repeat("a/", 128)} {
		f.Add(s)
	}
	const root = "/srv/esign/blobs"
	f.Fuzz(func(t *testing.T, key string) {
		if ValidKey(key) != nil {
			return
		}
		if len(key) == 0 || len(key) > MaxKeyLen {
			t.Fatalf("accepted %q of length %d", key, len(key))
		}
		if path.Clean(key) != key || filepath.Clean(key) != key || !filepath.IsLocal(key) {
			t.Fatalf("accepted %q, which is not a clean local path", key)
		}
		p := filepath.Join(root, filepath.FromSlash(key))
		if !strings.HasPrefix(p, root+"/") {
			t.Fatalf("accepted %q, which leaves the root: %s", key, p)
		}
		if rel, err := filepath.Rel(root, p); err != nil || filepath.ToSlash(rel) != key {
			t.Fatalf("accepted %q, which is %q under the root (%v)", key, rel, err)
		}
		for seg := range strings.SplitSeq(key, "/") {
			if seg == "." || seg == ".." || len(seg) > maxSegmentLen || strings.HasPrefix(seg, tempPrefix) {
				t.Fatalf("accepted %q with segment %q", key, seg)
			}
			if strings.ContainsAny(seg, "\\\x00~:") {
				t.Fatalf("accepted %q with segment %q", key, seg)
			}
		}
		if ValidKey(key+"/x") == nil && validPrefixOK(key+"/") != key {
			t.Fatalf("prefix %q not accepted as the directory %q", key+"/", key)
		}
	})
}

func validPrefixOK(prefix string) string {
	dir, err := validPrefix(prefix)
	if err != nil {
		return ""
	}
	return dir
}
