package pdf

import (
	"bytes"
	"fmt"
	"testing"
)

// tableWithRuns builds a file whose xref table lists object 1 (the
// catalog) and then one-object runs at the numbers given, in that order,
// each entry pointing at an object that says which run it came from.
func tableWithRuns(nums []uint32) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	cat := b.Len()
	b.WriteString("1 0 obj\n<</Type/Catalog>>\nendobj\n")
	offs := make([]int, len(nums))
	for i, n := range nums {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n(run %d)\nendobj\n", n, i)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 2\n0000000000 65535 f\r\n%010d 00000 n\r\n", cat)
	for i, n := range nums {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n\r\n", n, offs[i])
	}
	fmt.Fprintf(&b, "trailer\n<</Size 1000/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

// TestLookupManyRuns checks that sections with many runs, searched by
// binary search, answer as the first-listed-wins walk does: runs out of
// order, gaps, and a number listed twice.
func TestLookupManyRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		nums []uint32
		want map[uint32]string // number -> the object's content; "" for not listed
	}{
		{"few runs", []uint32{5, 3}, map[uint32]string{5: "run 0", 3: "run 1", 4: ""}},
		{"many runs out of order", []uint32{50, 10, 40, 20, 30, 60, 70, 15, 90, 80, 11, 12},
			map[uint32]string{50: "run 0", 10: "run 1", 15: "run 7", 12: "run 11", 13: "", 95: "", 2: ""}},
		{"many runs, one number twice", []uint32{50, 10, 40, 20, 30, 60, 70, 15, 90, 80, 10, 12},
			map[uint32]string{10: "run 1", 12: "run 11", 90: "run 8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tableWithRuns(tc.nums)
			r, err := NewReader(bytes.NewReader(data), int64(len(data)), nil)
			if err != nil {
				t.Fatal(err)
			}
			for num, want := range tc.want {
				o, err := r.Object(Ref{Num: num})
				if err != nil {
					t.Fatalf("object %d: %v", num, err)
				}
				got := ""
				if s, ok := o.(String); ok {
					got = string(s.Bytes)
				}
				if got != want {
					t.Errorf("object %d = %q, want %q", num, got, want)
				}
			}
		})
	}
}
