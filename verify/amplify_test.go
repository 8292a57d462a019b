package verify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"esign/pdf/pdftest"
	"esign/verify"
)

// countingReader counts the bytes a verification reads.
type countingReader struct {
	ra io.ReaderAt
	n  atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.n.Add(int64(len(p)))
	return c.ra.ReadAt(p, off)
}

// objStmFile builds a PDF whose object stream lists n object numbers, all
// at offset 0, where one large array of references to all of them lies:
// read naively, every object parses that array again.
func objStmFile(n int) []byte {
	var hdr, arr strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&hdr, "%d 0 ", 10+i)
		fmt.Fprintf(&arr, "%d 0 R ", 10+i)
	}
	body := hdr.String() + "[" + arr.String() + "]"
	first := len(hdr.String())
	stm := pdftest.Deflate([]byte(body))
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := map[int]int{}
	obj := func(num int, s string) {
		offs[num] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", num, s)
	}
	obj(1, "<</Type/Catalog/Pages 2 0 R/AcroForm<</Fields[4 0 R]>>/DSS<</Certs 10 0 R/OCSPs 11 0 R>>>>")
	obj(2, "<</Type/Pages/Kids[3 0 R]/Count 1>>")
	obj(3, "<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]/Resources<</XObject<</X 12 0 R>>>>/Annots 13 0 R>>")
	obj(4, "<</FT/Sig/T(S)/V 5 0 R>>")
	obj(5, "<</Type/Sig/SubFilter/ETSI.CAdES.detached/ByteRange[0 10 20 5]/Contents<3082>>>")
	offs[6] = b.Len()
	fmt.Fprintf(&b, "6 0 obj\n<</Type/ObjStm/N %d/First %d/Length %d/Filter/FlateDecode>>stream\n", n, first, len(stm))
	b.Write(stm)
	b.WriteString("\nendstream\nendobj\n")
	// An xref stream: objects 1-6 in the file, 10.. in object stream 6.
	var rows bytes.Buffer
	rows.Write([]byte{0, 0, 0, 0, 0})
	for i := 1; i <= 6; i++ {
		o := offs[i]
		rows.Write([]byte{1, byte(o >> 16), byte(o >> 8), byte(o), 0})
	}
	for i := 0; i < n; i++ {
		rows.Write([]byte{2, 0, 0, 6, byte(i)})
	}
	x := b.Len()
	xr := pdftest.Deflate(rows.Bytes())
	fmt.Fprintf(&b, "7 0 obj\n<</Type/XRef/W[1 3 1]/Index[0 7 10 %d]/Size %d/Root 1 0 R/Length %d/Filter/FlateDecode>>stream\n", n, 10+n, len(xr))
	b.Write(xr)
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", x)
	return b.Bytes()
}

// sharedOffsetFile builds a PDF whose cross-reference table points n
// object numbers, which the DSS lists as certificates, at one large
// object: read naively, each parses it before finding it is another.
func sharedOffsetFile(n int) []byte {
	var refs, big strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&refs, "%d 0 R ", 10+i)
	}
	for i := 0; i < 4*n; i++ {
		big.WriteString("1 ")
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	var offs []int
	for i, o := range []string{
		"<</Type/Catalog/Pages 2 0 R/DSS<</Certs 4 0 R>>>>",
		"<</Type/Pages/Kids[3 0 R]/Count 1>>",
		minimalPage,
		"[" + refs.String() + "]",
		"[" + big.String() + "]",
	} {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 6\n0000000000 65535 f\r\n")
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "10 %d\n", n)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", offs[4])
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", 10+n, x)
	return b.Bytes()
}

// amplificationBound is how many times its own size verifying one of the
// files below may read or allocate: a small constant, where naive reading
// costs the square of the file.
const amplificationBound = 200

// TestAmplification feeds small files built so that naive reading costs
// the square of their size, and checks that a verification reads a
// bounded multiple of the file, with a verdict.
func TestAmplification(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"object stream with one offset for every object", objStmFile(4000)},
		{"thousands of numbers at the offset of one large object", sharedOffsetFile(3000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr := &countingReader{ra: bytes.NewReader(tc.data)}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			rep, err := verify.Verify(context.Background(), cr, int64(len(tc.data)), verify.Config{})
			runtime.ReadMemStats(&after)
			switch {
			case err != nil && !errors.Is(err, verify.ErrNotPDF):
				t.Errorf("error %v, want a report or ErrNotPDF", err)
			case err == nil && rep.Document.Indication == verify.TotalPassed:
				t.Errorf("document passed: %s", dump(rep))
			}
			// Allocation stands for the work: parsing allocates as it
			// goes, so reading a thing again shows, and no clock is asked.
			allocated := int64(after.TotalAlloc - before.TotalAlloc)
			t.Logf("%d bytes: %d read, %d allocated", len(tc.data), cr.n.Load(), allocated)
			if max := int64(len(tc.data)) * amplificationBound; allocated > max {
				t.Errorf("verifying %d bytes allocated %d, more than %d times the file", len(tc.data), allocated, amplificationBound)
			}
			if read := cr.n.Load(); read > int64(len(tc.data))*amplificationBound {
				t.Errorf("verifying %d bytes read %d, more than %d times the file", len(tc.data), read, amplificationBound)
			}
		})
	}
}
